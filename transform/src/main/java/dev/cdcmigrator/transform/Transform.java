package dev.cdcmigrator.transform;

import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.V2Format;
import dev.cdcmigrator.transform.internal.AvroV2Serializers;
import dev.cdcmigrator.transform.internal.BoundedRocksDb;
import dev.cdcmigrator.transform.internal.SchemaChangedException;
import dev.cdcmigrator.transform.internal.V2DeadLetterHandler;
import dev.cdcmigrator.transform.internal.V2TopicUnwritableError;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The running transform stage: a Kafka Streams application (exactly_once_v2) of {@link TransformTopology}. */
public final class Transform implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(Transform.class);

    private final KafkaStreams streams;
    private final KafkaStreamsMetrics streamsMetrics;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private Transform(KafkaStreams streams, KafkaStreamsMetrics streamsMetrics) {
        this.streams = streams;
        this.streamsMetrics = streamsMetrics;
    }

    /**
     * Starts the transform. With {@code kafka.v2Format: avro} it first reads the columns of the v2 tables from the
     * target (their Avro schemas derive from them) and fails if one is missing; the schemas are registered in
     * {@code kafka.schemaRegistry} by the first record that needs them.
     *
     * @param spec the migration spec
     * @param bootstrapServers the Kafka cluster
     * @param stateDir where Kafka Streams keeps local state
     * @param registry receives the transform's meters and those of Kafka Streams
     * @param overrides Streams settings that replace the defaults (the pass-through of the configuration)
     */
    public static Transform start(Spec spec, String bootstrapServers, Path stateDir, MeterRegistry registry,
                                  Map<String, Object> overrides) {
        Topics topics = new Topics(spec);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, topics.transformApplicationId());
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) spec.kafka().replicationFactor());
        // Rows bigger than Kafka's default 1 MB exist (TOASTed text); the topics the migrator creates allow 16 MiB.
        props.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), TopicProvisioner.MAX_MESSAGE_BYTES);
        // Under exactly-once the sink sees a record only when its transaction commits: the commit interval (100 ms by
        // default) is most of the transform's share of the latency. 50 ms halves it; the extra commits did not show
        // in the throughput of docs/benchmarks.md.
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 50);
        props.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class);
        // Kafka 5.0's default, taken now: the same error handling for global state as for the stream threads.
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        V2Serializers v2 = V2Serializers.json();
        if (spec.kafka().v2Format() == V2Format.AVRO) {
            v2 = AvroV2Serializers.of(spec);
            // A value the Avro schema cannot hold becomes a dead letter (as the sink does with rows the target refuses).
            props.putAll(V2DeadLetterHandler.settings(topics.deadLetters(), spec.source().schema(), registry));
        }
        props.putAll(KafkaClients.streamsOverrides(spec));
        props.putAll(overrides);
        if (BoundedRocksDb.class.equals(props.get(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG))) {
            // Only the shared cache can be measured; a spec's own config setter sizes memory its own way.
            Gauge.builder("migrator.transform.state.memory", BoundedRocksDb::usage)
                    .description("Off-heap memory of the transform's state stores (RocksDB block cache and memtables, shared"
                            + " by every store up to " + BoundedRocksDb.TOTAL_BYTES / (1024 * 1024) + " MiB)")
                    .baseUnit("bytes").register(registry);
        }
        KafkaStreams streams = new KafkaStreams(TransformTopology.build(spec, registry, v2), props);
        // Its metrics include those of the consumers and producers it runs, so they need no binder of their own.
        KafkaStreamsMetrics streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        Transform transform = new Transform(streams, streamsMetrics);
        streams.setUncaughtExceptionHandler(e -> {
            Throwable cause = e;
            // Both are expected stops with their own instructions: a v1 column the spec needs was dropped, or the Avro
            // v2 topics cannot be written (the registry refused a schema, naming the subject, or is out of reach).
            while (cause != null && !(cause instanceof SchemaChangedException) && !(cause instanceof V2TopicUnwritableError)) {
                cause = cause.getCause();
            }
            if (cause instanceof V2TopicUnwritableError) {
                cause = new IllegalStateException("transform stopped: " + cause.getMessage() + ". Nothing after the last"
                        + " committed change was written (exactly-once); restart the transform once this is fixed: it"
                        + " resumes from there", cause);
            }
            if (cause != null) {
                // An expected stop with its own instructions: no stack trace to bury them.
                LOGGER.error(cause.getMessage());
                transform.failure.set(cause);
            } else {
                LOGGER.error("transform stopped by an unexpected error; restart it once the cause is fixed", e);
                transform.failure.set(e);
            }
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> LOGGER.info("transform state={} previous={}", now, before));
        streams.start();
        return transform;
    }

    /** Why the transform stopped by itself, if it did. */
    public Optional<String> failure() {
        return Optional.ofNullable(failure.get()).map(Throwable::getMessage);
    }

    /** The Kafka Streams state, for health checks. */
    public KafkaStreams.State state() {
        return streams.state();
    }

    /**
     * Stops the transform, committing what it has processed, leaves its consumer group and removes Kafka Streams'
     * meters; waits at most {@code timeout}.
     */
    public void close(Duration timeout) {
        try {
            // Leaving at once hands the partitions to another instance now, and lets cleanup (which refuses while the
            // group has members) run right after a stop rather than a session timeout later.
            streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(timeout));
        } finally {
            streamsMetrics.close();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
