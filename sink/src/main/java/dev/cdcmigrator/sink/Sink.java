package dev.cdcmigrator.sink;

import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.V2AvroReader;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TargetSpec;
import dev.cdcmigrator.sink.internal.RowLevelSecurity;
import dev.cdcmigrator.sink.internal.SinkLoop;
import dev.cdcmigrator.sink.internal.SinkMeters;
import dev.cdcmigrator.sink.internal.SpecWrites;
import dev.cdcmigrator.sink.internal.V2Decoder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running sink stage: consumes the v2 topics (read_committed) and applies them to the target, one transaction
 * per batch with the consumed offsets stored in the target's state schema. Before consuming, it creates the state
 * schema, suspends v2's foreign keys and triggers ({@link TargetConstraints}) and, when the spec sets
 * {@code tenancy.rowLevelSecurity}, creates the tenant policies on the v2 tables. It reads
 * JSON and, with {@code kafka.schemaRegistry} in the spec, Avro v2 records, each in the schema it was written with. A
 * record is written only to the v2 table of its topic and only in the columns the spec writes into that table
 * ({@link SpecWrites}); any other goes to the dead-letter topic.
 */
public final class Sink implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(Sink.class);

    private final SinkLoop loop;
    private final Thread thread;
    /** The meters of the sink's consumer and producer. */
    private final List<KafkaClientMetrics> clientMetrics;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private Sink(SinkLoop loop, List<KafkaClientMetrics> clientMetrics) {
        this.loop = loop;
        this.clientMetrics = clientMetrics;
        this.thread = new Thread(loop, "migrator-sink");
        this.thread.setUncaughtExceptionHandler((t, e) -> {
            failure.set(e);
            LOGGER.error("sink stopped: {}", e.getMessage(), e);
        });
    }

    /**
     * Starts the sink on its own thread.
     *
     * @param spec the migration spec
     * @param bootstrapServers the Kafka cluster
     * @param registry receives the sink's meters and those of its Kafka consumer and producer
     * @param consumerOverrides consumer settings that replace the defaults
     */
    public static Sink start(Spec spec, String bootstrapServers, MeterRegistry registry, Map<String, Object> consumerOverrides) {
        Topics topics = new Topics(spec);
        Properties consumer = new Properties();
        consumer.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        consumer.put(ConsumerConfig.GROUP_ID_CONFIG, topics.sinkGroup());
        consumer.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumer.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        // A stable client id is the client_id tag of the consumer's meters (Kafka's default numbers each new client).
        consumer.put(ConsumerConfig.CLIENT_ID_CONFIG, "migrator-sink");
        consumer.putAll(KafkaClients.consumerOverrides(spec));
        consumer.putAll(consumerOverrides);
        Properties producer = new Properties();
        producer.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        producer.put(ProducerConfig.ACKS_CONFIG, "all");
        producer.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producer.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TopicProvisioner.MAX_MESSAGE_BYTES);
        producer.put(ProducerConfig.CLIENT_ID_CONFIG, "migrator-sink-dead-letters");
        producer.putAll(KafkaClients.producerOverrides(spec));
        TargetSpec t = spec.target();
        // The v1 tables feeding each v2 table, so that backfill progress can be read per v1 table too.
        Map<String, Set<String>> sources = new TreeMap<>();
        spec.tables().forEach((v1, table) -> table.v2Tables(v1).forEach(v2 -> sources.computeIfAbsent(v2, k -> new TreeSet<>()).add(v1)));
        KafkaConsumer<byte[], byte[]> kafkaConsumer = new KafkaConsumer<>(consumer, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        KafkaProducer<byte[], byte[]> kafkaProducer = new KafkaProducer<>(producer, new ByteArraySerializer(), new ByteArraySerializer());
        List<KafkaClientMetrics> clientMetrics = List.of(new KafkaClientMetrics(kafkaConsumer), new KafkaClientMetrics(kafkaProducer));
        clientMetrics.forEach(m -> m.bindTo(registry));
        SinkLoop loop = new SinkLoop(new SinkLoop.Target(t.url(), t.user(), t.password(), t.schema(), t.stateSchema(),
                spec.kafka().topicPrefix()),
                topics.sinkGroup(), topics.allV2(spec), kafkaConsumer, kafkaProducer,
                topics.deadLetters(), topics.replayOutcomes(), new SinkMeters(registry, sources), RowLevelSecurity.of(spec),
                TargetConstraints.of(spec), decoder(spec), new SpecWrites(spec));
        Sink sink = new Sink(loop, clientMetrics);
        sink.thread.start();
        return sink;
    }

    /** Reads JSON v2 records, and Avro ones when the spec names a schema registry (whatever its v2Format is now). */
    private static V2Decoder decoder(Spec spec) {
        if (spec.kafka().schemaRegistry() == null) {
            return new V2Decoder(null);
        }
        return new V2Decoder(new V2AvroReader(new SchemaRegistryClient(RegistryConfig.from(spec.kafka().schemaRegistry().clientConfigs()))));
    }

    /** Whether the sink is connected and consuming. */
    public boolean running() {
        return loop.running();
    }

    /** Why the sink stopped by itself, if it did. */
    public Throwable failure() {
        return failure.get();
    }

    /** Finishes the batch in flight, then stops and removes its clients' meters; waits at most {@code timeout}. */
    public void close(Duration timeout) {
        loop.stop();
        try {
            thread.join(timeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            clientMetrics.forEach(KafkaClientMetrics::close);
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
