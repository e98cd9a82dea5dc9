package dev.cdcmigrator.sink.internal;

import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.sink.SinkState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * The v2 rows the sink has dead-lettered a change of, each with the position of the newest change of it applied
 * since, so that a replayed dead letter is applied only when it is newer than that (invariant 4). A position is the
 * offset in the row's v2 partition, a replayed change counting at its original's offset: the v2 topics hold a row's
 * changes in the transform's order (snapshot epoch, commit LSN, LSN), which the source positions the v2 records carry
 * cannot restore on their own (they have no epoch, and a transaction streamed right after a snapshot may have lower
 * LSNs than the snapshot's reads).
 *
 * <p>Kept in {@code <stateSchema>.sink_dead_lettered_rows}, written in each batch's transaction together with its
 * offsets (exactly-once in effect), and in memory for the assigned partitions (loaded on assignment). A partition
 * without dead letters has no entry, so its rows cost one map lookup per batch.
 */
public final class DeadLetteredRows {

    /** The position of a row that was dead-lettered and has had nothing applied since. */
    static final long NOTHING_APPLIED = -1;

    private final String stateSchema;
    private final String migration;
    private final String table;
    private final String group;
    /** Per assigned partition with dead-lettered rows: row (v2 table and key JSON) to its newest applied position. */
    private final Map<TopicPartition, Map<String, Long>> rows = new HashMap<>();

    /** @param migration the migration's id, {@code kafka.topicPrefix}, which marks the state schema */
    public DeadLetteredRows(String stateSchema, String migration, String group) {
        this.stateSchema = stateSchema;
        this.migration = migration;
        this.table = SqlText.quote(stateSchema) + ".sink_dead_lettered_rows";
        this.group = group;
    }

    /** Creates the state schema and table if they do not exist ({@link SinkState#create}). */
    public void createIfAbsent(Connection connection) throws SQLException {
        SinkState.create(connection, stateSchema, migration, List.of(new SinkState.Table("sink_dead_lettered_rows",
                "consumer_group text NOT NULL, topic text NOT NULL, partition int NOT NULL, row_key text NOT NULL,"
                + " newest_applied bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),"
                + " PRIMARY KEY (consumer_group, topic, partition, row_key)")));
    }

    /** Reads the rows of {@code partitions} from the target, replacing what memory held for them. */
    public void load(Connection connection, Collection<TopicPartition> partitions) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT row_key, newest_applied FROM " + table
                + " WHERE consumer_group = ? AND topic = ? AND partition = ?")) {
            for (TopicPartition tp : partitions) {
                rows.remove(tp);
                ps.setString(1, group);
                ps.setString(2, tp.topic());
                ps.setInt(3, tp.partition());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.computeIfAbsent(tp, p -> new HashMap<>()).put(rs.getString(1), rs.getLong(2));
                    }
                }
            }
        }
        if (!connection.getAutoCommit()) {
            connection.commit();
        }
    }

    /** Forgets revoked partitions (their next owner loads them). */
    public void forget(Collection<TopicPartition> partitions) {
        partitions.forEach(rows::remove);
    }

    /** Whether no assigned partition has a dead-lettered row. */
    boolean isEmpty() {
        return rows.isEmpty();
    }

    /** The dead-lettered rows of {@code tp} with their newest applied positions, or null when it has none. */
    Map<String, Long> of(TopicPartition tp) {
        return rows.get(tp);
    }

    /**
     * Records, in the caller's transaction, rows dead-lettered now ({@link #NOTHING_APPLIED}: a row already known keeps
     * its position) and the positions of changes applied to known rows. Positions only grow.
     */
    void write(Connection connection, Map<TopicPartition, Map<String, Long>> changes) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + table + " AS r"
                + " (consumer_group, topic, partition, row_key, newest_applied) VALUES (?, ?, ?, ?, ?)"
                + " ON CONFLICT (consumer_group, topic, partition, row_key) DO UPDATE"
                + " SET newest_applied = GREATEST(r.newest_applied, EXCLUDED.newest_applied), updated_at = now()")) {
            for (Map.Entry<TopicPartition, Map<String, Long>> partition : changes.entrySet()) {
                for (Map.Entry<String, Long> row : partition.getValue().entrySet()) {
                    ps.setString(1, group);
                    ps.setString(2, partition.getKey().topic());
                    ps.setInt(3, partition.getKey().partition());
                    ps.setString(4, row.getKey());
                    ps.setLong(5, row.getValue());
                    ps.addBatch();
                }
            }
            ps.executeBatch();
        }
    }

    /** Takes {@code changes} into memory once the transaction that {@link #write wrote} them has committed. */
    void committed(Map<TopicPartition, Map<String, Long>> changes) {
        changes.forEach((tp, changed) -> {
            Map<String, Long> known = rows.computeIfAbsent(tp, p -> new HashMap<>());
            changed.forEach((row, position) -> known.merge(row, position, Math::max));
        });
    }
}
