package dev.cdcmigrator.testkit;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops, once a top-level test class has finished, the replication slots left in the databases it created on the
 * {@linkplain TestPostgres#shared() shared server}.
 *
 * <p>Every pipeline a test starts leaves its slot behind, and the shared server has a fixed number of them
 * ({@code max_replication_slots}); without this, the test classes that run late in a JVM fail with "all replication
 * slots are in use", and the slots left retain WAL for the rest of the run. Registered for every test through JUnit's
 * extension auto-detection ({@code META-INF/services}, enabled by the build).
 */
public final class ReplicationSlotCleanup implements AfterAllCallback {

    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSlotCleanup.class);
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(50);

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        boolean topLevel = context.getParent().flatMap(ExtensionContext::getParent).isEmpty();
        List<String> databases = TestPostgres.takeCreatedDatabases();
        if (!topLevel || databases.isEmpty()) {
            return;
        }
        PostgresServer pg = TestPostgres.shared();
        try (Connection c = pg.connect("postgres")) {
            Array names = c.createArrayOf("text", databases.toArray());
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            // A stopped pipeline's walsender can outlive the test by a moment; an active slot cannot be dropped.
            int dropped = 0;
            while (true) {
                rows(c, names, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                        + "WHERE database = ANY(?) AND active_pid IS NOT NULL");
                dropped += rows(c, names, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        + "WHERE database = ANY(?) AND NOT active");
                if (rows(c, names, "SELECT 1 FROM pg_replication_slots WHERE database = ANY(?)") == 0) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Replication slots of " + databases + " still in use after " + DEADLINE);
                }
                LockSupport.parkNanos(POLL.toNanos());
            }
            LOG.info("Dropped {} replication slot(s) left by {}", dropped, context.getDisplayName());
        }
    }

    /** Runs {@code sql} with the database names and counts the rows it returns. */
    private static int rows(Connection c, Array databases, String sql) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setArray(1, databases);
            int rows = 0;
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows++;
                }
            }
            return rows;
        }
    }
}
