package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A v1 row the copy backfill read, sent to the table's raw topic (value {@code {"backfill": <this>}}, keyed by
 * {@code {"payload": <key columns>}} on the partition {@link RawPartitions} names) before any streamed change. The
 * transform keeps its image and position as for a snapshot read, so that later changes of the row find the image they
 * fill unchanged TOASTed values from and the position they are ordered against.
 *
 * @param table the v1 table, schema-qualified
 * @param snapshotLsn the replication slot's consistent point: the epoch of the copy
 * @param copiedLsn the consistent point of the slot whose snapshot the row was read from: {@code snapshotLsn}, or a
 *                  later one when a resumed copy read it from a new snapshot (a row read again supersedes the earlier
 *                  read)
 * @param applied true when the backfill wrote the row's v2 rows itself (the transform then writes nothing for it);
 *                false in a dead letter, so that replaying it maps and writes the row
 * @param jsonColumns the row's json and jsonb columns
 * @param row the row in the transform's wire form (as {@code migrator verify} reads it)
 */
public record BackfilledRow(String table, long snapshotLsn, long copiedLsn, boolean applied, List<String> jsonColumns, ObjectNode row) {

    /** The one field of the record value that holds this. */
    public static final String FIELD = "backfill";

    public BackfilledRow {
        jsonColumns = jsonColumns == null ? List.of() : List.copyOf(jsonColumns);
    }

    /** This row as a dead letter's value: replayed, the transform maps it and writes its v2 rows. */
    public BackfilledRow unapplied() {
        return new BackfilledRow(table, snapshotLsn, copiedLsn, false, jsonColumns, row);
    }
}
