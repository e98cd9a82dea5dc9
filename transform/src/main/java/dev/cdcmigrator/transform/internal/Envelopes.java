package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads Debezium's JSON envelopes ({@code {"schema": ..., "payload": ...}}), and payloads whose schema a header names
 * ({@link SchemaReferences}). The schema is most of an envelope's bytes (3.2 of 4 KB for a typical update) and the
 * same for every change of a table, so it is parsed once per distinct schema. An envelope as Debezium's converter writes it (schema first, then payload, no whitespace) whose schema bytes
 * are known is recognised by comparing bytes, without tokenizing the schema; any other layout is tokenized, its schema
 * recognised by its bytes. The payload is read as a tree.
 */
final class Envelopes {

    /** The decoding facts of one row struct (a key, or an envelope's before or after). */
    record RowSchema(Map<String, String> semanticTypes, Set<String> jsonColumns, Map<String, String> columnTypes) {

        static final RowSchema NONE = new RowSchema(Map.of(), Set.of(), Map.of());

        static RowSchema of(JsonNode struct) {
            if (struct == null || struct.isMissingNode() || struct.isNull()) {
                return NONE;
            }
            Map<String, String> semantic = new HashMap<>();
            Set<String> json = new HashSet<>();
            Map<String, String> types = new HashMap<>();
            for (JsonNode field : struct.path("fields")) {
                String column = field.path("field").asText();
                String name = field.hasNonNull("name") ? field.get("name").asText() : null;
                semantic.put(column, name != null ? name : field.path("type").asText());
                if ("io.debezium.data.Json".equals(name)) {
                    json.add(column);
                }
                types.put(column, field.path("type").asText() + (name == null ? "" : "/" + name));
            }
            return new RowSchema(Map.copyOf(semantic), Collections.unmodifiableSet(json), Map.copyOf(types));
        }
    }

    /** What a schema says, computed once: the schema itself as a struct, and its before and after fields. */
    record Schema(RowSchema struct, RowSchema before, RowSchema after) {

        static Schema of(JsonNode schema) {
            return new Schema(RowSchema.of(schema), RowSchema.of(field(schema, "before")), RowSchema.of(field(schema, "after")));
        }

        private static JsonNode field(JsonNode schema, String name) {
            for (JsonNode f : schema.path("fields")) {
                if (name.equals(f.path("field").asText())) {
                    return f;
                }
            }
            return null;
        }
    }

    /**
     * An envelope read: its schema (null without a schema) and its payload (null without one); or the rows the copy
     * backfill sent ({@link dev.cdcmigrator.common.event.BackfilledRow}, null otherwise).
     */
    record Envelope(KnownSchema known, JsonNode payload, List<BackfilledRow> backfilled) {

        /** What the schema says, null without one. */
        Schema schema() {
            return known == null ? null : known.schema();
        }
    }

    /**
     * A schema as its JSON bytes, what it says, and its id ({@link SchemaReferences#id}): computed once per distinct
     * schema, however many records carry or name it.
     */
    record KnownSchema(byte[] bytes, Schema schema, String id) {
    }

    private static final int MAX_SCHEMAS = 4096;
    private static final byte[] HEAD = "{\"schema\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] MIDDLE = ",\"payload\":".getBytes(StandardCharsets.UTF_8);
    private static final Map<Integer, KnownSchema[]> SCHEMAS = new ConcurrentHashMap<>();
    /** Every schema in {@link #SCHEMAS}, for the comparison of an envelope's bytes; replaced, never changed. */
    private static volatile KnownSchema[] allSchemas = new KnownSchema[0];

    private Envelopes() {
    }

    /**
     * Reads an envelope.
     *
     * @throws MappingException when the bytes are not a JSON object
     */
    static Envelope read(byte[] bytes) {
        Envelope direct = readKnownLayout(bytes);
        return direct != null ? direct : readAnyLayout(bytes);
    }

    /** The envelope if it is {@code {"schema":<known schema>,"payload":<one JSON value>}} exactly, else null. */
    private static Envelope readKnownLayout(byte[] bytes) {
        if (!Arrays.equals(bytes, 0, Math.min(HEAD.length, bytes.length), HEAD, 0, HEAD.length) || bytes[bytes.length - 1] != '}') {
            return null;
        }
        for (KnownSchema cached : allSchemas) {
            int schemaEnd = HEAD.length + cached.bytes().length;
            int payloadStart = schemaEnd + MIDDLE.length;
            if (payloadStart < bytes.length && bytes[schemaEnd] == ','
                    && Arrays.equals(bytes, HEAD.length, schemaEnd, cached.bytes(), 0, cached.bytes().length)
                    && Arrays.equals(bytes, schemaEnd, payloadStart, MIDDLE, 0, MIDDLE.length)) {
                try (JsonParser parser = Json.MAPPER.createParser(bytes, payloadStart, bytes.length - 1 - payloadStart)) {
                    JsonNode payload = Json.MAPPER.readTree(parser);
                    // Anything after the payload's value is not this layout; the general reader decides what it is.
                    return parser.nextToken() == null ? new Envelope(cached, payload, null) : null;
                } catch (IOException e) {
                    return null;
                }
            }
        }
        return null;
    }

    /**
     * Reads a key or value that carries its payload alone ({@link SchemaReferences}), with the schema its header names.
     *
     * @throws MappingException when the bytes are not JSON
     */
    static Envelope readPayload(byte[] bytes, KnownSchema schema) {
        try {
            return new Envelope(schema, Json.MAPPER.readTree(bytes), null);
        } catch (IOException e) {
            throw new MappingException(null, "not JSON: " + e.getMessage());
        }
    }

    /** The schema whose JSON bytes these are, as an envelope carrying it inline would be read. */
    static KnownSchema known(byte[] schema) {
        try {
            return schema(schema, 0, schema.length);
        } catch (IOException e) {
            throw new MappingException(null, "a stored schema is not JSON: " + e.getMessage());
        }
    }

    private static Envelope readAnyLayout(byte[] bytes) {
        KnownSchema schema = null;
        JsonNode payload = null;
        List<BackfilledRow> backfilled = null;
        try (JsonParser parser = Json.MAPPER.createParser(bytes)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new MappingException(null, "not a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if ("schema".equals(name) && value == JsonToken.START_OBJECT) {
                    int start = (int) parser.currentTokenLocation().getByteOffset();
                    parser.skipChildren();
                    int end = (int) parser.currentTokenLocation().getByteOffset() + 1;
                    schema = schema(bytes, start, end);
                } else if ("payload".equals(name)) {
                    payload = Json.MAPPER.readTree(parser);
                } else if (BackfilledRow.FIELD.equals(name)) {
                    backfilled = backfilled(parser);
                } else {
                    parser.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new MappingException(null, "not JSON: " + e.getMessage());
        }
        return new Envelope(schema, payload, backfilled);
    }

    /** The rows straight from the parser: a tree first would be converted to the records again, a copy per row. */
    private static List<BackfilledRow> backfilled(JsonParser parser) {
        try {
            BackfilledRow[] rows = Json.MAPPER.readValue(parser, BackfilledRow[].class);
            return rows == null ? null : Arrays.asList(rows);
        } catch (IOException e) {
            throw new MappingException(null, "not a batch of backfilled rows: " + e.getMessage());
        }
    }

    private static KnownSchema schema(byte[] bytes, int start, int end) throws IOException {
        int hash = 1;
        for (int i = start; i < end; i++) {
            hash = 31 * hash + bytes[i];
        }
        KnownSchema[] known = SCHEMAS.get(hash);
        if (known != null) {
            for (KnownSchema cached : known) {
                if (Arrays.equals(cached.bytes(), 0, cached.bytes().length, bytes, start, end)) {
                    return cached;
                }
            }
        }
        Schema parsed = Schema.of(Json.MAPPER.readTree(bytes, start, end - start));
        KnownSchema entry = new KnownSchema(Arrays.copyOfRange(bytes, start, end), parsed, SchemaReferences.id(bytes, start, end));
        synchronized (SCHEMAS) {
            if (SCHEMAS.size() >= MAX_SCHEMAS) {
                // Far more distinct schemas than tables means something unusual; forgetting them costs only time.
                SCHEMAS.clear();
                allSchemas = new KnownSchema[0];
            }
            SCHEMAS.merge(hash, new KnownSchema[] {entry}, (a, b) -> {
                KnownSchema[] both = Arrays.copyOf(a, a.length + 1);
                both[a.length] = entry;
                return both;
            });
            KnownSchema[] all = Arrays.copyOf(allSchemas, allSchemas.length + 1);
            all[allSchemas.length] = entry;
            allSchemas = all;
        }
        return entry;
    }
}
