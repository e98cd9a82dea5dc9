package dev.cdcmigrator.avro;

import dev.cdcmigrator.common.event.V2Change;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.errors.SerializationException;

/**
 * Reads the values of Avro v2 topics ({@link V2AvroWriter}) back into {@link V2Change}s, the form the sink applies:
 * each record with the schema it was written with (fetched from the registry by the id in the record, cached), so
 * that a change carries exactly the columns its record has, whichever version of the subject wrote it and whatever
 * the v2 table looks like now. Values come back in PostgreSQL's text input form ({@link V2AvroConverter}). Thread-safe.
 */
public final class V2AvroReader {

    private final ConfluentAvroDeserializer values;
    private final Map<Schema, V2AvroConverter> converters = new ConcurrentHashMap<>();

    public V2AvroReader(SchemaRegistryClient client) {
        this.values = new ConfluentAvroDeserializer(client, false, null);
    }

    /**
     * The change a record value of {@code topic} holds.
     *
     * @throws SchemaRegistryException if the writer schema cannot be fetched (registry unreachable, unknown id)
     * @throws SerializationException if the bytes are not a framed Avro record of their schema
     * @throws AvroConversionException if the record is not a v2 change envelope or a value is not of its column's type
     */
    public V2Change value(String topic, byte[] value) {
        GenericRecord envelope = values.deserialize(topic, value);
        if (envelope == null) {
            throw new SerializationException("topic " + topic + ": a record without a value is not a v2 change");
        }
        Object table = envelope.getSchema().getField("table") == null ? null : envelope.get("table");
        if (table == null) {
            throw new AvroConversionException(null, "topic " + topic + ": record " + envelope.getSchema().getFullName()
                    + " is not a v2 change envelope (no table)");
        }
        V2AvroConverter converter = converters.computeIfAbsent(envelope.getSchema(), schema -> {
            try {
                return new V2AvroConverter(V2TableSchema.ofEnvelope(schema, table.toString()));
            } catch (IllegalArgumentException e) {
                throw new AvroConversionException(null, "topic " + topic + ": " + e.getMessage(), e);
            }
        });
        return converter.fromAvro(envelope);
    }
}
