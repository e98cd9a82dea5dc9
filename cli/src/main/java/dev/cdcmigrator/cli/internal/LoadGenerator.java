package dev.cdcmigrator.cli.internal;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps writing to the Keiko v1 tasks table like the application would (status changes, new tasks, deletions),
 * at a steady rate, so the demo migrates a database that is in use.
 */
public final class LoadGenerator implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(LoadGenerator.class);

    private final Thread thread;
    private final AtomicLong changes = new AtomicLong();
    private volatile boolean stopped;

    private LoadGenerator(String url, String user, String password, int changesPerSecond) {
        this.thread = new Thread(() -> run(url, user, password, changesPerSecond), "demo-load");
    }

    /** Starts writing {@code changesPerSecond} single-row transactions per second to v1. */
    public static LoadGenerator start(String url, String user, String password, int changesPerSecond) {
        LoadGenerator load = new LoadGenerator(url, user, password, changesPerSecond);
        load.thread.start();
        return load;
    }

    /** Changes committed so far. */
    public long changes() {
        return changes.get();
    }

    private void run(String url, String user, String password, int changesPerSecond) {
        SplittableRandom random = new SplittableRandom(42);
        long interval = Duration.ofSeconds(1).toNanos() / changesPerSecond;
        try (Connection c = DriverManager.getConnection(url, user, password);
             PreparedStatement update = c.prepareStatement("UPDATE tasks SET status = ?, started_at = coalesce(started_at, now()) WHERE id = ?");
             PreparedStatement insert = c.prepareStatement("INSERT INTO tasks (user_id, agent_id, type, params, status, timeout, retries)"
                     + " SELECT user_id, agent_id, type, params || '{\"live\": true}', 'created', 120, 0 FROM tasks WHERE id = ?");
             PreparedStatement delete = c.prepareStatement("DELETE FROM tasks WHERE id = ?");
             PreparedStatement maxId = c.prepareStatement("SELECT max(id) FROM tasks")) {
            long next = System.nanoTime();
            while (!stopped) {
                long top;
                try (var rs = maxId.executeQuery()) {
                    rs.next();
                    top = rs.getLong(1);
                }
                long id = 1 + random.nextLong(Math.max(1, top));
                int dice = random.nextInt(10);
                PreparedStatement st = dice < 6 ? update : dice < 9 ? insert : delete;
                if (st == update) {
                    update.setString(1, random.nextBoolean() ? "running" : "finished");
                    update.setLong(2, id);
                } else {
                    st.setLong(1, id);
                }
                changes.addAndGet(st.executeUpdate());
                next += interval;
                LockSupport.parkNanos(next - System.nanoTime());
            }
        } catch (SQLException e) {
            if (!stopped) {
                LOGGER.warn("demo load stopped: {}", e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        try {
            thread.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
