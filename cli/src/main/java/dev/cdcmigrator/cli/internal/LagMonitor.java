package dev.cdcmigrator.cli.internal;

import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.SourceSpec;
import dev.cdcmigrator.common.spec.Spec;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lag gauges that need a look from outside the stages, refreshed every {@link #INTERVAL} by one background
 * thread: the WAL the replication slot keeps on v1 (from its restart position, what v1 cannot remove) with its
 * {@code wal_status} and {@code safe_wal_size}, the transform's records behind on the raw topics, and the v1 tables'
 * estimated row counts (backfill progress). Every stage's process exports them, so a stopped capture does not hide
 * a growing slot. The gauges read cached values, so a scrape never waits on v1 or
 * Kafka; a value that could not be measured is NaN (and logged once until it can be again). One JDBC connection to
 * v1, opened again after a failure, and one Kafka admin client; neither is ever used by a stage.
 */
final class LagMonitor implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(LagMonitor.class);

    /** How often the slot and the transform's offsets are read. */
    static final Duration INTERVAL = Duration.ofSeconds(5);
    /** How often the row estimates are read again (they change only when PostgreSQL analyzes a table). */
    static final Duration ESTIMATE_INTERVAL = Duration.ofMinutes(1);
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    static final String SLOT_LAG = "migrator.capture.slot.lag";
    static final String SLOT_WAL_STATUS = "migrator.capture.slot.wal.status";
    static final String SLOT_SAFE_WAL = "migrator.capture.slot.safe.wal";
    static final String TRANSFORM_BEHIND = "migrator.transform.records.behind";
    static final String ROWS_ESTIMATED = "migrator.capture.snapshot.rows.estimated";

    private static final String ESTIMATES_SQL = """
            SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ? AND c.relname = ANY (?) AND c.relkind IN ('r', 'p')""";

    /** A value a gauge reads; NaN when unknown. */
    private static final class Value {
        volatile double value = Double.NaN;
    }

    private final SourceSpec source;
    private final String slot;
    private final String transformGroup;
    /** Raw topic to v1 table. */
    private final Map<String, String> rawTopics = new TreeMap<>();
    private final Admin admin;
    private final ScheduledExecutorService executor;
    private final Value slotLag = new Value();
    private final Value safeWal = new Value();
    /** wal_status value to 1 for the slot's, 0 for the others. */
    private final Map<String, Value> walStatus = new TreeMap<>();
    private final Map<String, Value> transformBehind = new TreeMap<>();
    private final Map<String, Value> estimated = new TreeMap<>();
    private volatile Connection v1;
    private long estimatesReadAt = Long.MIN_VALUE;
    private boolean v1Failing;
    private boolean kafkaFailing;

    private LagMonitor(Spec spec, String bootstrapServers, MeterRegistry registry) {
        Topics topics = new Topics(spec);
        this.source = spec.source();
        this.slot = topics.slot();
        this.transformGroup = topics.transformApplicationId();
        spec.capturedTables().forEach(t -> rawTopics.put(topics.raw(t), t));
        spec.lookupTables().values().forEach(dependents -> dependents.forEach(t -> rawTopics.put(topics.lookups(t), t)));
        Gauge.builder(SLOT_LAG, slotLag, v -> v.value)
                .description("WAL bytes v1 keeps for the migrator's replication slot: the current WAL position minus"
                        + " the slot's restart position (pg_current_wal_lsn() - restart_lsn)")
                .baseUnit("bytes")
                .strongReference(true)
                .register(registry);
        Gauge.builder(SLOT_SAFE_WAL, safeWal, v -> v.value)
                .description("WAL v1 can still write before max_slot_wal_keep_size invalidates the replication slot"
                        + " (safe_wal_size); NaN when that is unlimited, the slot is lost or absent")
                .baseUnit("bytes")
                .strongReference(true)
                .register(registry);
        for (String status : SlotHealth.WAL_STATUSES) {
            Value v = new Value();
            walStatus.put(status, v);
            Gauge.builder(SLOT_WAL_STATUS, v, x -> x.value)
                    .description("1 for the replication slot's wal_status (reserved, extended, unreserved: about to be"
                            + " invalidated, lost: invalidated, capture cannot go on), 0 for the others")
                    .tag("status", status)
                    .strongReference(true)
                    .register(registry);
        }
        for (String table : spec.capturedTables()) {
            Value behind = new Value();
            transformBehind.put(table, behind);
            Gauge.builder(TRANSFORM_BEHIND, behind, v -> v.value)
                    .description("Raw change records of a v1 table in Kafka the transform has not committed yet (end"
                            + " offset minus the transform's committed offset, summed over partitions)")
                    .baseUnit("records")
                    .tag("table", table)
                    .strongReference(true)
                    .register(registry);
            Value rows = new Value();
            estimated.put(table, rows);
            Gauge.builder(ROWS_ESTIMATED, rows, v -> v.value)
                    .description("Rows of a v1 table as PostgreSQL estimates them (pg_class.reltuples): the total the"
                            + " initial snapshot (backfill) works through")
                    .baseUnit("rows")
                    .tag("table", table)
                    .strongReference(true)
                    .register(registry);
        }
        Map<String, Object> adminProps = new java.util.HashMap<>(Map.of(
                AdminClientConfig.CLIENT_ID_CONFIG, "migrator-lag-monitor",
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis(),
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT.toMillis()));
        adminProps.putAll(dev.cdcmigrator.common.KafkaClients.common(spec, bootstrapServers));
        this.admin = Admin.create(adminProps);
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "migrator-lag-monitor");
            t.setDaemon(true);
            return t;
        });
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.executor = executor;
    }

    /** Registers the gauges and starts polling at once, then every {@link #INTERVAL}. */
    static LagMonitor start(Spec spec, String bootstrapServers, MeterRegistry registry) {
        LagMonitor monitor = new LagMonitor(spec, bootstrapServers, registry);
        monitor.executor.scheduleWithFixedDelay(monitor::poll, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return monitor;
    }

    private void poll() {
        try {
            pollV1();
        } catch (RuntimeException e) {
            LOGGER.warn("lag monitor: reading v1 failed", e);
        }
        try {
            pollKafka();
        } catch (RuntimeException e) {
            LOGGER.warn("lag monitor: reading Kafka failed", e);
        }
    }

    private void pollV1() {
        try {
            if (v1 == null || v1.isClosed()) {
                v1 = connect();
            }
            // Absent: capture has not created the slot yet (or it was dropped).
            Optional<SlotHealth> health = SlotHealth.query(v1, slot);
            slotLag.value = health.map(SlotHealth::retainedWalBytes).map(Long::doubleValue).orElse(Double.NaN);
            safeWal.value = health.map(SlotHealth::safeWalBytes).map(Long::doubleValue).orElse(Double.NaN);
            String status = health.map(SlotHealth::walStatus).orElse(null);
            walStatus.forEach((name, v) -> v.value = name.equals(status) ? 1 : 0);
            long now = System.nanoTime();
            if (estimatesReadAt == Long.MIN_VALUE || now - estimatesReadAt >= ESTIMATE_INTERVAL.toNanos()) {
                readEstimates();
                estimatesReadAt = now;
            }
            if (v1Failing) {
                LOGGER.info("lag monitor: v1 readable again");
                v1Failing = false;
            }
        } catch (SQLException e) {
            slotLag.value = Double.NaN;
            safeWal.value = Double.NaN;
            walStatus.values().forEach(v -> v.value = Double.NaN);
            closeV1();
            if (!v1Failing) {
                LOGGER.warn("lag monitor: cannot read the slot lag from v1 ({}); retrying every {} s", e.getMessage(), INTERVAL.toSeconds());
                v1Failing = true;
            }
        }
    }

    private void readEstimates() throws SQLException {
        try (PreparedStatement st = v1.prepareStatement(ESTIMATES_SQL)) {
            st.setQueryTimeout((int) TIMEOUT.toSeconds());
            st.setString(1, source.schema());
            Array names = v1.createArrayOf("text", estimated.keySet().toArray());
            st.setArray(2, names);
            Map<String, Double> found = new HashMap<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), rs.getDouble(2));
                }
            }
            // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+): unknown, not empty.
            estimated.forEach((table, v) -> {
                Double rows = found.get(table);
                v.value = rows == null || rows < 0 ? Double.NaN : rows;
            });
        }
    }

    private void pollKafka() {
        try {
            Map<String, TopicDescription> described = admin.describeTopics(rawTopics.keySet()).allTopicNames()
                    .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Set<TopicPartition> partitions = described.values().stream()
                    .flatMap(d -> d.partitions().stream().map(p -> new TopicPartition(d.name(), p.partition())))
                    .collect(Collectors.toSet());
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(transformGroup)
                    .partitionsToOffsetAndMetadata().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end = admin.listOffsets(
                    partitions.stream().collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest())))
                    .all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            // A partition the transform never committed on counts from its first record.
            List<TopicPartition> uncommitted = partitions.stream()
                    .filter(tp -> committed.get(tp) == null).toList();
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> start = uncommitted.isEmpty() ? Map.of()
                    : admin.listOffsets(uncommitted.stream().collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.earliest())))
                            .all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<String, Long> behind = new HashMap<>();
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata c = committed.get(tp);
                long from = c != null ? c.offset() : start.get(tp).offset();
                behind.merge(rawTopics.get(tp.topic()), Math.max(0, end.get(tp).offset() - from), Long::sum);
            }
            transformBehind.forEach((table, v) -> {
                Long b = behind.get(table);
                v.value = b == null ? Double.NaN : b;
            });
            if (kafkaFailing) {
                LOGGER.info("lag monitor: Kafka offsets readable again");
                kafkaFailing = false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            transformBehind.values().forEach(v -> v.value = Double.NaN);
            if (!kafkaFailing) {
                LOGGER.warn("lag monitor: cannot read the transform's offsets from Kafka ({}); retrying every {} s", e.toString(), INTERVAL.toSeconds());
                kafkaFailing = true;
            }
        }
    }

    private Connection connect() throws SQLException {
        Connection c = SlotHealth.connect(source, "cdc-migrator-lag-monitor", TIMEOUT);
        c.setReadOnly(true);
        return c;
    }

    private void closeV1() {
        if (v1 != null) {
            try {
                v1.close();
            } catch (SQLException e) {
                LOGGER.debug("closing the lag monitor's v1 connection failed", e);
            }
            v1 = null;
        }
    }

    /** Stops polling (waiting at most a few seconds for a poll in progress), then closes the connection and the admin. */
    @Override
    public void close() {
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS)) {
                LOGGER.warn("lag monitor did not stop within {} s", TIMEOUT.toSeconds() * 2);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // The poll thread has finished (or is stuck in a call that the closes below abort).
        closeV1();
        admin.close(TIMEOUT);
    }
}
