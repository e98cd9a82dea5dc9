package dev.cdcmigrator.transform;

import dev.cdcmigrator.common.spec.V2Format;
import dev.cdcmigrator.transform.internal.JsonV2Serializers;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.StreamPartitioner;

/**
 * How the sink nodes {@code v2-<table>} of {@link TransformTopology} write the v2 topics. The map processors hand them
 * every change in its JSON form (key: the v2 key as JSON, value: the {@code V2Change} as JSON), whatever the format,
 * so that choosing the format changes only these nodes; {@link #json()} writes that form as it is.
 */
public interface V2Serializers {

    /** The format these serializers write. */
    V2Format format();

    /** The key serializer of the sink node of v2 table {@code table}; it gets the v2 key as JSON bytes. */
    Serializer<byte[]> key(String table);

    /** The value serializer of the sink node of v2 table {@code table}; it gets the {@code V2Change} as JSON bytes. */
    Serializer<byte[]> value(String table);

    /**
     * The partition of each record, or null for Kafka's default (murmur2 of the serialized key). A format other than
     * JSON partitions by the JSON key all the same, so a key stays on its partition when the format changes.
     */
    StreamPartitioner<byte[], byte[]> partitioner();

    /** The v2 topics as JSON ({@link V2Format#JSON}): the bytes the map processors give, no registry. */
    static V2Serializers json() {
        return JsonV2Serializers.INSTANCE;
    }
}
