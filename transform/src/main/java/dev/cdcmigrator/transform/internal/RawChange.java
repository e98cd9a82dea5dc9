package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.DebeziumValues;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A Debezium change event (JSON converter, schemas enabled) with its row images decoded to v2 wire values.
 *
 * @param op the change kind
 * @param before the old row image (for deletes, at least the v1 key columns), null if absent
 * @param after the new row image, null for deletes
 * @param source where on v1 it happened
 * @param jsonColumns the columns of type json or jsonb (their values are JSON text)
 * @param columnTypes the type of each column of the row as the change describes it (Connect type, then the semantic
 *                    type's name after a slash when there is one), to tell when v1 retyped a column
 * @param applied a row the copy backfill already wrote to v2: the transform keeps its image but writes nothing
 */
public record RawChange(Op op, ObjectNode before, ObjectNode after, SourcePosition source, Set<String> jsonColumns,
                        Map<String, String> columnTypes, boolean applied) {

    /** A change whose column types are not known (made by the transform itself). */
    public RawChange(Op op, ObjectNode before, ObjectNode after, SourcePosition source, Set<String> jsonColumns) {
        this(op, before, after, source, jsonColumns, Map.of(), false);
    }

    /**
     * A change with its row's v1 key column values (null for a truncate, which has no row, and for a change of a table
     * without a primary key).
     *
     * @param backfilled the row as the copy backfill sent it, null for a Debezium change
     */
    public record Keyed(JsonNode v1Key, RawChange change, BackfilledRow backfilled) {

        /** The record key of this change alone: the record's, or for a backfilled row Debezium's key envelope of it. */
        public byte[] key(byte[] recordKey) {
            if (backfilled == null) {
                return recordKey;
            }
            try {
                return Json.MAPPER.writeValueAsBytes(Map.of("payload", backfilled.key()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The record value of this change alone: the record's, or for a backfilled row a batch of only that row. */
        public byte[] value(byte[] recordValue) {
            return backfilled == null ? recordValue : BackfilledRow.recordValue(List.of(backfilled));
        }
    }

    /**
     * Parses a raw topic record: one Debezium change (its v1 key from the record's key), or a batch of rows the copy
     * backfill read (each with its own key).
     *
     * @throws MappingException when it is neither
     */
    public static List<Keyed> parse(byte[] key, byte[] value) {
        return parse(key == null ? null : () -> Envelopes.read(key), Envelopes.read(value));
    }

    /**
     * Parses a raw topic record from its value's envelope and, when it has a key, the key's (read only when the change
     * needs it: null for a record without a key).
     *
     * @throws MappingException when it is neither a change nor a batch of backfilled rows
     */
    static List<Keyed> parse(Supplier<Envelopes.Envelope> key, Envelopes.Envelope value) {
        if (value.backfilled() != null) {
            return backfilled(value.backfilled());
        }
        RawChange change = change(value);
        // A table without a primary key has no record key: its change is keyless (v1Key null), as a truncate is.
        return List.of(new Keyed(change.op() == Op.TRUNCATE || key == null ? null : key(key.get()), change, null));
    }

    /** Parses a Debezium change envelope; throws MappingException when it is not one. */
    public static RawChange parse(byte[] value) {
        return change(Envelopes.read(value));
    }

    private static RawChange change(Envelopes.Envelope envelope) {
        JsonNode payload = envelope.payload();
        if (envelope.schema() == null || payload == null || !payload.isObject() || !payload.path("op").isTextual()) {
            throw new MappingException(null, "not a Debezium change envelope with schema and payload"
                    + " (capture must use the JSON converter with schemas enabled)");
        }
        Op op;
        try {
            op = Op.fromCode(payload.get("op").asText());
        } catch (IllegalArgumentException e) {
            throw new MappingException(null, e.getMessage());
        }
        JsonNode source = payload.path("source");
        SourcePosition position = new SourcePosition(
                source.path("schema").asText() + "." + source.path("table").asText(),
                source.path("lsn").asLong(),
                lastCommitLsn(source.path("sequence")),
                source.hasNonNull("txId") ? source.get("txId").asLong() : null,
                source.path("ts_ms").asLong(),
                op == Op.READ);
        Envelopes.Schema schema = envelope.schema();
        Envelopes.RowSchema row = op == Op.DELETE ? schema.before() : schema.after();
        return new RawChange(op,
                decodeRow(payload.get("before"), schema.before()),
                decodeRow(payload.get("after"), schema.after()),
                position,
                row.jsonColumns(),
                row.columnTypes(),
                false);
    }

    /**
     * Rows the copy backfill read, each as a snapshot read of the slot's snapshot (see {@link BackfilledRow}); one
     * with an empty key is of a table without a primary key (v1Key null), as Debezium's changes of it are.
     */
    private static List<Keyed> backfilled(List<BackfilledRow> batch) {
        List<Keyed> rows = new ArrayList<>(batch.size());
        for (BackfilledRow row : batch) {
            if (row == null || row.row() == null || row.key() == null) {
                throw new MappingException(null, "a backfilled row without its " + (row == null || row.row() == null ? "row" : "key"));
            }
            SourcePosition position = new SourcePosition(row.table(), row.snapshotLsn(), row.copiedLsn(), null, 0, true);
            rows.add(new Keyed(row.key().isEmpty() ? null : row.key(), new RawChange(Op.READ, null, row.row(), position, Set.copyOf(row.jsonColumns()),
                    Map.of(), row.applied()), row));
        }
        return rows;
    }

    /** Decodes a raw topic record key (Debezium's key envelope) to the v1 key's column values. */
    private static JsonNode key(Envelopes.Envelope envelope) {
        if (envelope.payload() == null || !envelope.payload().isObject()) {
            throw new MappingException(null, "the key is not a Debezium key envelope with schema and payload");
        }
        return decodeRow(envelope.payload(), envelope.schema() == null ? Envelopes.RowSchema.NONE : envelope.schema().struct());
    }

    /** Debezium's PostgreSQL {@code sequence} is the JSON text {@code ["<last commit LSN>","<LSN>"]}, either may be null. */
    private static Long lastCommitLsn(JsonNode sequence) {
        if (!sequence.isTextual()) {
            return null;
        }
        try {
            JsonNode parts = Json.MAPPER.readTree(sequence.asText());
            JsonNode first = parts.path(0);
            return first.isNull() || first.isMissingNode() ? null : Long.parseLong(first.asText());
        } catch (IOException | NumberFormatException e) {
            throw new MappingException(null, "source.sequence is not Debezium's [last commit LSN, LSN]: " + sequence.asText());
        }
    }


    /** A row's values decoded by the semantic types of its schema's fields; null for a null row. */
    private static ObjectNode decodeRow(JsonNode row, Envelopes.RowSchema schema) {
        if (row == null || row.isNull()) {
            return null;
        }
        ObjectNode decoded = JsonNodeFactory.instance.objectNode();
        Iterator<Map.Entry<String, JsonNode>> fields = row.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String semanticType = schema.semanticTypes().getOrDefault(field.getKey(), "");
            try {
                decoded.set(field.getKey(), DebeziumValues.decode(field.getValue(), semanticType));
            } catch (RuntimeException e) {
                throw new MappingException(field.getKey(), "column " + field.getKey() + ": " + field.getValue()
                        + " is not a value of Debezium's " + semanticType + ": " + e.getMessage());
            }
        }
        return decoded;
    }
}
