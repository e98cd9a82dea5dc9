package dev.cdcmigrator.capture.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.json.JsonConverterConfig;

/**
 * Writes a Connect key or value as Debezium's JSON converter does with schemas enabled ({@code {"schema": ...,
 * "payload": ...}}), byte for byte, but serializes each distinct schema once: the converter renders the schema tree
 * into every record, and the schema is most of a change record's bytes (3.2 of 4 KB for a typical update), which made
 * it the largest single cost of capture. Not thread-safe: one per Debezium batch handler.
 */
final class DebeziumJson {

    private static final byte[] HEAD = "{\"schema\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] MIDDLE = ",\"payload\":".getBytes(StandardCharsets.UTF_8);
    private static final int MAX_SCHEMAS = 4096;

    private final JsonConverter enveloped = new JsonConverter();
    private final JsonConverter payloads = new JsonConverter();
    /** By identity: Debezium builds a table's schemas once per schema version and reuses the instances. */
    private final Map<Schema, byte[]> schemas = new IdentityHashMap<>();

    /**
     * @param converterConfig the JSON converter's settings as Debezium gets them (its {@code converter.} properties
     *                        without the prefix); schemas are always enabled
     * @param isKey whether this writes keys
     */
    DebeziumJson(Map<String, ?> converterConfig, boolean isKey) {
        Map<String, Object> config = new HashMap<>(converterConfig);
        config.put(JsonConverterConfig.SCHEMAS_ENABLE_CONFIG, true);
        enveloped.configure(config, isKey);
        config.put(JsonConverterConfig.SCHEMAS_ENABLE_CONFIG, false);
        payloads.configure(config, isKey);
    }

    /** What Debezium's JSON converter with schemas enabled writes for this key or value. */
    byte[] write(String topic, Schema schema, Object value) {
        if (schema == null) {
            return enveloped.fromConnectData(topic, null, value);
        }
        byte[] schemaBytes = schemas.get(schema);
        if (schemaBytes == null) {
            byte[] whole = enveloped.fromConnectData(topic, schema, value);
            schemaBytes = schemaOf(whole, payloads.fromConnectData(topic, schema, value));
            if (schemaBytes == null) {
                // Not the envelope's shape (a converter version that writes it differently): its own output is right.
                return whole;
            }
            if (schemas.size() >= MAX_SCHEMAS) {
                schemas.clear();
            }
            schemas.put(schema, schemaBytes);
            return whole;
        }
        byte[] payload = payloads.fromConnectData(topic, schema, value);
        byte[] out = new byte[HEAD.length + schemaBytes.length + MIDDLE.length + payload.length + 1];
        int at = put(out, 0, HEAD);
        at = put(out, at, schemaBytes);
        at = put(out, at, MIDDLE);
        at = put(out, at, payload);
        out[at] = '}';
        return out;
    }

    /** The schema's bytes in {@code whole} if it is exactly {@code {"schema":<schema>,"payload":<payload>}}, else null. */
    private static byte[] schemaOf(byte[] whole, byte[] payload) {
        int schemaEnd = whole.length - 1 - payload.length - MIDDLE.length;
        if (schemaEnd <= HEAD.length || whole[whole.length - 1] != '}'
                || !Arrays.equals(whole, 0, HEAD.length, HEAD, 0, HEAD.length)
                || !Arrays.equals(whole, schemaEnd, schemaEnd + MIDDLE.length, MIDDLE, 0, MIDDLE.length)
                || !Arrays.equals(whole, schemaEnd + MIDDLE.length, whole.length - 1, payload, 0, payload.length)) {
            return null;
        }
        return Arrays.copyOfRange(whole, HEAD.length, schemaEnd);
    }

    private static int put(byte[] out, int at, byte[] part) {
        System.arraycopy(part, 0, out, at, part.length);
        return at + part.length;
    }
}
