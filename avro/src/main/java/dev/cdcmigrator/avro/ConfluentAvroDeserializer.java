package dev.cdcmigrator.avro;

import dev.cdcmigrator.avro.internal.AvroData;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * A Kafka deserializer of Confluent's wire format ({@link WireFormat}) to Avro GenericRecords: the writer schema is
 * fetched by the id in the record (and cached). Without a reader schema records come back in their writer schema, as
 * Confluent's {@code KafkaAvroDeserializer} returns them; with one (e.g. the current {@link V2TableSchema}), Avro's
 * schema resolution turns records of every compatible version into that shape. Logical types come back as Avro's
 * plain representations unless {@code avro.use.logical.type.converters=true}. Null bytes deserialize to null.
 */
public class ConfluentAvroDeserializer implements Deserializer<GenericRecord> {

    private SchemaRegistryClient client;
    private boolean isKey;
    private Schema readerSchema;
    private final Map<Integer, GenericDatumReader<GenericRecord>> readers = new ConcurrentHashMap<>();

    /** For Kafka's configuration by class name; {@link #configure(Map, boolean)} must follow. */
    public ConfluentAvroDeserializer() {
    }

    /**
     * A deserializer of keys ({@code isKey}) or values using {@code client}.
     *
     * @param readerSchema the schema to resolve every record to, or null to return records in their writer schema
     */
    public ConfluentAvroDeserializer(SchemaRegistryClient client, boolean isKey, Schema readerSchema) {
        this.client = client;
        this.isKey = isKey;
        this.readerSchema = readerSchema;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        this.client = SchemaRegistryClient.create(configs);
    }

    @Override
    public GenericRecord deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (client == null) {
            throw new IllegalStateException("ConfluentAvroDeserializer is not configured (schema.registry.url)");
        }
        int id;
        try {
            id = WireFormat.schemaId(data);
        } catch (SerializationException e) {
            throw new SerializationException("topic " + topic + ": " + e.getMessage(), e);
        }
        String subject = RegistryConfig.subject(topic, isKey);
        GenericDatumReader<GenericRecord> reader = readers.computeIfAbsent(id, i -> {
            Schema writer = client.schemaById(i, subject);
            return new GenericDatumReader<>(writer, readerSchema == null ? writer : readerSchema,
                    client.config().useLogicalTypeConverters() ? AvroData.WITH_CONVERSIONS : AvroData.PLAIN);
        });
        try {
            return reader.read(null, DecoderFactory.get().binaryDecoder(data, WireFormat.HEADER_SIZE,
                    data.length - WireFormat.HEADER_SIZE, null));
        } catch (IOException | AvroRuntimeException | ClassCastException e) {
            throw new SerializationException("topic " + topic + ": cannot read a record with schema id " + id
                    + (readerSchema == null ? "" : " as " + readerSchema.getFullName()) + ": " + e, e);
        }
    }

    @Override
    public void close() {
        // nothing to release
    }
}
