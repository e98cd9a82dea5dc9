package dev.cdcmigrator.avro;

import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/** {@link ConfluentAvroSerializer} and {@link ConfluentAvroDeserializer} as one Kafka (Streams) serde. */
public class ConfluentAvroSerde implements Serde<GenericRecord> {

    private final ConfluentAvroSerializer serializer;
    private final ConfluentAvroDeserializer deserializer;

    /** For Kafka's configuration by class name; {@link #configure(Map, boolean)} must follow. */
    public ConfluentAvroSerde() {
        this.serializer = new ConfluentAvroSerializer();
        this.deserializer = new ConfluentAvroDeserializer();
    }

    /** A serde of keys or values sharing {@code client}; {@code readerSchema} as in {@link ConfluentAvroDeserializer}. */
    public ConfluentAvroSerde(SchemaRegistryClient client, boolean isKey, Schema readerSchema) {
        this.serializer = new ConfluentAvroSerializer(client, isKey);
        this.deserializer = new ConfluentAvroDeserializer(client, isKey, readerSchema);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        serializer.configure(configs, isKey);
        deserializer.configure(configs, isKey);
    }

    @Override
    public Serializer<GenericRecord> serializer() {
        return serializer;
    }

    @Override
    public Deserializer<GenericRecord> deserializer() {
        return deserializer;
    }
}
