package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.common.spec.V2Format;
import dev.cdcmigrator.transform.V2Serializers;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.StreamPartitioner;

/** JSON v2 topics: the map processors' bytes as they are, partitioned by Kafka's default. */
public final class JsonV2Serializers implements V2Serializers {

    public static final JsonV2Serializers INSTANCE = new JsonV2Serializers();
    private static final ByteArraySerializer BYTES = new ByteArraySerializer();

    private JsonV2Serializers() {
    }

    @Override
    public V2Format format() {
        return V2Format.JSON;
    }

    @Override
    public Serializer<byte[]> key(String table) {
        return BYTES;
    }

    @Override
    public Serializer<byte[]> value(String table) {
        return BYTES;
    }

    @Override
    public StreamPartitioner<byte[], byte[]> partitioner() {
        return null;
    }
}
