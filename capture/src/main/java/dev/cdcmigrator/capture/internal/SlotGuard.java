package dev.cdcmigrator.capture.internal;

import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.spec.ByteSize;
import dev.cdcmigrator.common.spec.SlotSpec;
import dev.cdcmigrator.common.spec.SourceSpec;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps capture from taking v1 down through its replication slot. Every {@link #INTERVAL} it reads the slot
 * ({@link SlotHealth}) on a connection of its own, so it sees the slot while Debezium is stuck too:
 * <ul>
 *   <li>past {@link SlotSpec#WARNING_FRACTION} of {@code source.slot.maxRetainedWal} it logs a WARNING and sets
 *       {@value #WARNING} to 1;</li>
 *   <li>past the limit it stops Debezium, drops the slot (only capture's own, named by the spec) and reports why;</li>
 *   <li>when PostgreSQL has invalidated the slot ({@code wal_status lost}, by {@code max_slot_wal_keep_size}) it stops
 *       Debezium and reports why, instead of letting it retry a slot that can no longer be read.</li>
 * </ul>
 * Either way the migration has lost changes and must start over from a new snapshot; the messages say so and how.
 */
public final class SlotGuard {

    private static final Logger LOGGER = LoggerFactory.getLogger(SlotGuard.class);

    /** How often the slot is read. */
    static final Duration INTERVAL = Duration.ofSeconds(5);
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** How long the slot may stay active after Debezium stopped before its WAL sender is terminated. */
    private static final Duration RELEASE_TIMEOUT = Duration.ofSeconds(15);

    static final String LIMIT = "migrator.capture.slot.retained.limit";
    static final String WARNING = "migrator.capture.slot.retained.warning";

    private final SourceSpec source;
    private final String slot;
    private final ByteSize limit;
    /** Stops Debezium: its WAL sender lets go of the slot once it returns. */
    private final Runnable stopDebezium;
    private final Consumer<IllegalStateException> fail;
    private final ScheduledExecutorService executor;
    private volatile double warning;
    private boolean v1Failing;
    private boolean done;

    private SlotGuard(SourceSpec source, String slot, MeterRegistry registry, Runnable stopDebezium,
                      Consumer<IllegalStateException> fail) {
        this.source = source;
        this.slot = slot;
        this.limit = source.slot().maxRetainedWal();
        this.stopDebezium = stopDebezium;
        this.fail = fail;
        Gauge.builder(LIMIT, this, g -> g.limit == null ? Double.NaN : g.limit.bytes())
                .description("source.slot.maxRetainedWal: past this much retained WAL capture drops its replication"
                        + " slot and stops; NaN when not set")
                .baseUnit("bytes")
                .strongReference(true)
                .register(registry);
        Gauge.builder(WARNING, this, g -> g.warning)
                .description("1 while the replication slot retains more than 80 % of source.slot.maxRetainedWal (or"
                        + " capture dropped it for passing the limit), else 0")
                .strongReference(true)
                .register(registry);
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "migrator-capture-slot-guard");
            t.setDaemon(true);
            return t;
        });
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.executor = executor;
    }

    /**
     * Starts watching {@code slot} at once, then every {@link #INTERVAL}.
     *
     * @param source the v1 database and {@code source.slot}
     * @param slot capture's replication slot
     * @param registry receives {@value #LIMIT} and {@value #WARNING}
     * @param stopDebezium stops Debezium (returning once it has stopped), before the slot is dropped
     * @param fail receives the one-line reason once capture was stopped
     */
    public static SlotGuard start(SourceSpec source, String slot, MeterRegistry registry, Runnable stopDebezium,
                                  Consumer<IllegalStateException> fail) {
        SlotGuard guard = new SlotGuard(source, slot, registry, stopDebezium, fail);
        guard.executor.scheduleWithFixedDelay(guard::check, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return guard;
    }

    private void check() {
        if (done) {
            return;
        }
        // A connection per look: nothing held open on v1 between looks, and nothing to mend after a failure.
        try (Connection v1 = SlotHealth.connect(source, "cdc-migrator-slot-guard", TIMEOUT)) {
            Optional<SlotHealth> found = SlotHealth.query(v1, slot);
            if (v1Failing) {
                LOGGER.info("slot guard: v1 readable again");
                v1Failing = false;
            }
            if (found.isEmpty()) {
                return; // Debezium has not created it yet
            }
            SlotHealth health = found.get();
            if (health.lost()) {
                done = true;
                stopDebezium.run();
                fail.accept(new IllegalStateException(lost(health)));
            } else if (limit != null && health.retainedWalBytes() != null) {
                long retained = health.retainedWalBytes();
                if (retained > limit.bytes()) {
                    done = true;
                    warning = 1;
                    fail.accept(new IllegalStateException(dropOverLimit(v1, health)));
                } else {
                    warn(health, retained >= SlotSpec.WARNING_FRACTION * limit.bytes());
                }
            }
        } catch (SQLException e) {
            if (!v1Failing) {
                LOGGER.warn("slot guard: cannot read replication slot {} on v1 ({}); retrying every {} s", slot,
                        e.getMessage(), INTERVAL.toSeconds());
                v1Failing = true;
            }
        } catch (RuntimeException e) {
            LOGGER.warn("slot guard: checking replication slot {} failed", slot, e);
        }
    }

    private void warn(SlotHealth health, boolean high) {
        if (high && warning == 0) {
            LOGGER.warn("replication slot {} retains {} of WAL on v1, over {} % of source.slot.maxRetainedWal {}:"
                    + " capture is behind or stuck; past {} it drops the slot and stops, and the migration must start"
                    + " over from a new snapshot", slot, health.retainedWal(), Math.round(SlotSpec.WARNING_FRACTION * 100),
                    limit, limit);
        } else if (!high && warning == 1) {
            LOGGER.info("replication slot {} retains {} of WAL on v1, below {} % of source.slot.maxRetainedWal again",
                    slot, health.retainedWal(), Math.round(SlotSpec.WARNING_FRACTION * 100));
        }
        warning = high ? 1 : 0;
    }

    /** Stops Debezium, then drops the slot once its WAL sender let go of it (terminating it if it does not); the reason. */
    private String dropOverLimit(Connection v1, SlotHealth health) throws SQLException {
        String over = "replication slot " + slot + " retained " + health.retainedWal() + " of WAL on v1, over"
                + " source.slot.maxRetainedWal " + limit;
        LOGGER.error("{}: capture stops and drops the slot so that v1 keeps no more WAL for it", over);
        stopDebezium.run();
        long deadline = System.nanoTime() + RELEASE_TIMEOUT.toNanos();
        Optional<SlotHealth> now = SlotHealth.query(v1, slot);
        while (now.isPresent() && now.get().active() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            now = SlotHealth.query(v1, slot);
        }
        try {
            if (now.isPresent() && now.get().active()) {
                execute(v1, "SELECT pg_terminate_backend(?)", now.get().activePid());
            }
            if (now.isPresent()) {
                execute(v1, "SELECT pg_drop_replication_slot(?)", slot);
            }
        } catch (SQLException e) {
            return over + "; capture stopped, but dropping the slot failed (" + e.getMessage() + "): drop it by hand,"
                    + " SELECT pg_drop_replication_slot('" + slot + "'), before v1's disk fills; " + lostChanges(health);
        }
        return over + ", so capture dropped the slot and stopped; " + lostChanges(health);
    }

    private static void execute(Connection v1, String sql, Object parameter) throws SQLException {
        try (PreparedStatement st = v1.prepareStatement(sql)) {
            st.setQueryTimeout((int) TIMEOUT.toSeconds());
            st.setObject(1, parameter);
            st.execute();
        }
    }

    /** Why capture stops on a slot PostgreSQL invalidated. */
    public static String lost(SlotHealth health) {
        return "replication slot " + health.name() + " on v1 was invalidated by PostgreSQL (wal_status lost: it retained"
                + " more WAL than max_slot_wal_keep_size), so capture stopped; " + lostChanges(health);
    }

    /** Why capture does not start when its slot is gone although it streamed from it. */
    public static String gone(String slot) {
        return "replication slot " + slot + " is gone from v1, but capture had streamed from it (it was dropped:"
                + " by capture past source.slot.maxRetainedWal, by migrator cleanup or by hand); the changes v1"
                + " committed since then will not reach v2: " + RESTART;
    }

    private static String lostChanges(SlotHealth health) {
        return "the changes v1 committed after " + (health.confirmedFlushLsn() == null ? "capture's last position"
                : "LSN " + health.confirmedFlushLsn() + " (capture's last confirmed position)")
                + " will not reach v2: " + RESTART;
    }

    private static final String RESTART = "start the migration over from a new snapshot: stop the migrator, empty the"
            + " v2 tables, then migrator cutover enforce, migrator cleanup --kafka --state --yes and migrator run, each"
            + " with --spec (docs/runbook.md, \"Restarting after the slot was dropped or lost\")";

    /** Stops watching; a drop in progress finishes first (within {@code timeout}). */
    public void close(Duration timeout) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
