package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * A v1 row the copy backfill read, sent to the table's raw topic before any streamed change, in a batch of rows of the
 * same raw partition ({@link RawPartitions}): the record's value is {@code {"backfill": [<row>, ...]}} and it has no
 * key (each row carries its own). The transform keeps each row's image and position as for a snapshot read, so that
 * later changes of the row find the image they fill unchanged TOASTed values from and the position they are ordered
 * against. A dead letter holds a batch of one row.
 *
 * @param table the v1 table, schema-qualified
 * @param snapshotLsn the replication slot's consistent point: the epoch of the copy
 * @param copiedLsn the consistent point of the slot whose snapshot the row was read from: {@code snapshotLsn}, or a
 *                  later one when a resumed copy read it from a new snapshot (a row read again supersedes the earlier
 *                  read)
 * @param applied true when the backfill wrote the row's v2 rows itself (the transform then writes nothing for it);
 *                false in a dead letter, so that replaying it maps and writes the row
 * @param jsonColumns the row's json and jsonb columns
 * @param key the row's primary key columns, in key order, in wire form; empty for a table without a primary key,
 *            whose rows the copy sends only as dead letters (the transform keeps no image of them)
 * @param row the row in the transform's wire form (as {@code migrator verify} reads it)
 * @param dimensions the v2 dimension columns and values the backfill wrote the row's v2 rows under, resolved from the
 *                   lookup rows of its snapshot; null when the table has no dimensions or the row was not applied. The
 *                   transform's own lookup rows may be older or newer than the snapshot's when the row reaches it, so
 *                   only these tell it which v2 key to delete when the row is re-keyed.
 */
public record BackfilledRow(String table, long snapshotLsn, long copiedLsn, boolean applied, List<String> jsonColumns,
                            ObjectNode key, ObjectNode row, ObjectNode dimensions) {

    /** The one field of the record value, holding the batch's rows. */
    public static final String FIELD = "backfill";

    public BackfilledRow {
        jsonColumns = jsonColumns == null ? List.of() : List.copyOf(jsonColumns);
    }

    /** A row without dimensions. */
    public BackfilledRow(String table, long snapshotLsn, long copiedLsn, boolean applied, List<String> jsonColumns,
                         ObjectNode key, ObjectNode row) {
        this(table, snapshotLsn, copiedLsn, applied, jsonColumns, key, row, null);
    }

    /** The raw record value holding {@code rows}: {@code {"backfill": [...]}}. */
    public static byte[] recordValue(List<BackfilledRow> rows) {
        try {
            return Json.MAPPER.writeValueAsBytes(Map.of(FIELD, rows));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** This row with the dimensions its v2 rows were written under; none (null) for an empty set. */
    public BackfilledRow withDimensions(ObjectNode written) {
        return new BackfilledRow(table, snapshotLsn, copiedLsn, applied, jsonColumns, key, row,
                written == null || written.isEmpty() ? null : written);
    }

    /** This row as a dead letter's value: replayed, the transform maps it and writes its v2 rows. */
    public BackfilledRow unapplied() {
        return new BackfilledRow(table, snapshotLsn, copiedLsn, false, jsonColumns, key, row, null);
    }
}
