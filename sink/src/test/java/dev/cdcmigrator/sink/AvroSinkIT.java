package dev.cdcmigrator.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.V2AvroWriter;
import dev.cdcmigrator.avro.V2Catalog;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sink reading Avro v2 records (Confluent wire format, schemas from the testkit's registry stand-in) against a
 * real PostgreSQL and Kafka: Avro and JSON records of one topic are applied in order, a refused Avro row is
 * dead-lettered as JSON, a registry out of reach is waited for rather than skipped, and Avro records without a
 * registry in the spec stop the sink.
 */
class AvroSinkIT {

    private static final PostgresServer PG = TestPostgres.shared();
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    private final String bootstrap = TestKafka.bootstrapServers();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<Sink> sinks = new ArrayList<>();
    private RegistryStandIn registry;
    private V2AvroWriter writer;
    private String db;
    private String prefix;
    private String topic;
    private long lsn;

    @BeforeEach
    void setUp() {
        registry = RegistryStandIn.start();
        db = PG.createDatabase("avro_sink");
        prefix = "avrosink_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        topic = prefix + ".v2.accounts";
        PG.execute(db, """
                CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL,
                                       balance numeric(12,2) NOT NULL CHECK (balance >= 0), seen timestamptz);
                """);
        writer = new V2AvroWriter(new SchemaRegistryClient(RegistryConfig.of(registry.url())),
                V2Catalog.of(PG.jdbcUrl(db), PG.user(), PG.password(), "public"),
                Map.of("accounts", List.of("id", "owner", "balance", "seen")));
    }

    @AfterEach
    void tearDown() {
        sinks.forEach(s -> s.close(Duration.ofSeconds(15)));
        registry.close();
    }

    @Test
    void avroAndJsonRecordsOfATopicAreAppliedInOrderAndARefusedAvroRowIsDeadLetteredAsJson() {
        Spec spec = spec(registry.url());
        provision(spec);
        V2Change refused = upsert(Op.CREATE, "{\"id\": 3, \"owner\": \"z\", \"balance\": -5, \"seen\": null}");
        produce(List.of(
                json(upsert(Op.READ, "{\"id\": 1, \"owner\": \"a\", \"balance\": 1, \"seen\": null}")),
                avro(upsert(Op.UPDATE, "{\"id\": 1, \"owner\": \"b\", \"balance\": 2.5, \"seen\": \"2024-03-01T12:34:56.000001Z\"}")),
                avro(upsert(Op.CREATE, "{\"id\": 2, \"owner\": \"y\", \"balance\": 7, \"seen\": null}")),
                avro(refused),
                avro(new V2Change(Op.DELETE, "accounts", key(2), null, source())),
                avro(upsert(Op.CREATE, "{\"id\": 4, \"owner\": \"w\", \"balance\": 0.1, \"seen\": \"2024-03-01T00:00:00Z\"}")),
                // A dead letter replayed into the Avro topic arrives as JSON.
                json(upsert(Op.UPDATE, "{\"id\": 1, \"owner\": \"c\", \"balance\": 3, \"seen\": \"2024-03-01T12:34:56.000001Z\"}"))));

        Sink sink = start(spec);

        await().atMost(DEADLINE).untilAsserted(() -> {
            assertThat(sink.failure()).isNull();
            assertThat(PG.rows(db, "SELECT id, owner, balance, seen = '2024-03-01 12:34:56.000001+00' FROM accounts ORDER BY id"))
                    .containsExactly(List.of("1", "c", "3.00", "t"), List.of("4", "w", "0.10", "f"));
        });
        List<ConsumerRecord<byte[], byte[]>> letters = read(prefix + ".dlq", 1);
        DeadLetter letter = DEAD.deserialize(prefix + ".dlq", letters.get(0).value());
        assertThat(letter.stage()).isEqualTo("sink");
        assertThat(letter.topic()).isEqualTo(topic);
        assertThat(letter.offset()).isEqualTo(3);
        assertThat(letter.key()).hasToString("{\"id\":3}");
        assertThat(letter.reason()).contains("23514").contains("accounts_balance_check");
        V2Change kept = V2.deserialize(null, letter.record().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(kept.after()).hasToString("{\"id\":3,\"owner\":\"z\",\"balance\":-5.00,\"seen\":null}");
        assertThat(new String(letters.get(0).key(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("{\"id\":3}");
    }

    @Test
    void whileTheRegistryIsOutOfReachTheSinkWaitsAndSkipsNothing() {
        RegistryStandIn gone = RegistryStandIn.start();
        gone.close();
        Spec spec = spec(gone.url());
        provision(spec);
        produce(List.of(avro(upsert(Op.CREATE, "{\"id\": 1, \"owner\": \"a\", \"balance\": 1, \"seen\": null}"))));

        Sink sink = start(spec);

        await().atMost(DEADLINE).until(() -> retried() >= 2);
        assertThat(sink.failure()).isNull();
        assertThat(PG.rows(db, "SELECT count(*) FROM accounts")).containsExactly(List.of("0"));
        assertThat(PG.rows(db, "SELECT count(*) FROM migrator_state.sink_offsets")).containsExactly(List.of("0"));
        assertThat(read(prefix + ".dlq", 0)).isEmpty();
    }

    @Test
    void avroRecordsWithoutASchemaRegistryInTheSpecStopTheSink() {
        Spec spec = new SpecParser(name -> null).parse(yaml("").replace("v2Format: avro", "v2Format: json"), "sink.yaml");
        provision(spec);
        produce(List.of(avro(upsert(Op.CREATE, "{\"id\": 1, \"owner\": \"a\", \"balance\": 1, \"seen\": null}"))));

        Sink sink = start(spec);

        await().atMost(DEADLINE).until(() -> sink.failure() != null);
        assertThat(sink.failure()).hasMessage("topic " + topic + " holds Avro records (Confluent wire format) but the spec has no"
                + " kafka.schemaRegistry to read them with: set it to the registry they were written with");
        assertThat(read(prefix + ".dlq", 0)).isEmpty();
    }

    private Spec spec(String registryUrl) {
        return new SpecParser(name -> null).parse(yaml("schemaRegistry: { url: \"" + registryUrl + "\" }"), "sink.yaml");
    }

    private String yaml(String registry) {
        return """
                version: 1
                source: { url: "%s", user: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 1, v2Format: avro, %s }
                tables:
                  accounts: { columns: { id: { from: id }, owner: { from: owner }, balance: { from: balance }, seen: { from: seen } } }
                """.formatted(PG.jdbcUrl("unused_v1"), PG.user(), PG.jdbcUrl(db), PG.user(), PG.password(), bootstrap, prefix,
                registry).replace(", }", " }");
    }

    private void provision(Spec spec) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            TopicProvisioner.createMissing(admin, spec);
        }
    }

    private Sink start(Spec spec) {
        Sink sink = Sink.start(spec, bootstrap, meters, Map.of());
        sinks.add(sink);
        return sink;
    }

    private double retried() {
        Counter counter = meters.find("migrator.stage.errors").tags("stage", "sink", "outcome", "retried").counter();
        return counter == null ? 0 : counter.count();
    }

    private SourcePosition source() {
        lsn += 8;
        return new SourcePosition("public.accounts", lsn, null, lsn, System.currentTimeMillis(), false);
    }

    private static ObjectNode key(long id) {
        return Json.MAPPER.createObjectNode().put("id", id);
    }

    private V2Change upsert(Op op, String after) {
        try {
            ObjectNode row = (ObjectNode) Json.MAPPER.readTree(after);
            return new V2Change(op, "accounts", key(row.get("id").asLong()), row, source());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A record as the transform writes it with {@code v2Format: avro}. */
    private ProducerRecord<byte[], byte[]> avro(V2Change change) {
        return new ProducerRecord<>(topic, writer.key(topic, change.table(), change.key()), writer.value(topic, change));
    }

    /** A record as the transform writes it with {@code v2Format: json}. */
    private ProducerRecord<byte[], byte[]> json(V2Change change) {
        return new ProducerRecord<>(topic, change.key().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8),
                V2.serialize(topic, change));
    }

    private void produce(List<ProducerRecord<byte[], byte[]>> records) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // The topics were just created: a first send can meet NOT_LEADER_OR_FOLLOWER, and with several requests in
        // flight a later batch is appended before the retried first one, whose sequence then never fits again.
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (ProducerRecord<byte[], byte[]> record : records) {
                producer.send(record);
            }
            producer.flush();
        }
    }

    /** The first {@code count} records of {@code topic} (all of them when it has no more). */
    private List<ConsumerRecord<byte[], byte[]>> read(String topic, int count) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            await().atMost(DEADLINE).until(() -> {
                consumer.poll(Duration.ofMillis(100)).forEach(records::add);
                return records.size() >= count && partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
            });
            return records;
        }
    }
}
