package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/** Builds Debezium PostgreSQL change envelopes as the JSON converter (schemas enabled) writes them. */
final class DebeziumEnvelopes {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** Column name to Connect schema type, optionally with a semantic name ("int64:io.debezium.time.MicroTimestamp"). */
    private final Map<String, String> columns = new LinkedHashMap<>();
    private final String table;

    DebeziumEnvelopes(String table) {
        this.table = table;
    }

    DebeziumEnvelopes column(String name, String type) {
        columns.put(name, type);
        return this;
    }

    byte[] key(String column, Object value) {
        return key(Map.of(column, value));
    }

    /** The key record of a row whose primary key is {@code key}'s columns, in its order. */
    byte[] key(Map<String, Object> key) {
        ObjectNode schema = F.objectNode().put("type", "struct").put("optional", false).put("name", "migrator.raw.public." + table + ".Key");
        ObjectNode payload = F.objectNode();
        key.forEach((column, value) -> {
            schema.withArray("fields").add(field(column, columns.get(column), false));
            payload.set(column, Json.MAPPER.valueToTree(value));
        });
        ObjectNode envelope = F.objectNode();
        envelope.set("schema", schema);
        envelope.set("payload", payload);
        return bytes(envelope);
    }

    byte[] change(String op, Map<String, Object> before, Map<String, Object> after, long lsn) {
        return change(op, before, after, lsn, null);
    }

    /** A change whose source carries Debezium's {@code sequence}: the last commit LSN before its transaction, and its LSN. */
    byte[] change(String op, Map<String, Object> before, Map<String, Object> after, long lsn, Long lastCommitLsn) {
        ObjectNode rowSchema = F.objectNode().put("type", "struct").put("optional", true).put("name", "migrator.raw.public." + table + ".Value");
        ArrayNode rowFields = rowSchema.putArray("fields");
        columns.forEach((name, type) -> rowFields.add(field(name, type, true)));

        ObjectNode schema = F.objectNode().put("type", "struct").put("optional", false).put("name", "migrator.raw.public." + table + ".Envelope");
        ArrayNode fields = schema.putArray("fields");
        fields.add(rowSchema.deepCopy().put("field", "before"));
        fields.add(rowSchema.deepCopy().put("field", "after"));
        fields.add(F.objectNode().put("type", "struct").put("optional", false).put("name", "io.debezium.connector.postgresql.Source").put("field", "source"));
        fields.add(F.objectNode().put("type", "string").put("optional", false).put("field", "op"));

        ObjectNode payload = F.objectNode();
        payload.set("before", before == null ? F.nullNode() : Json.MAPPER.valueToTree(before));
        payload.set("after", after == null ? F.nullNode() : Json.MAPPER.valueToTree(after));
        payload.set("source", F.objectNode().put("version", "3.6.3.Final").put("connector", "postgresql")
                .put("ts_ms", 1_700_000_000_000L).put("snapshot", op.equals("r") ? "true" : "false").put("db", "keiko")
                .put("schema", "public").put("table", table).put("txId", 750).put("lsn", lsn)
                .put("sequence", "[" + (lastCommitLsn == null ? "null" : "\"" + lastCommitLsn + "\"") + ",\"" + lsn + "\"]"));
        payload.put("op", op).put("ts_ms", 1_700_000_000_100L);
        ObjectNode envelope = F.objectNode();
        envelope.set("schema", schema);
        envelope.set("payload", payload);
        return bytes(envelope);
    }

    /**
     * A key or value as capture sends it once its partition has the schema: the payload alone, and the header naming
     * the schema ({@link SchemaReferences}).
     */
    static Referenced byReference(byte[] inline) {
        try {
            JsonNode envelope = Json.MAPPER.readTree(inline);
            byte[] schema = Json.MAPPER.writeValueAsBytes(envelope.get("schema"));
            return new Referenced(Json.MAPPER.writeValueAsBytes(envelope.get("payload")), SchemaReferences.id(schema, 0, schema.length));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A payload and the id of its schema. */
    record Referenced(byte[] payload, String schemaId) {

        Header header(String name) {
            return new RecordHeader(name, schemaId.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static ObjectNode field(String name, String type, boolean optional) {
        String[] parts = type.split(":", 2);
        ObjectNode field = F.objectNode().put("type", parts[0]).put("optional", optional);
        if (parts.length == 2) {
            field.put("name", parts[1]).put("version", 1);
        }
        return field.put("field", name);
    }

    private static byte[] bytes(ObjectNode node) {
        try {
            return Json.MAPPER.writeValueAsBytes(node);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
