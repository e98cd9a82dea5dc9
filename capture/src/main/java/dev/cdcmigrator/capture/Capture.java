package dev.cdcmigrator.capture;

import dev.cdcmigrator.capture.internal.ClosingKafkaOffsetStore;
import dev.cdcmigrator.capture.internal.ColumnFilter;
import dev.cdcmigrator.capture.internal.KafkaHandoff;
import dev.cdcmigrator.capture.internal.Publication;
import dev.cdcmigrator.capture.internal.SlotGuard;
import dev.cdcmigrator.capture.internal.SnapshotGuard;
import dev.cdcmigrator.capture.internal.StreamingMetrics;
import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.JdbcUrl;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Connections;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running capture stage: Debezium Embedded reading v1 through a pgoutput replication slot (initial snapshot,
 * then streaming) and publishing each change to its raw topic, keyed by the v1 primary key, in Debezium's JSON
 * envelope, carrying only the columns the spec reads ({@link CapturedColumns}). Debezium's offsets live in a Kafka
 * topic. A {@link SlotGuard} watches the slot: capture stops (and past
 * {@code source.slot.maxRetainedWal} drops its slot) rather than let v1's disk fill.
 */
public final class Capture implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(Capture.class);

    private final DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
    private final Producer<byte[], byte[]> producer;
    private final KafkaClientMetrics producerMetrics;
    private final SlotGuard guard;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "migrator-capture"));
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean streaming;
    private volatile boolean stopped;

    private Capture(Spec spec, String columnIncludeList, String bootstrapServers, MeterRegistry registry,
                    Map<String, String> debeziumOverrides, Map<String, Object> producerOverrides) {
        Topics topics = new Topics(spec);
        Properties props = debeziumProperties(spec, bootstrapServers);
        props.setProperty("column.include.list", columnIncludeList);
        props.putAll(KafkaClients.debeziumOverrides(spec));
        props.putAll(debeziumOverrides);
        if ("initial".equals(props.getProperty("snapshot.mode"))) {
            SnapshotGuard.beforeStart(props.getProperty("offset.storage.topic"), props.getProperty("topic.prefix"),
                    KafkaClients.consumer(spec, bootstrapServers), spec.source().url(), spec.source().user(), spec.source().password(),
                    props.getProperty("slot.name"));
        }
        Properties producerProps = new Properties();
        producerProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProps.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producerProps.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        producerProps.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        producerProps.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TopicProvisioner.MAX_MESSAGE_BYTES);
        producerProps.put(ProducerConfig.CLIENT_ID_CONFIG, "migrator-capture");
        producerProps.putAll(KafkaClients.producerOverrides(spec));
        producerProps.putAll(producerOverrides);
        this.producer = new KafkaProducer<>(producerProps, new ByteArraySerializer(), new ByteArraySerializer());
        this.producerMetrics = new KafkaClientMetrics(producer);
        producerMetrics.bindTo(registry);
        StreamingMetrics.register(registry, props.getProperty("topic.prefix"));
        this.engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(props)
                .using(new DebeziumEngine.ConnectorCallback() {
                    @Override
                    public void pollingStarted() {
                        streaming = true;
                        LOGGER.info("capture started slot={} tables={}", props.getProperty("slot.name"), publishedTables(spec));
                    }
                })
                .using((success, message, error) -> {
                    streaming = false;
                    if (!success && !stopped) {
                        failure.compareAndSet(null, error != null ? error : new IllegalStateException(message));
                        LOGGER.error("capture stopped: {}", message, error);
                    } else {
                        LOGGER.info("capture stopped: {}", message);
                    }
                })
                .notifying(new KafkaHandoff(producer, registry, props.getProperty("topic.heartbeat.prefix", "__debezium-heartbeat"),
                        publishedTables(spec).stream().map(topics::raw).toList(),
                        spec.capturedTables().stream().map(topics::raw).toList(), converterConfig(props),
                        Topics.otherDirection(spec)))
                .build();
        this.guard = SlotGuard.start(spec.source(), topics.slot(), registry, () -> {
            stopped = true;
            closeEngine(System.nanoTime() + Duration.ofSeconds(30).toNanos());
        }, reason -> {
            failure.compareAndSet(null, reason);
            LOGGER.error("capture stopped: {}", reason.getMessage());
        });
    }

    /**
     * Starts capture on its own thread.
     *
     * @param spec the migration spec
     * @param columns what to capture of each table ({@code ColumnReads.captured(spec)} in the transform module); each
     *                table's identity columns are added from v1's catalog as it is at start
     * @param bootstrapServers the Kafka cluster
     * @param registry receives capture's meters
     * @param debeziumOverrides Debezium connector and engine settings that replace the defaults
     * @param producerOverrides producer settings that replace the defaults
     */
    public static Capture start(Spec spec, CapturedColumns columns, String bootstrapServers, MeterRegistry registry,
                                Map<String, String> debeziumOverrides, Map<String, Object> producerOverrides) {
        prepareSource(spec);
        String includeList;
        try (java.sql.Connection c = Connections.connect(spec.source().url(), Connections.settings(spec.source().user(), spec.source().password(), "migrator-capture"))) {
            includeList = ColumnFilter.includeList(spec.source().schema(), new Topics(spec).heartbeatTable(), columns,
                    CapturedColumns.identityColumns(c, spec.source().schema(), List.copyOf(columns.tables().keySet())));
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("capture cannot read the primary keys and replica identities of the v1 tables: "
                    + e.getMessage(), e);
        }
        Capture capture = new Capture(spec, includeList, bootstrapServers, registry, debeziumOverrides, producerOverrides);
        capture.executor.execute(capture.engine);
        return capture;
    }

    /**
     * Whether capture has published anything past an initial snapshot: Debezium then streams on from its offsets, and
     * no backfill is needed (or allowed) before it.
     */
    public static boolean streamedBefore(Spec spec, String bootstrapServers) {
        Topics topics = new Topics(spec);
        return SnapshotGuard.lastOffset(topics.captureOffsets(), topics.rawPrefix(), KafkaClients.consumer(spec, bootstrapServers))
                .filter(SnapshotGuard::streamsOn).isPresent();
    }

    /**
     * Creates what capture needs on v1 before a replication slot can exist: the heartbeat table and the publication of
     * every table capture reads ({@link Publication}), so that a slot made before Debezium starts decodes from its
     * first position on. Idempotent.
     *
     * @throws IllegalStateException naming what is wrong and the fix, when v1 refuses or an existing publication
     *                               cannot be used
     */
    public static void prepareSource(Spec spec) {
        Heartbeats.createIfAbsent(spec);
        String publication = new Topics(spec).slot();
        try (java.sql.Connection c = Connections.connect(spec.source().url(), Connections.settings(spec.source().user(), spec.source().password(), "migrator-capture"))) {
            Publication.ensure(c, publication, spec.source().schema(), publishedTables(spec), spec.kafka().topicPrefix());
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("capture cannot create or narrow publication " + publication + " on v1: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Why capture would refuse to start on v1 as it is now (see {@link #prepareSource}); reads only, for
     * {@code migrator check}.
     */
    public static List<Refusal> sourceRefusals(Spec spec, java.sql.Connection v1) throws java.sql.SQLException {
        List<Refusal> refusals = new java.util.ArrayList<>(
                Publication.refusals(v1, new Topics(spec).slot(), spec.source().schema(), publishedTables(spec),
                        spec.kafka().topicPrefix()));
        refusals.addAll(Heartbeats.refusals(v1, spec));
        return refusals;
    }

    /**
     * The v1 tables capture reads, in the order Debezium snapshots them: lookup tables first (rows whose dimensions
     * look up a table not read yet would otherwise wait for it in the transform), then the rest and the heartbeat table.
     */
    public static List<String> publishedTables(Spec spec) {
        java.util.Set<String> tables = new java.util.LinkedHashSet<>(spec.lookupTables().keySet());
        tables.addAll(spec.capturedTables());
        tables.add(new Topics(spec).heartbeatTable());
        return List.copyOf(tables);
    }

    /** The Debezium settings derived from the spec (before overrides). */
    static Properties debeziumProperties(Spec spec, String bootstrapServers) {
        Topics topics = new Topics(spec);
        JdbcUrl url = spec.source().jdbcUrl();
        Properties p = new Properties();
        p.setProperty("name", topics.slot() + "-capture");
        p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        p.setProperty("offset.storage", ClosingKafkaOffsetStore.class.getName());
        p.setProperty("offset.storage.topic", topics.captureOffsets());
        p.setProperty("offset.storage.partitions", "1");
        p.setProperty("offset.storage.replication.factor", String.valueOf(spec.kafka().replicationFactor()));
        p.setProperty("offset.flush.interval.ms", "1000");
        p.setProperty("bootstrap.servers", bootstrapServers);
        p.setProperty("database.hostname", url.host());
        p.setProperty("database.port", String.valueOf(url.port()));
        p.setProperty("database.dbname", url.database());
        p.setProperty("database.user", spec.source().user());
        p.setProperty("database.password", spec.source().password());
        // Debezium connects with its own URL from host, port and database, and hands every database.* setting to
        // PgJDBC (its ssl* fields are PgJDBC's names too): so the v1 URL's properties, TLS first, reach capture's
        // connections, replication included, as they reach every other connection to v1.
        url.properties().forEach((name, value) -> p.setProperty("database." + name, value));
        p.setProperty("topic.prefix", topics.rawPrefix());
        p.setProperty("topic.naming.strategy", dev.cdcmigrator.capture.internal.RawTopicNaming.class.getName());
        p.setProperty("plugin.name", "pgoutput");
        p.setProperty("slot.name", topics.slot());
        p.setProperty("publication.name", topics.slot());
        // Capture manages the publication (prepareSource), and Debezium filters nothing: whatever the publication
        // sends reaches KafkaHandoff, which publishes the tables capture reads and counts and names any other, so
        // that no change is dropped unseen (a partition reported under its own name, a table added by hand). The
        // include list names capture's tables first only because Debezium snapshots in its order: lookup tables
        // first, the heartbeat table last (cutover wait relies on it: a snapshot read of the heartbeat row comes
        // after every other read); the final ".*" lets every other table through.
        p.setProperty("publication.autocreate.mode", "disabled");
        String captured = dev.cdcmigrator.capture.internal.ColumnFilter.tableList(spec.source().schema(), publishedTables(spec));
        p.setProperty("table.include.list", captured + ",.*");
        p.setProperty("snapshot.include.collection.list", captured);
        // An idle v1 still writes WAL (other databases, checkpoints): a periodic write to a captured table lets the
        // slot's confirmed position follow, so the slot does not hold WAL back.
        p.setProperty("heartbeat.interval.ms", "10000");
        p.setProperty("heartbeat.action.query", Heartbeats.actionQuery(spec));
        p.setProperty("snapshot.mode", "initial");
        // Debezium sleeps this long whenever its queue is empty, so a change arriving just after a check waits for
        // it: at the default of 500 ms that was most of the pipeline's latency, at 50 ms still 25 ms on average
        // (docs/benchmarks.md); a hundred idle wake-ups a second cost nothing measurable.
        p.setProperty("poll.interval.ms", "10");
        // Encodings the transform turns back into PostgreSQL text input without losing precision.
        p.setProperty("decimal.handling.mode", "string");
        p.setProperty("time.precision.mode", "adaptive_time_microseconds");
        p.setProperty("interval.handling.mode", "string");
        p.setProperty("binary.handling.mode", "bytes");
        p.setProperty("hstore.handling.mode", "json");
        p.setProperty("converters", "postgres_text");
        p.setProperty("postgres_text.type", dev.cdcmigrator.capture.internal.PostgresTextConverter.class.getName());
        // The delete event carries the key; a tombstone after it would add nothing the transform uses.
        p.setProperty("tombstones.on.delete", "false");
        // Debezium skips truncates by default; the transform deletes the rows a truncated table produced.
        p.setProperty("skipped.operations", "none");
        p.setProperty("converter.schemas.enable", "true");
        // Debezium puts a column's DEFAULT into its field schema, and Connect's JSON converter by default writes that
        // default in place of a null: an explicit NULL in v1 would reach v2 as the default (KIP-581).
        p.setProperty("converter.replace.null.with.default", "false");
        return p;
    }

    /** Debezium's {@code converter.} properties without the prefix: what its JSON converter would be configured with. */
    private static Map<String, String> converterConfig(Properties props) {
        return props.stringPropertyNames().stream().filter(name -> name.startsWith("converter."))
                .collect(Collectors.toMap(name -> name.substring("converter.".length()), props::getProperty));
    }

    /** Whether capture has finished starting and reads changes (snapshot or streaming). */
    public boolean running() {
        return streaming && failure.get() == null;
    }

    /** Why capture stopped by itself, if it did. */
    public Throwable failure() {
        return failure.get();
    }

    /**
     * Stops Debezium (which commits its offsets), then the producer, and removes the producer's meters; waits at most
     * {@code timeout}.
     */
    public void close(Duration timeout) {
        stopped = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        // The guard first: a drop of the slot in progress finishes before anything else stops.
        guard.close(timeout);
        closeEngine(deadline);
        executor.shutdown();
        try {
            if (!executor.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                LOGGER.warn("capture did not stop within {}", timeout);
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            producer.close(Duration.ofSeconds(10));
        } finally {
            producerMetrics.close();
        }
    }

    /** Stops Debezium (which commits its offsets and releases the slot), trying until {@code deadline} (nanoTime). */
    private void closeEngine(long deadline) {
        while (true) {
            try {
                engine.close();
                break;
            } catch (IOException e) {
                LOGGER.warn("closing the Debezium engine failed", e);
                break;
            } catch (IllegalStateException e) {
                // Debezium refuses to stop while its tasks are still starting; they finish starting shortly.
                if (System.nanoTime() > deadline) {
                    LOGGER.warn("Debezium did not let capture stop in time: {}", e.getMessage());
                    break;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
