package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.avro.ConfluentAvroDeserializer;
import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.V2AvroReader;
import dev.cdcmigrator.avro.WireFormat;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline end to end with Avro v2 topics ({@code kafka.v2Format: avro}) against the testkit's registry stand-in
 * (no registry server can run here from Maven Central; docker-compose.yml runs a real one): v2 ends up equal to v1
 * through the spec, every v2 record is Confluent-framed Avro whose schema the registry holds under the topic's
 * subjects, readable by the avro module's deserializer; a v2 column added during the migration registers a new
 * compatible version, and an incompatible change stops the transform naming the subject.
 */
class AvroPipelineIT {

    private static final Duration DEADLINE = Duration.ofMinutes(2);
    private static final String USERS_V1 = "SELECT id, name, email, created_at, score, active, born, profile::text, uid, avatar,"
            + " seen_at FROM users ORDER BY id";
    private static final String ACCOUNTS_V2 = "SELECT account_id, display_name, email, signed_up_at, score, active, born,"
            + " profile::text, uid, avatar, seen_at FROM accounts ORDER BY account_id";
    private static final String TASKS_V1 = "SELECT id, user_id, title FROM tasks ORDER BY id";
    private static final String TASKS_V2 = "SELECT id, owner_id, title FROM tasks ORDER BY id";

    private final PostgresServer pg = TestPostgres.shared();
    private RegistryStandIn registry;
    private String v1;
    private String v2;
    private String prefix;
    private Pipeline pipeline;

    @BeforeEach
    void createDatabases() {
        registry = RegistryStandIn.start("migrator", "r3g1stry");
        v1 = pg.createDatabase("avro_v1");
        v2 = pg.createDatabase("avro_v2");
        prefix = "avro_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        pg.execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text, created_at timestamptz NOT NULL,
                                    score numeric(10,2), active boolean, born date, profile jsonb, uid uuid, avatar bytea,
                                    seen_at timestamp);
                CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint, title text);
                INSERT INTO users SELECT g, 'user ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'u' || g || '@example.com' END,
                                         timestamptz '2024-01-02 03:04:05.123456+00' + g * interval '1 minute 0.000001 second',
                                         g * 1.25, g % 2 = 0, date '1990-01-01' + g,
                                         jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)),
                                         md5(g::text)::uuid, decode(lpad(to_hex(g), 4, '0'), 'hex'),
                                         timestamp '2024-05-06 07:08:09.000123' + g * interval '1 day'
                                  FROM generate_series(1, 60) g;
                INSERT INTO tasks SELECT g, 1 + g % 60, 'task ' || g FROM generate_series(1, 120) g;
                """);
        // Two v2 columns the migration does not write: they keep their defaults and stay out of the Avro schemas.
        pg.execute(v2, """
                CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL, email text,
                                       signed_up_at timestamptz, score numeric(10,2), active boolean, born date,
                                       profile jsonb, uid uuid, avatar bytea, seen_at timestamp,
                                       migrated_at timestamptz NOT NULL DEFAULT now(), note text DEFAULT 'kept');
                CREATE TABLE tasks (id bigint PRIMARY KEY, owner_id bigint, title text);
                """);
    }

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        registry.close();
    }

    @Test
    void v2TopicsAreConfluentAvroAndV2ConvergesThroughSnapshotStreamingAndSchemaChanges(@TempDir Path dataDir) {
        pipeline = Pipeline.start(spec(""), dataDir, 0, new SimpleMeterRegistry());
        awaitConverged();

        pg.execute(v1, """
                INSERT INTO users VALUES (101, 'late user', 'late@example.com', '2025-06-30 23:59:59.999999+00', 99999999.99,
                                          true, '2000-02-29', '{"b": [1, 2.50, null]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                                          '\\x00ff', '1999-12-31 23:59:59.999999');
                UPDATE users SET name = 'renamed', score = NULL, profile = NULL WHERE id = 7;
                UPDATE users SET id = 1000 WHERE id = 5;
                DELETE FROM users WHERE id IN (10, 11);
                UPDATE tasks SET title = title || ' (edited)' WHERE id <= 10;
                DELETE FROM tasks WHERE id > 115;
                """);
        awaitConverged();
        assertThat(pg.rows(v2, "SELECT count(*) FROM accounts WHERE note = 'kept' AND migrated_at IS NOT NULL"))
                .containsExactly(List.of("59"));

        SchemaRegistryClient client = new SchemaRegistryClient(RegistryConfig.from(Map.of("schema.registry.url", registry.url(),
                "basic.auth.credentials.source", "USER_INFO", "basic.auth.user.info", "migrator:r3g1stry")));
        String accounts = prefix + ".v2.accounts";
        List<ConsumerRecord<byte[], byte[]>> records = readAll(accounts);
        assertThat(records).hasSizeGreaterThan(60);
        assertThat(registry.versions(accounts + "-value")).hasSize(1);
        assertThat(registry.versions(accounts + "-key")).hasSize(1);
        assertThat(registry.versions(prefix + ".v2.tasks-value")).hasSize(1);
        Schema envelope = registry.schema(registry.versions(accounts + "-value").get(0));
        Schema row = envelope.getField("after").schema().getTypes().get(1);
        assertThat(row.getFields()).extracting(Schema.Field::name).containsExactly("account_id", "display_name", "email",
                "signed_up_at", "score", "active", "born", "profile", "uid", "avatar", "seen_at");
        assertThat(nonNull(row, "score").getLogicalType()).isEqualTo(LogicalTypes.decimal(10, 2));
        assertThat(nonNull(row, "signed_up_at").getLogicalType()).isEqualTo(LogicalTypes.timestampMicros());
        assertThat(nonNull(row, "seen_at").getLogicalType()).isEqualTo(LogicalTypes.localTimestampMicros());
        assertThat(nonNull(row, "born").getLogicalType()).isEqualTo(LogicalTypes.date());
        assertThat(nonNull(row, "uid").getLogicalType()).isEqualTo(LogicalTypes.uuid());
        assertThat(row.getField("display_name").schema().getType()).as("NOT NULL").isEqualTo(Schema.Type.STRING);

        // Every record: magic byte, a schema id the registry has, Avro the avro module reads back to the change applied.
        V2AvroReader reader = new V2AvroReader(client);
        ConfluentAvroDeserializer keys = new ConfluentAvroDeserializer(client, true, null);
        Map<String, V2Change> last = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : records) {
            assertThat(record.value()[0]).isEqualTo(WireFormat.MAGIC_BYTE);
            assertThat(registry.versions(accounts + "-value")).contains(WireFormat.schemaId(record.value()));
            V2Change change = reader.value(accounts, record.value());
            GenericRecord key = keys.deserialize(accounts, record.key());
            assertThat(key.get("account_id")).isEqualTo(change.key().get("account_id").asLong());
            last.put(change.key().toString(), change);
        }
        assertThat(last.values().stream().filter(c -> c.op() != Op.DELETE).count()).isEqualTo(59);
        V2Change late = last.get("{\"account_id\":101}");
        assertThat(late.after().toString()).isEqualTo("{\"account_id\":101,\"display_name\":\"late user\",\"email\":\"late@example.com\","
                + "\"signed_up_at\":\"2025-06-30T23:59:59.999999Z\",\"score\":99999999.99,\"active\":true,\"born\":\"2000-02-29\","
                + "\"profile\":\"{\\\"b\\\": [1, 2.50, null]}\",\"uid\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"avatar\":\"\\\\x00ff\","
                + "\"seen_at\":\"1999-12-31T23:59:59.999999\"}");
        assertThat(late.source().table()).isEqualTo("public.users");
        assertThat(last.get("{\"account_id\":5}").op()).isEqualTo(Op.DELETE);
        pipeline.close();

        // A v2 column added during the migration (expand, then map it): the next record registers a compatible version.
        pg.execute(v2, "ALTER TABLE accounts ADD COLUMN nickname text");
        pipeline = Pipeline.start(spec("nickname: { expr: \"row.name + '!'\" }"), dataDir, 0, new SimpleMeterRegistry());
        pg.execute(v1, "UPDATE users SET name = 'evolved' WHERE id = 1");
        await().atMost(DEADLINE).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, "SELECT display_name, nickname FROM accounts WHERE account_id = 1"))
                    .containsExactly(List.of("evolved", "evolved!"));
        });
        assertThat(registry.versions(accounts + "-value")).hasSize(2);
        assertThat(registry.schema(registry.versions(accounts + "-value").get(1)).toString()).contains("\"nickname\"");
        assertThat(readAll(accounts).stream().map(r -> reader.value(accounts, r.value()))
                .filter(c -> c.after() != null && c.after().has("nickname")).map(c -> c.after().get("nickname").asText()))
                .containsExactly("evolved!");
        pipeline.close();

        // An incompatible change (text to integer: old records cannot be read with the new schema) stops the transform.
        pg.execute(v2, "ALTER TABLE accounts ALTER COLUMN nickname TYPE integer USING NULL");
        pipeline = Pipeline.start(spec("nickname: { value: 5 }"), dataDir, 0, new SimpleMeterRegistry());
        pg.execute(v1, "UPDATE users SET name = 'refused' WHERE id = 2");
        await().atMost(DEADLINE).until(() -> pipeline.failure().isPresent());
        assertThat(pipeline.failure().orElseThrow()).startsWith("transform: transform stopped: subject '" + accounts
                + "-value': the schema registry refused the schema as incompatible");
        assertThat(pg.rows(v2, "SELECT display_name FROM accounts WHERE account_id = 2")).containsExactly(List.of("user 2"));
        assertThat(registry.versions(accounts + "-value")).hasSize(2);
    }

    private static Schema nonNull(Schema record, String field) {
        return record.getField(field).schema().getTypes().get(1);
    }

    private void awaitConverged() {
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, ACCOUNTS_V2)).isEqualTo(pg.rows(v1, USERS_V1));
            assertThat(pg.rows(v2, TASKS_V2)).isEqualTo(pg.rows(v1, TASKS_V1));
        });
    }

    /** Every committed record of {@code topic}, partition by partition, up to its end offsets now. */
    private static List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).sorted((a, b) -> a.partition() - b.partition()).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            Set<TopicPartition> pending = new TreeSet<>((a, b) -> a.partition() - b.partition());
            pending.addAll(partitions);
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
                pending.removeIf(tp -> consumer.position(tp) >= ends.get(tp));
                return pending.isEmpty();
            });
        }
        // Per partition in offset order; the records of one key are in one partition.
        records.sort((a, b) -> a.partition() != b.partition() ? a.partition() - b.partition() : Long.compare(a.offset(), b.offset()));
        return records;
    }

    private Spec spec(String extraColumn) {
        return new SpecParser(name -> Map.of("REGISTRY_PASSWORD", "r3g1stry").get(name)).parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka:
                  bootstrap: "%s"
                  topicPrefix: %s
                  partitions: 3
                  # The restarts below rejoin the transform's group; a closed member stays in it until its session
                  # times out (45 s by default).
                  streams: { session.timeout.ms: 6000 }
                  v2Format: avro
                  schemaRegistry:
                    url: "%s"
                    basicAuth: { user: migrator, password: "${env:REGISTRY_PASSWORD}" }
                # Debezium's snapshot: every existing row is a v2 record too, whose Avro this test reads.
                backfill: { mode: debezium }
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      email: { from: email }
                      signed_up_at: { from: created_at }
                      score: { from: score }
                      active: { from: active }
                      born: { from: born }
                      profile: { from: profile }
                      uid: { from: uid }
                      avatar: { from: avatar }
                      seen_at: { from: seen_at }
                      %s
                  tasks:
                    columns:
                      id: { from: id }
                      owner_id: { from: user_id }
                      title: { from: title }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix, registry.url(), extraColumn), "avro.yaml");
    }
}
