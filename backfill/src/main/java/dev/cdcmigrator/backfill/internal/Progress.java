package dev.cdcmigrator.backfill.internal;

import static dev.cdcmigrator.common.SqlText.literal;
import static dev.cdcmigrator.common.SqlText.quote;

import dev.cdcmigrator.common.SqlTransaction;
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
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What the copy backfill has done, kept in the target database next to the sink's offsets
 * ({@code <stateSchema>.backfill} and {@code backfill_chunks}): the slot it copies for and the slot's consistent
 * point, and each planned chunk, marked copied in the same transaction that writes its v2 rows, so that a restart
 * copies exactly the chunks not done.
 */
public final class Progress {

    /**
     * One key range of a v1 table, or of a table without a primary key one range of blocks.
     *
     * @param table the v1 table (unqualified)
     * @param index its place among the table's chunks
     * @param after keys above this (null: no bound): the key's column values in key order, as PostgreSQL prints them;
     *              without a key, the range's first block (its number alone)
     * @param upTo keys up to this, inclusive (null: no bound), in the same form; without a key, the block after the
     *             range
     * @param done whether it is copied
     */
    public record Chunk(String table, int index, List<String> after, List<String> upTo, boolean done) {

        public Chunk {
            after = after == null ? null : List.copyOf(after);
            upTo = upTo == null ? null : List.copyOf(upTo);
        }
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

    /**
     * Creates the schema and tables unless they exist ({@link SinkState#create}); the chunks' bounds of an earlier
     * version, which chunked only one-integer-column keys (bigint bounds), become the key's text form.
     */
    public void ensure(Connection v2) throws SQLException {
        SinkState.create(v2, stateSchema, migration, List.of(
                new SinkState.Table("backfill", "slot text PRIMARY KEY, slot_lsn bigint NOT NULL,"
                        + " started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz"),
                new SinkState.Table("backfill_chunks", "slot text NOT NULL, v1_table text NOT NULL, chunk int NOT NULL,"
                        + " after_key text[], up_to_key text[], rows bigint, copied_at timestamptz, snapshot_xmin bigint,"
                        + " snapshot_xmax bigint, snapshot_xip bigint[], snapshot_lsn bigint, PRIMARY KEY (slot, v1_table, chunk)")));
        upgradeIntegerBounds(v2);
    }

    /**
     * Turns bigint bounds (an earlier version's) into one-element text arrays, which is how this version records the
     * bound of a one-integer-column key: PostgreSQL prints an integer as the digits the integer column reads back.
     */
    private void upgradeIntegerBounds(Connection v2) throws SQLException {
        SqlTransaction.run(v2, () -> {
            try (Statement st = v2.createStatement()) {
                // Under the table's lock, so that a second backfill starting at once sees the table already turned.
                st.execute("LOCK TABLE " + chunks + " IN ACCESS EXCLUSIVE MODE");
                try (ResultSet rs = st.executeQuery("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                        + literal(chunks) + "::regclass AND attname = 'after_key'")) {
                    if (rs.next() && rs.getString(1).equals("bigint")) {
                        st.execute("ALTER TABLE " + chunks
                                + " ALTER COLUMN after_key TYPE text[] USING CASE WHEN after_key IS NULL THEN NULL ELSE ARRAY[after_key::text] END,"
                                + " ALTER COLUMN up_to_key TYPE text[] USING CASE WHEN up_to_key IS NULL THEN NULL ELSE ARRAY[up_to_key::text] END");
                    }
                }
            }
        });
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
        SqlTransaction.run(v2, () -> {
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
                    ps.setArray(4, chunk.after() == null ? null : v2.createArrayOf("text", chunk.after().toArray()));
                    ps.setArray(5, chunk.upTo() == null ? null : v2.createArrayOf("text", chunk.upTo().toArray()));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        });
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
                    found.add(new Chunk(rs.getString(1), rs.getInt(2), texts(rs.getArray(3)), texts(rs.getArray(4)), rs.getBoolean(5)));
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

    /**
     * The chunks copied from a newer snapshot than the slot's, as the transform needs them (see {@link SnapshotCompleted}):
     * a key range for each chunk of a table in {@code rangedTables}, whose one integer key column the transform
     * compares with the bounds; the whole table for any other, a table without a primary key too (whose chunks commit
     * together: every one of them was copied from that snapshot).
     */
    public List<SnapshotCompleted.Recopied> recopied(Connection v2, String slot, String sourceSchema, Set<String> rangedTables)
            throws SQLException {
        List<SnapshotCompleted.Recopied> found = new ArrayList<>();
        Set<String> whole = new HashSet<>();
        try (PreparedStatement ps = v2.prepareStatement("SELECT v1_table, after_key, up_to_key, snapshot_xmin, snapshot_xmax, snapshot_xip, snapshot_lsn FROM "
                + chunks + " WHERE slot = ? AND snapshot_xmin IS NOT NULL ORDER BY v1_table, chunk")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String table = rs.getString(1);
                    boolean ranged = rangedTables.contains(table);
                    if (!ranged && !whole.add(table)) {
                        continue;
                    }
                    Array xip = rs.getArray(6);
                    List<Long> inProgress = xip == null ? List.of() : Arrays.stream((Long[]) xip.getArray()).toList();
                    found.add(new SnapshotCompleted.Recopied(sourceSchema + "." + table,
                            ranged ? integer(texts(rs.getArray(2))) : null, ranged ? integer(texts(rs.getArray(3))) : null,
                            rs.getLong(4), rs.getLong(5), inProgress, rs.getLong(7)));
                }
            }
        }
        return found;
    }

    private static List<String> texts(Array array) throws SQLException {
        return array == null ? null : List.of((String[]) array.getArray());
    }

    /** The bound of a one-integer-column key. */
    private static Long integer(List<String> bound) {
        return bound == null ? null : Long.valueOf(bound.get(0));
    }

    public void complete(Connection v2, String slot) throws SQLException {
        try (PreparedStatement ps = v2.prepareStatement("UPDATE " + runs + " SET completed_at = now() WHERE slot = ?")) {
            ps.setString(1, slot);
            ps.executeUpdate();
        }
    }
}
