package dev.cdcmigrator.backfill.internal;

import static dev.cdcmigrator.common.SqlText.quote;

import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.sink.SinkState;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What the copy backfill has done, kept in the target database next to the sink's offsets
 * ({@code <stateSchema>.backfill} and {@code backfill_chunks}): the slot it copies for and the slot's consistent
 * point, and each planned chunk, marked copied in the same transaction that writes its v2 rows, so that a restart
 * copies exactly the chunks not done.
 */
public final class Progress {

    /**
     * One key range of a v1 table.
     *
     * @param table the v1 table (unqualified)
     * @param index its place among the table's chunks
     * @param after keys above this (null: no bound); ranges exist only for a one-integer-column key
     * @param upTo keys up to this, inclusive (null: no bound)
     * @param done whether it is copied
     */
    public record Chunk(String table, int index, Long after, Long upTo, boolean done) {
    }

    /**
     * The backfill of a slot.
     *
     * @param slotLsn the slot's consistent point: the position of every copied row
     * @param completed whether every chunk is copied and the snapshot-completed markers were sent
     */
    public record Run(long slotLsn, boolean completed) {
    }

    private final String runs;
    private final String chunks;
    private final String stateSchema;
    private final String migration;

    /** @param migration the migration's id, {@code kafka.topicPrefix}, which marks the state schema */
    public Progress(String stateSchema, String migration) {
        this.stateSchema = stateSchema;
        this.migration = migration;
        this.runs = quote(stateSchema) + ".backfill";
        this.chunks = quote(stateSchema) + ".backfill_chunks";
    }

    /** Creates the schema and tables unless they exist ({@link SinkState#create}). */
    public void ensure(Connection v2) throws SQLException {
        SinkState.create(v2, stateSchema, migration, List.of(
                new SinkState.Table("backfill", "slot text PRIMARY KEY, slot_lsn bigint NOT NULL,"
                        + " started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz"),
                new SinkState.Table("backfill_chunks", "slot text NOT NULL, v1_table text NOT NULL, chunk int NOT NULL,"
                        + " after_key bigint, up_to_key bigint, rows bigint, copied_at timestamptz, snapshot_xmin bigint,"
                        + " snapshot_xmax bigint, snapshot_xip bigint[], snapshot_lsn bigint, PRIMARY KEY (slot, v1_table, chunk)")));
    }

    public Optional<Run> run(Connection v2, String slot) throws SQLException {
        try (PreparedStatement ps = v2.prepareStatement("SELECT slot_lsn, completed_at IS NOT NULL FROM " + runs + " WHERE slot = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new Run(rs.getLong(1), rs.getBoolean(2))) : Optional.empty();
            }
        }
    }

    /** Records a new backfill of {@code slot} with its chunks, replacing whatever an earlier one of the slot left. */
    public void start(Connection v2, String slot, long slotLsn, List<Chunk> planned) throws SQLException {
        boolean autoCommit = v2.getAutoCommit();
        v2.setAutoCommit(false);
        try {
            forget(v2, slot);
            try (PreparedStatement ps = v2.prepareStatement("INSERT INTO " + runs + " (slot, slot_lsn) VALUES (?, ?)")) {
                ps.setString(1, slot);
                ps.setLong(2, slotLsn);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = v2.prepareStatement("INSERT INTO " + chunks
                    + " (slot, v1_table, chunk, after_key, up_to_key) VALUES (?, ?, ?, ?, ?)")) {
                for (Chunk chunk : planned) {
                    ps.setString(1, slot);
                    ps.setString(2, chunk.table());
                    ps.setInt(3, chunk.index());
                    ps.setObject(4, chunk.after(), Types.BIGINT);
                    ps.setObject(5, chunk.upTo(), Types.BIGINT);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            v2.commit();
        } catch (SQLException | RuntimeException e) {
            v2.rollback();
            throw e;
        } finally {
            v2.setAutoCommit(autoCommit);
        }
    }

    /** Deletes what a backfill of {@code slot} recorded. */
    public void forget(Connection v2, String slot) throws SQLException {
        for (String table : List.of(chunks, runs)) {
            try (PreparedStatement ps = v2.prepareStatement("DELETE FROM " + table + " WHERE slot = ?")) {
                ps.setString(1, slot);
                ps.executeUpdate();
            }
        }
    }

    /** The chunks of {@code slot}'s backfill, in table order as planned. */
    public List<Chunk> chunks(Connection v2, String slot) throws SQLException {
        List<Chunk> found = new ArrayList<>();
        try (PreparedStatement ps = v2.prepareStatement("SELECT v1_table, chunk, after_key, up_to_key, copied_at IS NOT NULL FROM "
                + chunks + " WHERE slot = ? ORDER BY v1_table, chunk")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.add(new Chunk(rs.getString(1), rs.getInt(2), (Long) rs.getObject(3), (Long) rs.getObject(4), rs.getBoolean(5)));
                }
            }
        }
        return found;
    }

    /**
     * Marks a chunk copied, in the caller's transaction (the one writing its v2 rows).
     *
     * @param snapshot the snapshot it was copied from when newer than the slot's, else null
     */
    public void copied(Connection v2, String slot, Chunk chunk, long rows, SnapshotCompleted.Recopied snapshot) throws SQLException {
        try (PreparedStatement ps = v2.prepareStatement("UPDATE " + chunks + " SET rows = ?, copied_at = now(), snapshot_xmin = ?,"
                + " snapshot_xmax = ?, snapshot_xip = ?, snapshot_lsn = ? WHERE slot = ? AND v1_table = ? AND chunk = ? AND copied_at IS NULL")) {
            ps.setLong(1, rows);
            ps.setObject(2, snapshot == null ? null : snapshot.xmin(), Types.BIGINT);
            ps.setObject(3, snapshot == null ? null : snapshot.xmax(), Types.BIGINT);
            ps.setArray(4, snapshot == null ? null : v2.createArrayOf("bigint", snapshot.inProgress().toArray()));
            ps.setObject(5, snapshot == null ? null : snapshot.copiedLsn(), Types.BIGINT);
            ps.setString(6, slot);
            ps.setString(7, chunk.table());
            ps.setInt(8, chunk.index());
            if (ps.executeUpdate() != 1) {
                throw new IllegalStateException("chunk " + chunk.index() + " of " + chunk.table() + " was copied twice (another"
                        + " backfill of slot " + slot + " running?)");
            }
        }
    }

    /** The chunks copied from a newer snapshot than the slot's, as the transform needs them (see {@link SnapshotCompleted}). */
    public List<SnapshotCompleted.Recopied> recopied(Connection v2, String slot, String sourceSchema) throws SQLException {
        List<SnapshotCompleted.Recopied> found = new ArrayList<>();
        try (PreparedStatement ps = v2.prepareStatement("SELECT v1_table, after_key, up_to_key, snapshot_xmin, snapshot_xmax, snapshot_xip, snapshot_lsn FROM "
                + chunks + " WHERE slot = ? AND snapshot_xmin IS NOT NULL ORDER BY v1_table, chunk")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Array xip = rs.getArray(6);
                    List<Long> inProgress = xip == null ? List.of() : Arrays.stream((Long[]) xip.getArray()).toList();
                    found.add(new SnapshotCompleted.Recopied(sourceSchema + "." + rs.getString(1), (Long) rs.getObject(2),
                            (Long) rs.getObject(3), rs.getLong(4), rs.getLong(5), inProgress, rs.getLong(7)));
                }
            }
        }
        return found;
    }

    public void complete(Connection v2, String slot) throws SQLException {
        try (PreparedStatement ps = v2.prepareStatement("UPDATE " + runs + " SET completed_at = now() WHERE slot = ?")) {
            ps.setString(1, slot);
            ps.executeUpdate();
        }
    }
}
