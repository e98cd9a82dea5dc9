package dev.cdcmigrator.sink.internal;

import dev.cdcmigrator.avro.SchemaRegistryException;
import dev.cdcmigrator.avro.V2AvroReader;
import dev.cdcmigrator.avro.WireFormat;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;

/**
 * Reads the records of the v2 topics: a {@code V2Change} as JSON (the default format), or Avro in Confluent's wire
 * format (its first byte is the magic byte 0, which no JSON text starts with) through the spec's schema registry.
 * Both are read whatever {@code kafka.v2Format} says now, so a topic holding both (the format was changed during the
 * migration, or a dead letter was replayed as JSON into an Avro topic) is applied in order.
 */
public final class V2Decoder {

    private static final JsonSerde<V2Change> JSON = JsonSerde.of(V2Change.class);

    private final V2AvroReader avro;

    /** @param avro reads Avro records; null when the spec names no schema registry */
    public V2Decoder(V2AvroReader avro) {
        this.avro = avro;
    }

    /** Whether a record value is Avro in Confluent's wire format rather than JSON. */
    public static boolean isAvro(byte[] value) {
        return value != null && value.length > 0 && value[0] == WireFormat.MAGIC_BYTE;
    }

    /**
     * The change a record of {@code topic} holds.
     *
     * @throws SchemaRegistryException if the registry cannot give the record's schema (see {@link #isTransient})
     * @throws IllegalStateException if the record is Avro and the spec names no schema registry
     * @throws RuntimeException if the record is not a v2 change (for a dead letter)
     */
    public V2Change decode(String topic, byte[] value) {
        if (!isAvro(value)) {
            return JSON.deserialize(topic, value);
        }
        if (avro == null) {
            throw new IllegalStateException("topic " + topic + " holds Avro records (Confluent wire format) but the spec has"
                    + " no kafka.schemaRegistry to read them with: set it to the registry they were written with");
        }
        return avro.value(topic, value);
    }

    /**
     * Whether a registry failure may pass by itself (unreachable, overloaded, a server error), so that the batch is
     * retried; any other (credentials refused, a schema id it does not know) stops the sink: dead-lettering every
     * record it cannot read would skip changes.
     */
    public static boolean isTransient(SchemaRegistryException e) {
        return e.status() == -1 || e.status() == 408 || e.status() == 429 || e.status() >= 500;
    }
}
