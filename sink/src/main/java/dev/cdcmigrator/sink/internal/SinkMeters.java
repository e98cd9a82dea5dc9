package dev.cdcmigrator.sink.internal;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The sink's meters (docs/metrics.md). Every meter of a table the sink knows is registered up front, at zero, so a
 * dashboard or an alert sees each series before its first event. Counters and the latency timer are recorded by the
 * sink thread; the lag gauges are read by whatever scrapes the registry and only read fields the sink thread writes.
 */
public final class SinkMeters {

    static final String APPLIED = "migrator.sink.rows.applied";
    static final String LATENCY = "migrator.sink.latency";
    static final String RECORDS_BEHIND = "migrator.sink.records.behind";
    static final String SECONDS_BEHIND = "migrator.sink.seconds.behind";
    static final String SNAPSHOT_ROWS = "migrator.sink.snapshot.rows.applied";
    static final String ERRORS = "migrator.stage.errors";

    /** The outcomes of {@value #APPLIED}. */
    public static final String UPSERTED = "upserted";
    public static final String DELETED = "deleted";
    public static final String DEAD_LETTERED = "dead_lettered";
    /** A replayed dead letter older than its row's newest applied change: not applied. */
    public static final String SUPERSEDED = "superseded";

    private final MeterRegistry registry;
    private final Clock clock;
    private final Map<String, Counter> applied = new ConcurrentHashMap<>();
    private final Map<String, Timer> latency = new ConcurrentHashMap<>();
    private final Map<String, Counter> snapshotRows = new ConcurrentHashMap<>();
    private final Map<String, Lag> lag = new ConcurrentHashMap<>();
    private final Counter retried;
    private final Counter failed;

    /** What the lag gauges of one v2 table read. */
    private static final class Lag {
        /** NaN until the sink has measured the table (no partition of it assigned yet). */
        volatile double recordsBehind = Double.NaN;
        /** Source commit time (ms) of the oldest change of the table polled and not yet committed; -1 for none. */
        volatile long pendingSinceMs = -1;
    }

    /**
     * @param registry where the meters go
     * @param sources the v1 tables feeding each v2 table (v2 table name to v1 table names, unqualified); the v2
     *                tables are the sink's tables
     */
    public SinkMeters(MeterRegistry registry, Map<String, ? extends Collection<String>> sources) {
        this.registry = registry;
        this.clock = registry.config().clock();
        this.retried = errors("retried");
        this.failed = errors("failed");
        sources.forEach((table, v1Tables) -> {
            for (String outcome : new String[] {UPSERTED, DELETED, DEAD_LETTERED, SUPERSEDED}) {
                appliedCounter(table, outcome);
            }
            latencyTimer(table);
            v1Tables.forEach(v1 -> snapshotCounter(table, v1));
            lagOf(table);
        });
    }

    /** A row change the sink has finished with in a committed transaction. */
    public void applied(String table, String outcome) {
        appliedCounter(table, outcome).increment();
    }

    /**
     * A change the sink applied, committed at {@code committedAtMs}, that v1 committed at {@code sourceTsMs}. A clock
     * behind v1's (a negative difference) counts as zero.
     */
    public void latency(String table, long sourceTsMs, long committedAtMs) {
        latencyTimer(table).record(Math.max(0, committedAtMs - sourceTsMs), TimeUnit.MILLISECONDS);
    }

    /** A row of the initial snapshot of {@code v1Table} applied to {@code table}. */
    public void snapshotRowApplied(String table, String v1Table) {
        snapshotCounter(table, v1Table).increment();
    }

    /** The target could not be reached or refused the batch for a passing reason; the sink retries. */
    public void retried() {
        retried.increment();
    }

    /** The sink stopped on an error it does not retry. */
    public void failed() {
        failed.increment();
    }

    /** The wall clock of the registry (ms since the epoch). */
    public long now() {
        return clock.wallTime();
    }

    /**
     * A batch was polled: the oldest source commit time of each table's changes in it. Each such table's seconds
     * behind now counts from that time (replacing the value of an earlier batch, whose changes are committed).
     */
    public void batchInFlight(Map<String, Long> oldestSourceTsMsByTable) {
        oldestSourceTsMsByTable.forEach((table, ts) -> lagOf(table).pendingSinceMs = ts);
    }

    /**
     * Records behind per table as just measured (polled-but-uncommitted records included). Tables absent from the
     * map are left as they were (not measured: no partition of theirs with a known end offset). A table with
     * nothing behind has nothing pending: its seconds behind becomes 0.
     */
    public void recordsBehind(Map<String, Long> byTable) {
        byTable.forEach((table, behind) -> {
            Lag l = lagOf(table);
            l.recordsBehind = behind;
            if (behind == 0) {
                l.pendingSinceMs = -1;
            }
        });
    }

    double recordsBehindOf(String table) {
        return lagOf(table).recordsBehind;
    }

    double secondsBehindOf(String table) {
        return secondsBehind(lagOf(table));
    }

    private double secondsBehind(Lag l) {
        long since = l.pendingSinceMs;
        return since < 0 ? 0 : Math.max(0, clock.wallTime() - since) / 1000.0;
    }

    private Counter appliedCounter(String table, String outcome) {
        return applied.computeIfAbsent(table + "/" + outcome, k -> Counter.builder(APPLIED)
                .description("v2 row changes the sink has finished with, by outcome")
                .baseUnit("rows")
                .tag("table", table)
                .tag("outcome", outcome)
                .register(registry));
    }

    private Timer latencyTimer(String table) {
        return latency.computeIfAbsent(table, t -> Timer.builder(LATENCY)
                .description("End-to-end latency of a change: from its commit on v1 to the commit of its v2 row"
                        + " (streamed changes only, not snapshot reads)")
                .tag("table", t)
                .publishPercentileHistogram()
                .publishPercentiles(0.5, 0.99)
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofHours(1))
                .register(registry));
    }

    private Counter snapshotCounter(String table, String v1Table) {
        return snapshotRows.computeIfAbsent(table + "/" + v1Table, k -> Counter.builder(SNAPSHOT_ROWS)
                .description("Rows of the initial snapshot (backfill) of a v1 table applied to a v2 table")
                .baseUnit("rows")
                .tag("table", table)
                .tag("source_table", v1Table)
                .register(registry));
    }

    private Counter errors(String outcome) {
        return Counter.builder(ERRORS)
                .description("Errors a stage met: retried (the stage waits and tries again) or failed (the stage stopped)")
                .baseUnit("errors")
                .tag("stage", "sink")
                .tag("outcome", outcome)
                .register(registry);
    }

    private Lag lagOf(String table) {
        return lag.computeIfAbsent(table, t -> {
            Lag l = new Lag();
            Gauge.builder(RECORDS_BEHIND, l, x -> x.recordsBehind)
                    .description("v2 records in Kafka the sink has not applied yet (end offset minus the sink's"
                            + " position, plus the batch in flight), summed over the table's partitions")
                    .baseUnit("records")
                    .tag("table", t)
                    .strongReference(true)
                    .register(registry);
            Gauge.builder(SECONDS_BEHIND, l, this::secondsBehind)
                    .description("Age (now minus v1 commit time) of the oldest change of the table the sink has"
                            + " received but not applied; 0 when nothing is pending")
                    .baseUnit("seconds")
                    .tag("table", t)
                    .strongReference(true)
                    .register(registry);
            return l;
        });
    }
}
