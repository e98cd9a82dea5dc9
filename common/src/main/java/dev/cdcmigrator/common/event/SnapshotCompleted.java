package dev.cdcmigrator.common.event;

import java.util.List;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The control record capture writes to every partition of every raw topic once an initial snapshot is complete, after
 * the snapshot's last read and before the first streamed change. A snapshot taken again after a crash supersedes
 * everything published before it; this marker lets the transform (one task per raw partition, some of which may have
 * received no read) see where the new snapshot ends, so that it can delete the v2 rows of v1 rows the new snapshot no
 * longer contains. The record has no key; its value is this record as JSON and it carries {@link #HEADER}.
 *
 * <p>The copy backfill sends it too, after its last copied row. A copy resumed after a crash copies the chunks not
 * done yet from a newer snapshot than the slot's; {@link #recopied()} names them, so that the transform skips the
 * streamed changes those chunks already hold.
 *
 * @param snapshotLsn the WAL position the snapshot was taken at (the {@code lsn} of its reads)
 * @param tsMs when capture saw the snapshot end (ms since the epoch)
 * @param recopied key ranges copied from a newer snapshot than {@code snapshotLsn}; empty after Debezium's snapshot
 * @param keyless the tables without a primary key the copy backfill copied (schema-qualified): it sent none of their
 *                rows to the raw topics, so the transform takes this snapshot as their last change (a later v1
 *                TRUNCATE then deletes the copied rows); empty after Debezium's snapshot, whose reads carry them
 */
public record SnapshotCompleted(long snapshotLsn, long tsMs, List<Recopied> recopied, List<String> keyless) {

    /**
     * Rows of a v1 table copied from a snapshot newer than the slot's: the streamed changes of those rows made by
     * transactions that snapshot sees are already in v2.
     *
     * @param table the v1 table, schema-qualified
     * @param after the range holds keys above this (null: no lower bound); only for a one-integer-column key
     * @param upTo the range holds keys up to this, inclusive (null: no upper bound); both null for a whole table,
     *             which is how a table without a primary key is recopied
     * @param xmin the snapshot's xmin (64-bit transaction id): every older transaction is visible
     * @param xmax the snapshot's xmax: no transaction from this one on is visible
     * @param inProgress transactions between xmin and xmax the snapshot does not see
     * @param copiedLsn the consistent point of the (temporary) slot whose snapshot it is: the rows copied from it carry
     *                  it ({@link BackfilledRow#copiedLsn()}), rows sent by a copy interrupted before an older one
     */
    public record Recopied(String table, Long after, Long upTo, long xmin, long xmax, List<Long> inProgress, long copiedLsn) {

        public Recopied {
            inProgress = inProgress == null ? List.of() : List.copyOf(inProgress);
        }

        /** Whether the integer key {@code key} (null for a key of another kind) falls in this range. */
        public boolean holds(Long key) {
            if (key == null) {
                return after == null && upTo == null;
            }
            return (after == null || key > after) && (upTo == null || key <= upTo);
        }

        /**
         * Whether this snapshot sees transaction {@code txId}, as Debezium reports it (the 32-bit id); it is taken to be
         * the transaction with those low 32 bits nearest to xmax (PostgreSQL keeps live ids within 2^31 of each other).
         */
        public boolean sees(long txId) {
            long full = (xmax & ~0xFFFF_FFFFL) | (txId & 0xFFFF_FFFFL);
            if (full > xmax + (1L << 31)) {
                full -= 1L << 32;
            } else if (full < xmax - (1L << 31)) {
                full += 1L << 32;
            }
            return full < xmin || full < xmax && !inProgress.contains(full);
        }
    }

    public SnapshotCompleted {
        recopied = recopied == null ? List.of() : List.copyOf(recopied);
        keyless = keyless == null ? List.of() : List.copyOf(keyless);
    }

    /** The marker of a snapshot with no keyless tables copied. */
    public SnapshotCompleted(long snapshotLsn, long tsMs, List<Recopied> recopied) {
        this(snapshotLsn, tsMs, recopied, List.of());
    }

    /** The marker of a snapshot with no recopied ranges. */
    public SnapshotCompleted(long snapshotLsn, long tsMs) {
        this(snapshotLsn, tsMs, List.of());
    }

    /** The header naming a raw topic record as a control record rather than a Debezium change. */
    public static final String HEADER = "cdc-migrator.control";

    /** The value of {@link #HEADER} on this marker. */
    public static final byte[] TYPE = "snapshot-completed".getBytes(StandardCharsets.UTF_8);

    /** Whether a record with these headers is this marker. */
    public static boolean isMarker(Headers headers) {
        Header header = headers == null ? null : headers.lastHeader(HEADER);
        return header != null && java.util.Arrays.equals(header.value(), TYPE);
    }
}
