package dev.cdcmigrator.avro;

import dev.cdcmigrator.avro.internal.AvroData;
import dev.cdcmigrator.avro.internal.Compatibility;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A Kafka serializer of Avro GenericRecords in Confluent's wire format ({@link WireFormat}), registering or looking up
 * the record's schema under {@code <topic>-key} / {@code <topic>-value} with a {@link SchemaRegistryClient}. What it
 * writes is what Confluent's {@code KafkaAvroSerializer} writes for the same record and schema id, byte for byte.
 *
 * <p>Configured by class name with Confluent's keys ({@link RegistryConfig}), or constructed with a shared client.
 * Record values may be Avro's plain representations or the logical-type objects (BigDecimal, Instant, ...). Null
 * serializes to null (a tombstone).
 */
public class ConfluentAvroSerializer implements Serializer<GenericRecord> {

    private SchemaRegistryClient client;
    private boolean isKey;
    private final Map<Schema, GenericDatumWriter<Object>> writers = new ConcurrentHashMap<>();

    /** For Kafka's configuration by class name; {@link #configure(Map, boolean)} must follow. */
    public ConfluentAvroSerializer() {
    }

    /** A serializer of keys ({@code isKey}) or values using {@code client}; needs no {@link #configure(Map, boolean)}. */
    public ConfluentAvroSerializer(SchemaRegistryClient client, boolean isKey) {
        this.client = client;
        this.isKey = isKey;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        this.client = SchemaRegistryClient.create(configs);
    }

    @Override
    public byte[] serialize(String topic, GenericRecord record) {
        if (record == null) {
            return null;
        }
        if (client == null) {
            throw new IllegalStateException("ConfluentAvroSerializer is not configured (schema.registry.url)");
        }
        String subject = RegistryConfig.subject(topic, isKey);
        RegistryConfig config = client.config();
        Schema schema = record.getSchema();
        Object datum = record;
        int id;
        if (config.useLatestVersion() && !config.autoRegister()) {
            RegisteredSchema latest = client.latestVersion(subject);
            if (!latest.schema().equals(schema)) {
                if (config.latestCompatibilityStrict()) {
                    SchemaCompatibility.SchemaPairCompatibility compatibility =
                            SchemaCompatibility.checkReaderWriterCompatibility(latest.schema(), schema);
                    if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                        throw new SerializationException("subject '" + subject + "': the latest version (id " + latest.id()
                                + ") cannot read records of schema " + schema.getFullName() + " (" + compatibility.getDescription()
                                + "); use.latest.version needs it to, or set latest.compatibility.strict=false");
                    }
                }
                datum = resolve(record, latest.schema(), subject);
            }
            schema = latest.schema();
            id = latest.id();
        } else if (config.autoRegister()) {
            try {
                id = client.register(subject, schema);
            } catch (IncompatibleSchemaException e) {
                throw explained(e, subject, schema);
            }
        } else {
            try {
                id = client.lookup(subject, schema).id();
            } catch (SchemaRegistryException e) {
                if (e.isNotFound()) {
                    throw new SchemaRegistryException("subject '" + subject + "' does not have schema " + schema.getFullName()
                            + " and auto.register.schemas is false: register it first. " + e.getMessage(),
                            e.status(), e.errorCode(), subject, e);
                }
                throw e;
            }
        }
        return encode(topic, id, schema, datum);
    }

    /** The registry's refusal with what exactly the new schema cannot read, in field names, when that can be found. */
    private IncompatibleSchemaException explained(IncompatibleSchemaException refusal, String subject, Schema schema) {
        List<String> reasons;
        try {
            reasons = Compatibility.explain(schema, client.fetchLatest(subject).schema());
        } catch (RuntimeException e) {
            return refusal;
        }
        if (reasons.isEmpty()) {
            return refusal;
        }
        return new IncompatibleSchemaException(refusal.getMessage() + ". Against the latest version: "
                + String.join("; ", reasons), refusal.errorCode(), subject, refusal);
    }

    private byte[] encode(String topic, int id, Schema schema, Object datum) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        out.write(WireFormat.MAGIC_BYTE);
        out.writeBytes(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            writers.computeIfAbsent(schema, s -> new GenericDatumWriter<>(s, AvroData.WITH_CONVERSIONS)).write(datum, encoder);
            encoder.flush();
        } catch (IOException | AvroRuntimeException | ClassCastException | NullPointerException e) {
            throw new SerializationException("cannot write a " + schema.getFullName() + " record for topic " + topic
                    + " with schema id " + id + ": " + e, e);
        }
        return out.toByteArray();
    }

    /** The record as a record of {@code target}, by Avro's schema resolution (fields matched by name, defaults filled). */
    private static Object resolve(GenericRecord record, Schema target, String subject) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            new GenericDatumWriter<>(record.getSchema(), AvroData.WITH_CONVERSIONS).write(record, encoder);
            encoder.flush();
            return new GenericDatumReader<>(record.getSchema(), target, AvroData.PLAIN)
                    .read(null, DecoderFactory.get().binaryDecoder(out.toByteArray(), null));
        } catch (IOException | AvroRuntimeException e) {
            throw new SerializationException("subject '" + subject + "': cannot write the record with the latest version: " + e, e);
        }
    }

    @Override
    public void close() {
        // the HTTP client holds no resources that need closing on Java 17
    }
}
