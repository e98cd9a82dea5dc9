package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.SchemaRegistryException;
import dev.cdcmigrator.avro.V2AvroWriter;
import dev.cdcmigrator.avro.V2Catalog;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TargetSpec;
import dev.cdcmigrator.common.spec.V2Format;
import dev.cdcmigrator.transform.V2Serializers;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.StreamPartitioner;

/**
 * Avro v2 topics ({@code kafka.v2Format: avro}): each sink node turns the JSON form the map processors give into
 * Confluent-framed Avro with {@link V2AvroWriter} (a {@code Key} record as the key, an {@code Envelope} as the value,
 * schemas registered under {@code <topic>-key} and {@code <topic>-value}). Reading the JSON back costs a parse per
 * record; in exchange the map processors, their stores and their tests do not depend on the format.
 */
public final class AvroV2Serializers implements V2Serializers {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);

    /**
     * Kafka's default partitioning (murmur2 of the key bytes) applied to the JSON key, not to the Avro one: the Avro
     * key carries its schema id, so a new key schema would move every key to another partition, and a key whose
     * changes sit in two partitions can be applied out of order.
     */
    private static final StreamPartitioner<byte[], byte[]> BY_JSON_KEY = (topic, key, value, partitions) ->
            Optional.of(Set.of(Utils.toPositive(Utils.murmur2(key)) % partitions));

    private final V2AvroWriter writer;

    public AvroV2Serializers(V2AvroWriter writer) {
        this.writer = writer;
    }

    /**
     * The serializers of {@code spec}'s v2 topics: a registry client from {@code kafka.schemaRegistry}, and the
     * columns of every v2 table the spec writes read from the target now, so that a missing table fails the start.
     *
     * @throws IllegalArgumentException if a v2 table does not exist
     * @throws IllegalStateException if the target's catalog cannot be read
     */
    public static AvroV2Serializers of(Spec spec) {
        if (spec.kafka().v2Format() != V2Format.AVRO) {
            throw new IllegalArgumentException("the spec's v2Format is " + spec.kafka().v2Format().text() + ", not avro");
        }
        SchemaRegistryClient client = new SchemaRegistryClient(RegistryConfig.from(spec.kafka().schemaRegistry().clientConfigs()));
        TargetSpec target = spec.target();
        V2Catalog catalog = V2Catalog.of(target.url(), target.user(), target.password(), target.schema());
        Map<String, ? extends Set<String>> written = spec.v2Columns();
        written.keySet().forEach(catalog::columns);
        return new AvroV2Serializers(new V2AvroWriter(client, catalog, written));
    }

    @Override
    public V2Format format() {
        return V2Format.AVRO;
    }

    @Override
    public Serializer<byte[]> key(String table) {
        return (topic, json) -> json == null ? null : stopUnlessWritable(() -> writer.key(topic, table, readKey(topic, json)));
    }

    @Override
    public Serializer<byte[]> value(String table) {
        return (topic, json) -> json == null ? null : stopUnlessWritable(() -> writer.value(topic, V2.deserialize(topic, json)));
    }

    /**
     * Writes, turning what makes the v2 topic unwritable (the registry refusing a schema or out of reach, the v2
     * catalog unreadable) into {@link V2TopicUnwritableError}, which stops the transform. A value the schema cannot
     * hold ({@link dev.cdcmigrator.avro.AvroConversionException}) stays an exception: {@link V2DeadLetterHandler}
     * dead-letters that one change.
     */
    private static byte[] stopUnlessWritable(Supplier<byte[]> write) {
        try {
            return write.get();
        } catch (SchemaRegistryException | IllegalStateException e) {
            throw new V2TopicUnwritableError(e);
        }
    }

    @Override
    public StreamPartitioner<byte[], byte[]> partitioner() {
        return BY_JSON_KEY;
    }

    private static ObjectNode readKey(String topic, byte[] json) {
        try {
            JsonNode key = Json.MAPPER.readTree(json);
            if (key instanceof ObjectNode object) {
                return object;
            }
        } catch (IOException e) {
            throw new SerializationException("topic " + topic + ": the v2 key is not JSON: " + e.getMessage(), e);
        }
        throw new SerializationException("topic " + topic + ": the v2 key is not a JSON object");
    }
}
