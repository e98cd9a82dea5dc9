package dev.cdcmigrator.capture.internal;

import dev.cdcmigrator.common.event.SchemaReferences;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.json.JsonConverterConfig;

/**
 * Writes a Connect key or value as Debezium's JSON converter does, with its schema kept apart: the payload as the
 * converter writes it with schemas disabled, and the schema's bytes as the converter with schemas enabled renders
 * them, serialized and identified ({@link SchemaReferences#id}) once per distinct schema. The schema is most of a
 * change record's bytes (3.2 of 4 KB for a typical update); capture sends it inline only once per partition (see
 * {@link SchemaReferences}). Not thread-safe: one per Debezium batch handler.
 */
final class DebeziumJson {

    private static final byte[] HEAD = "{\"schema\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] MIDDLE = ",\"payload\":".getBytes(StandardCharsets.UTF_8);
    private static final int MAX_SCHEMAS = 4096;

    /** A schema as it appears inline, and its id. */
    record KnownSchema(byte[] bytes, String id) {
    }

    /**
     * A key or value written.
     *
     * @param bytes the payload alone when {@code schema} is known; else the converter's whole output (for a value
     *              without a schema, or a converter that writes the envelope in another shape), null for null
     * @param schema the schema kept apart, null when {@code bytes} is the whole output
     */
    record Written(byte[] bytes, KnownSchema schema) {

        /** The key or value with its schema inline: exactly what Debezium's converter with schemas enabled writes. */
        byte[] inline() {
            return schema == null ? bytes : SchemaReferences.inline(schema.bytes(), bytes);
        }
    }

    private final JsonConverter enveloped = new JsonConverter();
    private final JsonConverter payloads = new JsonConverter();
    /** By identity: Debezium builds a table's schemas once per schema version and reuses the instances. */
    private final Map<Schema, KnownSchema> schemas = new IdentityHashMap<>();

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

    /** This key or value, its schema kept apart. */
    Written write(String topic, Schema schema, Object value) {
        if (schema == null) {
            return new Written(enveloped.fromConnectData(topic, null, value), null);
        }
        byte[] payload = payloads.fromConnectData(topic, schema, value);
        KnownSchema known = schemas.get(schema);
        if (known == null) {
            byte[] whole = enveloped.fromConnectData(topic, schema, value);
            int schemaEnd = schemaEnd(whole, payload);
            if (schemaEnd < 0) {
                // Not the envelope's shape (a converter version that writes it differently): its own output is right.
                return new Written(whole, null);
            }
            known = new KnownSchema(Arrays.copyOfRange(whole, HEAD.length, schemaEnd),
                    SchemaReferences.id(whole, HEAD.length, schemaEnd));
            if (schemas.size() >= MAX_SCHEMAS) {
                schemas.clear();
            }
            schemas.put(schema, known);
        }
        return new Written(payload, known);
    }

    /** Where the schema ends in {@code whole} if it is exactly {@code {"schema":<schema>,"payload":<payload>}}, else -1. */
    private static int schemaEnd(byte[] whole, byte[] payload) {
        int schemaEnd = whole.length - 1 - payload.length - MIDDLE.length;
        if (schemaEnd <= HEAD.length || whole[whole.length - 1] != '}'
                || !Arrays.equals(whole, 0, HEAD.length, HEAD, 0, HEAD.length)
                || !Arrays.equals(whole, schemaEnd, schemaEnd + MIDDLE.length, MIDDLE, 0, MIDDLE.length)
                || !Arrays.equals(whole, schemaEnd + MIDDLE.length, whole.length - 1, payload, 0, payload.length)) {
            return -1;
        }
        return schemaEnd;
    }
}
