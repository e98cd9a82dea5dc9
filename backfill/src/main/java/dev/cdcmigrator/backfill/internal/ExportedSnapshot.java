package dev.cdcmigrator.backfill.internal;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * A replication slot created with an exported snapshot: the snapshot holds exactly the transactions committed before
 * the slot's consistent point, and the slot decodes exactly the ones after it. The snapshot lives as long as the
 * replication connection that created the slot stays open and idle, so this object keeps it until {@link #close()}.
 * A temporary slot (made only for its snapshot, when a backfill resumes) is dropped by the close.
 */
public final class ExportedSnapshot implements AutoCloseable {

    static final int WAIT_REPORTED_AFTER_SECONDS = 10;
    static final int WAIT_REPORT_EVERY_SECONDS = 30;
    private static final int TRANSACTIONS_NAMED = 3;

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
     * <p>PostgreSQL makes a logical slot consistent only once every transaction that was running on the v1 server
     * when it began (in any database, prepared ones too) has ended, so one left open stops the creation, and with it
     * the backfill, for as long as it stays open. While that lasts (after {@link #WAIT_REPORTED_AFTER_SECONDS} s, then
     * every {@link #WAIT_REPORT_EVERY_SECONDS} s) {@code waiting} receives what it waits for, naming those
     * transactions.
     *
     * @param temporary a slot PostgreSQL drops when the connection closes
     */
    public static ExportedSnapshot createSlot(Spec spec, String slot, boolean temporary, Consumer<String> waiting) throws SQLException {
        Connection connection = Connections.connect(spec.source().url(),
                Connections.replicationSettings(spec.source().user(), spec.source().password(), "migrator-backfill"));
        ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "migrator-backfill-slot-wait");
            thread.setDaemon(true);
            return thread;
        });
        // Under the lock, so that no report arrives after the creation returned.
        AtomicBoolean made = new AtomicBoolean();
        watch.scheduleWithFixedDelay(() -> {
            String report = openTransactions(spec, slot);
            synchronized (made) {
                if (!made.get()) {
                    waiting.accept(report);
                }
            }
        }, WAIT_REPORTED_AFTER_SECONDS, WAIT_REPORT_EVERY_SECONDS, TimeUnit.SECONDS);
        try {
            var builder = connection.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName(slot).withOutputPlugin("pgoutput");
            // Without an option PostgreSQL exports the snapshot (EXPORT_SNAPSHOT is the default).
            ReplicationSlotInfo info = (temporary ? builder.withTemporaryOption() : builder).make();
            return new ExportedSnapshot(connection, info.getSnapshotName(), info.getConsistentPoint().asLong());
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        } finally {
            synchronized (made) {
                made.set(true);
            }
            watch.shutdownNow();
        }
    }

    /**
     * The transactions the slot's creation may wait for: every one holding a transaction id on the v1 server, oldest
     * first. Read from {@code pg_locks} (each such transaction holds the lock on its own id), which any role may read
     * in full, where {@code pg_stat_activity} hides other roles' transaction ids.
     */
    private static String openTransactions(Spec spec, String slot) {
        List<String> named = new ArrayList<>();
        int open = 0;
        try (Connection v1 = Connections.open(UnreachableException.What.SOURCE, spec.source().url(), spec.source().user(),
                spec.source().password(), "migrator-backfill-slot-wait");
             PreparedStatement ps = v1.prepareStatement("""
                     SELECT l.pid, coalesce(a.datname, d.datname), coalesce(a.usename, p.owner::text), a.application_name, a.state, p.gid
                     FROM pg_locks l
                     LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                     LEFT JOIN pg_prepared_xacts p ON p.transaction = l.transactionid AND l.pid IS NULL
                     LEFT JOIN pg_database d ON d.datname = p.database
                     WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                       AND l.pid IS DISTINCT FROM pg_backend_pid()
                     ORDER BY age(l.transactionid) DESC""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                if (open++ < TRANSACTIONS_NAMED) {
                    named.add(rs.getString(6) != null
                            ? "prepared transaction '" + rs.getString(6) + "' in database " + rs.getString(2)
                            : "pid " + rs.getLong(1) + " (database " + rs.getString(2) + ", user " + rs.getString(3)
                            + ", application '" + rs.getString(4) + "', " + (rs.getString(5) == null ? "state hidden" : rs.getString(5)) + ")");
                }
            }
        } catch (SQLException | RuntimeException e) {
            return "creating replication slot " + slot + " on v1 has waited for more than " + WAIT_REPORTED_AFTER_SECONDS
                    + " s (PostgreSQL waits for the transactions open on the v1 server to end; listing them failed: " + e.getMessage() + ")";
        }
        return "creating replication slot " + slot + " on v1 waits for the transactions open on the v1 server to end"
                + " (PostgreSQL starts a logical slot only once every transaction running when it began has ended, in any"
                + " database): " + open + " open" + (named.isEmpty() ? "" : ", the oldest " + String.join(", ", named))
                + "; end them (COMMIT, ROLLBACK, COMMIT PREPARED or pg_terminate_backend) or wait";
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
