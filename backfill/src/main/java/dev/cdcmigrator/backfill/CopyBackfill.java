package dev.cdcmigrator.backfill;

import dev.cdcmigrator.backfill.internal.ExportedSnapshot;
import dev.cdcmigrator.backfill.internal.Progress;
import dev.cdcmigrator.backfill.internal.TableCopy;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.Snapshot;
import dev.cdcmigrator.pg.UnreachableException;
import dev.cdcmigrator.sink.TargetConstraints;
import dev.cdcmigrator.transform.ColumnReads;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The capture stage with {@code backfill.mode: copy}: first the backfill, then capture streaming from the slot.
 *
 * <p>The backfill creates the replication slot itself, with an exported snapshot, and copies every captured table from
 * that snapshot in key-range chunks ({@code backfill.parallelism} at once): rows read in the transform's wire form,
 * mapped by the transform's code, written to v2 with COPY. Each row also goes to its raw partition as a
 * {@link dev.cdcmigrator.common.event.BackfilledRow}, so that the transform holds its image and position as after a
 * snapshot read (filling unchanged TOASTed values of later updates, ordering replays), but writes nothing for it. A
 * chunk's v2 rows and its "copied" mark commit in one target transaction, so a restart copies only the chunks not
 * done, from a new snapshot; the snapshot-completed marker then tells the transform which chunks those were, so it
 * skips the streamed changes they already hold. A table without a primary key is copied in block ranges whose chunks
 * commit together, and sends no rows: the marker names it instead. Then Debezium streams from the slot's consistent
 * point ({@code snapshot.mode: no_data}).
 */
public final class CopyBackfill {

    private static final Logger LOGGER = LoggerFactory.getLogger(CopyBackfill.class);
    private static final JsonSerde<SnapshotCompleted> MARKER = JsonSerde.of(SnapshotCompleted.class);

    private final Spec spec;
    private final String bootstrapServers;
    private final MeterRegistry registry;
    private final Progress progress;
    private final String slot;
    private final ExecutorService main = Executors.newSingleThreadExecutor(r -> new Thread(r, "migrator-backfill"));
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicReference<Capture> capture = new AtomicReference<>();
    private final AtomicInteger chunksDone = new AtomicInteger();
    private final AtomicInteger chunksPlanned = new AtomicInteger();
    private final Map<String, Counter> rowCounters = new HashMap<>();
    private volatile boolean stopping;
    private volatile String slotWait;
    private volatile ExecutorService workers;

    private CopyBackfill(Spec spec, String bootstrapServers, MeterRegistry registry) {
        this.spec = spec;
        this.bootstrapServers = bootstrapServers;
        this.registry = registry;
        this.progress = new Progress(spec.target().stateSchema(), spec.kafka().topicPrefix());
        this.slot = new Topics(spec).slot();
        Map.of("done", chunksDone, "planned", chunksPlanned).forEach((state, count) -> Gauge.builder("migrator.backfill.chunks", count, AtomicInteger::get)
                .description("Chunks the copy backfill has copied (done, including those of an earlier run) of those planned")
                .baseUnit("chunks").tag("state", state).strongReference(true).register(registry));
    }

    /**
     * Starts the backfill, then capture, on their own thread.
     *
     * @param debeziumOverrides Debezium settings that replace the defaults (the snapshot mode is always no_data)
     * @param producerOverrides producer settings that replace the defaults, for capture's and the backfill's producers
     */
    public static CopyBackfill start(Spec spec, String bootstrapServers, MeterRegistry registry,
                                     Map<String, String> debeziumOverrides, Map<String, Object> producerOverrides) {
        CopyBackfill backfill = new CopyBackfill(spec, bootstrapServers, registry);
        backfill.main.execute(() -> {
            try {
                backfill.copy(producerOverrides);
                if (backfill.stopping) {
                    return;
                }
                Map<String, String> overrides = new HashMap<>(debeziumOverrides);
                overrides.put("snapshot.mode", "no_data");
                backfill.capture.set(Capture.start(spec, ColumnReads.captured(spec), bootstrapServers, registry, overrides, producerOverrides));
            } catch (Throwable e) {
                if (!backfill.stopping) {
                    backfill.failure.set(e);
                    LOGGER.error("backfill failed: {}", e.getMessage(), e);
                }
            }
        });
        return backfill;
    }

    /** Whether the backfill is done and capture streams. */
    public boolean running() {
        Capture c = capture.get();
        return c != null && c.running() && failure.get() == null;
    }

    /** Why the backfill or capture stopped by itself, if it did. */
    public Throwable failure() {
        Throwable own = failure.get();
        Capture c = capture.get();
        return own != null ? own : c == null ? null : c.failure();
    }

    /** What it is doing while not running yet. */
    public String starting() {
        String waiting = slotWait;
        if (waiting != null) {
            return waiting;
        }
        return capture.get() == null
                ? "copying v1 (" + chunksDone.get() + " of " + chunksPlanned.get() + " chunks done)"
                : "connecting to v1 to stream from the slot";
    }

    /** Stops the copy (a chunk in flight rolls back and is copied again on restart) or capture. */
    public void close(Duration timeout) {
        stopping = true;
        ExecutorService running = workers;
        if (running != null) {
            running.shutdownNow();
        }
        main.shutdownNow();
        try {
            if (!main.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                LOGGER.warn("backfill did not stop within {}", timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Capture c = capture.get();
        if (c != null) {
            c.close(timeout);
        }
    }

    // The producer's meters are a resource only to be removed with it, never referenced.
    @SuppressWarnings("try")
    private void copy(Map<String, Object> producerOverrides) throws Exception {
        Capture.prepareSource(spec);
        try (Connection v1 = source("migrator-backfill"); Connection v2 = target("migrator-backfill")) {
            progress.ensure(v2);
            // The copy writes v2 before the sink starts: v2's foreign keys and triggers must be out of its way too.
            TargetConstraints.of(spec).suspend(v2);
            Optional<Progress.Run> run = progress.run(v2, slot);
            Optional<Boolean> slotActive = slotActive(v1);
            boolean streamed = Capture.streamedBefore(spec, bootstrapServers);
            if (slotActive.isPresent() && (streamed || run.isPresent() && run.get().completed())) {
                LOGGER.info("backfill: completed earlier for slot {}", slot);
                return;
            }
            if (streamed) {
                throw new IllegalStateException("replication slot " + slot + " is gone, but capture had streamed from it;"
                        + " the changes since then are lost to the migrator. Empty the v2 tables, run migrator cleanup,"
                        + " then start again");
            }
            boolean resume = run.isPresent() && slotActive.isPresent();
            if (!resume) {
                if (run.isPresent() && progress.chunks(v2, slot).stream().anyMatch(Progress.Chunk::done)) {
                    throw new IllegalStateException("replication slot " + slot + " is gone, but the backfill had copied"
                            + " rows for it into v2; the changes since then are lost to the migrator. Empty the v2 tables"
                            + " and delete the rows of slot " + slot + " from " + spec.target().stateSchema()
                            + ".backfill and backfill_chunks (or run migrator cleanup), then start again");
                }
                if (slotActive.isPresent()) {
                    if (slotActive.get()) {
                        throw new IllegalStateException("replication slot " + slot + " is in use by another process; only one capture may run per slot");
                    }
                    // A slot without a backfill (an earlier Debezium-mode start that never streamed): its changes are
                    // superseded by the copy's snapshot.
                    try (PreparedStatement drop = v1.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                        drop.setString(1, slot);
                        drop.execute();
                    }
                }
            }
            try (Producer<byte[], byte[]> producer = producer(producerOverrides);
                 KafkaClientMetrics producerMetrics = bind(producer);
                 ExportedSnapshot snapshot = ExportedSnapshot.createSlot(spec, resume ? slot + "_resume" : slot, resume, waiting -> {
                     LOGGER.warn("backfill: {}", waiting);
                     slotWait = waiting;
                 })) {
                slotWait = null;
                Map<String, TableCopy> tables = plan(snapshot.name(), v2, producer);
                long slotLsn;
                SnapshotCompleted.Recopied recopied = null;
                if (resume) {
                    slotLsn = run.get().slotLsn();
                    recopied = snapshotOf(snapshot);
                    LOGGER.info("backfill: resuming for slot {} (consistent point {}) from a new snapshot", slot, slotLsn);
                } else {
                    slotLsn = snapshot.lsn();
                    List<Progress.Chunk> chunks = new ArrayList<>();
                    try (Connection reader = Snapshot.join(source("migrator-backfill-plan"), snapshot.name())) {
                        for (TableCopy table : tables.values()) {
                            chunks.addAll(table.chunks(reader, spec.backfill().chunkRows()));
                        }
                    }
                    progress.start(v2, slot, slotLsn, chunks);
                    LOGGER.info("backfill: created slot {} at {}; copying {} chunks of {} tables", slot, slotLsn, chunks.size(), tables.size());
                }
                List<Progress.Chunk> all = progress.chunks(v2, slot);
                List<String> order = new ArrayList<>(tables.keySet());
                List<Progress.Chunk> pending = all.stream().filter(c -> !c.done())
                        .sorted(Comparator.comparingInt((Progress.Chunk c) -> order.indexOf(c.table())).thenComparingInt(Progress.Chunk::index))
                        .toList();
                chunksPlanned.set(all.size());
                chunksDone.set(all.size() - pending.size());
                copyAll(tables, pending, snapshot.name(), slotLsn, recopied, producer);
                Set<String> ranged = tables.values().stream().filter(TableCopy::chunksCommitAlone).map(TableCopy::table)
                        .collect(Collectors.toSet());
                List<String> keyless = tables.values().stream().filter(TableCopy::keyless)
                        .map(table -> spec.source().schema() + "." + table.table()).toList();
                sendMarkers(producer, new SnapshotCompleted(slotLsn, System.currentTimeMillis(),
                        progress.recopied(v2, slot, spec.source().schema(), ranged), keyless));
                progress.complete(v2, slot);
                LOGGER.info("backfill: complete for slot {}; capture streams from {}", slot, slotLsn);
            }
        }
    }

    /** Plans every captured table, lookup tables first, in the snapshot. */
    private Map<String, TableCopy> plan(String snapshot, Connection v2, Producer<byte[], byte[]> producer) throws SQLException {
        Map<String, TableCopy> tables = new LinkedHashMap<>();
        Topics topics = new Topics(spec);
        try (Connection reader = Snapshot.join(source("migrator-backfill-plan"), snapshot)) {
            for (String table : Capture.publishedTables(spec)) {
                if (table.equals(topics.heartbeatTable())) {
                    continue;
                }
                tables.put(table, TableCopy.plan(spec, table, reader, v2, producer.partitionsFor(topics.raw(table)).size()));
            }
        }
        return tables;
    }

    private void copyAll(Map<String, TableCopy> tables, List<Progress.Chunk> pending, String snapshot, long slotLsn,
                         SnapshotCompleted.Recopied recopied, Producer<byte[], byte[]> producer) throws Exception {
        Map<String, SharedTarget> shared = new HashMap<>();
        for (Progress.Chunk chunk : pending) {
            if (!tables.get(chunk.table()).chunksCommitAlone()) {
                shared.computeIfAbsent(chunk.table(), SharedTarget::new).chunks++;
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(spec.backfill().parallelism(), r -> new Thread(r, "migrator-backfill-copy"));
        workers = pool;
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Progress.Chunk chunk : pending) {
                futures.add(pool.submit(() -> {
                    copyChunk(tables.get(chunk.table()), chunk, shared.get(chunk.table()), snapshot, slotLsn, recopied, producer);
                    return null;
                }));
            }
            for (Future<?> future : futures) {
                try {
                    future.get();
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof Exception cause ? cause : e;
                }
            }
        } finally {
            pool.shutdownNow();
            for (SharedTarget target : shared.values()) {
                target.close();
            }
        }
    }

    /**
     * Copies one chunk: reads it on its own v1 connection (inside the snapshot), then writes it in its own v2
     * transaction, or, for a table whose chunks commit together, in the table's {@code shared} one.
     */
    private void copyChunk(TableCopy table, Progress.Chunk chunk, SharedTarget shared, String snapshot, long slotLsn,
                           SnapshotCompleted.Recopied recopied, Producer<byte[], byte[]> producer) throws Exception {
        long started = System.nanoTime();
        TableCopy.Read read;
        try (Connection v1 = Snapshot.join(source("migrator-backfill-copy"), snapshot)) {
            read = table.read(chunk, v1, producer, slotLsn, recopied == null ? slotLsn : recopied.copiedLsn());
        }
        if (stopped()) {
            return;
        }
        if (shared != null) {
            shared.write(chunk, read, recopied, started);
            return;
        }
        try (Connection v2 = target("migrator-backfill-copy")) {
            v2.setAutoCommit(false);
            TableCopy.Copied copied = read.write(v2, progress, slot, recopied);
            if (stopped()) {
                v2.rollback();
                return;
            }
            v2.commit();
            counted(chunk.table(), List.of(copied));
            LOGGER.info("backfill: table={} chunk={} rows={} dead_lettered={} in {} ms ({} of {} chunks done)", chunk.table(), chunk.index(),
                    copied.rows(), copied.deadLettered(), millisSince(started), chunksDone.incrementAndGet(), chunksPlanned.get());
        }
    }

    private boolean stopped() {
        return stopping || Thread.currentThread().isInterrupted();
    }

    private static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    private void counted(String table, List<TableCopy.Copied> copied) {
        rows(table, "copied").increment(copied.stream().mapToLong(TableCopy.Copied::rows).sum());
        rows(table, "dead_lettered").increment(copied.stream().mapToLong(TableCopy.Copied::deadLettered).sum());
    }

    /**
     * The one v2 transaction in which the chunks of a table whose chunks commit together are written (see
     * {@link TableCopy#chunksCommitAlone}), one chunk at a time, while they are read in parallel; it commits with the
     * table's last chunk.
     */
    private final class SharedTarget {

        private final String table;
        private final List<TableCopy.Copied> written = new ArrayList<>();
        private int chunks;
        private Connection v2;
        private Exception failed;

        SharedTarget(String table) {
            this.table = table;
        }

        synchronized void write(Progress.Chunk chunk, TableCopy.Read read, SnapshotCompleted.Recopied recopied, long started)
                throws Exception {
            if (failed != null) {
                // The transaction is aborted: the later chunks fail with what failed it, not with "transaction aborted".
                throw failed;
            }
            TableCopy.Copied copied;
            try {
                if (v2 == null) {
                    v2 = target("migrator-backfill-copy");
                    v2.setAutoCommit(false);
                }
                copied = read.write(v2, progress, slot, recopied);
            } catch (Exception e) {
                failed = e;
                throw e;
            }
            written.add(copied);
            LOGGER.info("backfill: table={} chunk={} rows={} dead_lettered={} in {} ms (commits with the table's last chunk, {} of {})",
                    table, chunk.index(), copied.rows(), copied.deadLettered(), millisSince(started), written.size(), chunks);
            if (written.size() < chunks || stopped()) {
                return;
            }
            v2.commit();
            counted(table, written);
            LOGGER.info("backfill: table={} committed its {} chunks ({} of {} chunks done)", table, chunks,
                    chunksDone.addAndGet(chunks), chunksPlanned.get());
        }

        /** Closes the connection: a transaction not committed yet rolls back, and the table is copied again on restart. */
        synchronized void close() {
            if (v2 != null) {
                try {
                    v2.close();
                } catch (SQLException e) {
                    LOGGER.warn("backfill: closing the v2 connection of table {}: {}", table, e.getMessage());
                }
            }
        }
    }

    private Counter rows(String table, String outcome) {
        synchronized (rowCounters) {
            return rowCounters.computeIfAbsent(table + "/" + outcome, k -> Counter.builder("migrator.backfill.rows")
                    .description("v1 rows the copy backfill wrote to v2 (copied) or sent to the dead-letter topic")
                    .baseUnit("rows").tag("table", table).tag("outcome", outcome).register(registry));
        }
    }

    /** The snapshot's transaction bounds, which the transform compares the streamed changes' transaction ids with. */
    private SnapshotCompleted.Recopied snapshotOf(ExportedSnapshot snapshot) throws SQLException {
        try (Connection reader = Snapshot.join(source("migrator-backfill-plan"), snapshot.name());
             Statement st = reader.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
                     + " array(SELECT x::text::bigint FROM pg_snapshot_xip(s) x) FROM pg_current_snapshot() s")) {
            rs.next();
            Long[] xip = (Long[]) rs.getArray(3).getArray();
            return new SnapshotCompleted.Recopied("", null, null, rs.getLong(1), rs.getLong(2), List.of(xip), snapshot.lsn());
        }
    }

    /** Tells every transform task that the copy is complete (see {@link SnapshotCompleted}). */
    private void sendMarkers(Producer<byte[], byte[]> producer, SnapshotCompleted marker) throws Exception {
        Topics topics = new Topics(spec);
        RecordHeaders headers = new RecordHeaders();
        headers.add(new RecordHeader(SnapshotCompleted.HEADER, SnapshotCompleted.TYPE));
        List<Future<?>> acks = new ArrayList<>();
        for (String table : spec.capturedTables()) {
            for (PartitionInfo partition : producer.partitionsFor(topics.raw(table))) {
                acks.add(producer.send(new ProducerRecord<>(partition.topic(), partition.partition(), null, null,
                        MARKER.serialize(null, marker), headers)));
            }
        }
        for (Future<?> ack : acks) {
            ack.get();
        }
    }

    private Optional<Boolean> slotActive(Connection v1) throws SQLException {
        try (PreparedStatement ps = v1.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBoolean(1)) : Optional.empty();
            }
        }
    }

    private Producer<byte[], byte[]> producer(Map<String, Object> overrides) {
        Map<String, Object> props = new HashMap<>(KafkaClients.common(spec, bootstrapServers));
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        // A row may be as large as capture's change of it (a TOASTed value of many MB), which the raw topic takes.
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TopicProvisioner.MAX_MESSAGE_BYTES);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "migrator-backfill");
        props.putAll(KafkaClients.producerOverrides(spec));
        props.putAll(overrides);
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** The copy producer's meters, for as long as it copies. */
    private KafkaClientMetrics bind(Producer<byte[], byte[]> producer) {
        KafkaClientMetrics metrics = new KafkaClientMetrics(producer);
        metrics.bindTo(registry);
        return metrics;
    }

    private Connection source(String application) {
        return Connections.open(UnreachableException.What.SOURCE, spec.source().url(), spec.source().user(), spec.source().password(), application);
    }

    private Connection target(String application) {
        return Connections.open(UnreachableException.What.TARGET, spec.target().url(), spec.target().user(), spec.target().password(), application);
    }
}
