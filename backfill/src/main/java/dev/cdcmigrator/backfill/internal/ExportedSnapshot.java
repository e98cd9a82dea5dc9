package dev.cdcmigrator.backfill.internal;

import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * A replication slot created with an exported snapshot: the snapshot holds exactly the transactions committed before
 * the slot's consistent point, and the slot decodes exactly the ones after it. The snapshot lives as long as the
 * replication connection that created the slot stays open and idle, so this object keeps it until {@link #close()}.
 * A temporary slot (made only for its snapshot, when a backfill resumes) is dropped by the close.
 */
public final class ExportedSnapshot implements AutoCloseable {

    private final Connection replication;
    private final String name;
    private final long lsn;

    private ExportedSnapshot(Connection replication, String name, long lsn) {
        this.replication = replication;
        this.name = name;
        this.lsn = lsn;
    }

    /**
     * Creates slot {@code slot} (pgoutput) on v1 and keeps its exported snapshot.
     *
     * @param temporary a slot PostgreSQL drops when the connection closes
     */
    public static ExportedSnapshot createSlot(Spec spec, String slot, boolean temporary) throws SQLException {
        Properties props = new Properties();
        PGProperty.USER.set(props, spec.source().user());
        PGProperty.PASSWORD.set(props, spec.source().password());
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        PGProperty.APPLICATION_NAME.set(props, "migrator-backfill");
        Connection connection = DriverManager.getConnection(spec.source().url(), props);
        try {
            var builder = connection.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName(slot).withOutputPlugin("pgoutput");
            // Without an option PostgreSQL exports the snapshot (EXPORT_SNAPSHOT is the default).
            ReplicationSlotInfo info = (temporary ? builder.withTemporaryOption() : builder).make();
            return new ExportedSnapshot(connection, info.getSnapshotName(), info.getConsistentPoint().asLong());
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    /** The snapshot's name, for {@code SET TRANSACTION SNAPSHOT}. */
    public String name() {
        return name;
    }

    /** The slot's consistent point. */
    public long lsn() {
        return lsn;
    }

    @Override
    public void close() throws SQLException {
        replication.close();
    }
}
