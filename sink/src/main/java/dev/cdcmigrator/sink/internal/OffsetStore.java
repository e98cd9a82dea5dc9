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
 * The sink's consumed offsets, kept in the target database so that they commit atomically with the rows they
 * produced: after any crash the target holds exactly the rows up to the stored offsets.
 */
public final class OffsetStore {

    private final String table;
    private final String group;
    private final String stateSchema;
    private final String migration;

    /** @param migration the migration's id, {@code kafka.topicPrefix}, which marks the state schema */
    public OffsetStore(String stateSchema, String migration, String group) {
        this.stateSchema = stateSchema;
        this.migration = migration;
        this.table = SqlText.quote(stateSchema) + ".sink_offsets";
        this.group = group;
    }

    /** Creates the state schema and table if they do not exist ({@link SinkState#create}). */
    public void createIfAbsent(Connection connection) throws SQLException {
        SinkState.create(connection, stateSchema, migration, List.of(new SinkState.Table("sink_offsets", "consumer_group text NOT NULL,"
                + " topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,"
                + " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer_group, topic, partition)")));
    }

    /** The next offset to consume per partition, for the partitions that have one. */
    public Map<TopicPartition, Long> read(Connection connection, Collection<TopicPartition> partitions) throws SQLException {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT next_offset FROM " + table + " WHERE consumer_group = ? AND topic = ? AND partition = ?")) {
            for (TopicPartition tp : partitions) {
                ps.setString(1, group);
                ps.setString(2, tp.topic());
                ps.setInt(3, tp.partition());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        offsets.put(tp, rs.getLong(1));
                    }
                }
            }
        }
        if (!connection.getAutoCommit()) {
            connection.commit();
        }
        return offsets;
    }

    /** Records the next offsets in the caller's transaction. */
    public void write(Connection connection, Map<TopicPartition, Long> nextOffsets) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + table
                + " (consumer_group, topic, partition, next_offset) VALUES (?, ?, ?, ?)"
                + " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()")) {
            for (Map.Entry<TopicPartition, Long> e : nextOffsets.entrySet()) {
                ps.setString(1, group);
                ps.setString(2, e.getKey().topic());
                ps.setInt(3, e.getKey().partition());
                ps.setLong(4, e.getValue());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }
}
