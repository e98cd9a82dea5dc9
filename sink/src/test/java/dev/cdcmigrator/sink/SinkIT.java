package dev.cdcmigrator.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.KafkaSpec;
import dev.cdcmigrator.common.spec.SourceSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.common.spec.TargetSpec;
import dev.cdcmigrator.sink.internal.SinkLoop;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The sink against a real PostgreSQL target and a real Kafka broker: v2 changes are produced straight into the v2
 * topics (as the transform would), and the v2 tables, the stored offsets, the dead-letter topic and the meters are
 * checked.
 */
class SinkIT {

    private static final PostgresServer PG = TestPostgres.shared();
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final String SINK_APPLICATION_NAME = "cdc-migrator-sink";

    private final String bootstrap = TestKafka.bootstrapServers();
    private final List<Sink> sinks = new ArrayList<>();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private String db;
    private String prefix;
    /** The v2 triggers the spec keeps firing (every other one is suspended while the sink applies). */
    private List<String> triggers = List.of();
    private long lsn;

    @BeforeEach
    void createTarget() {
        db = PG.createDatabase("sink_it");
        prefix = "sinkit_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    @AfterEach
    void stopSinks() throws SQLException {
        sinks.forEach(s -> s.close(Duration.ofSeconds(15)));
        // In case a test failed while the target refused connections.
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE \"" + db + "\" ALLOW_CONNECTIONS true");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 1. Upserts, updates, deletes of the same key within and across batches; exact values of every type.
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void changesOfTheSameKeyWithinAndAcrossBatchesEndInTheRightRowsWithExactValues() throws SQLException {
        execute(db, """
                CREATE TABLE items (id bigint PRIMARY KEY, price numeric(12,4), happened_at timestamptz, attrs jsonb,
                                    ref uuid, active boolean, note text);
                CREATE TABLE memberships (org_id bigint, user_id bigint, role text NOT NULL, PRIMARY KEY (org_id, user_id));
                """);
        Spec spec = spec(1, null, null, Map.of(
                "items", List.of("id", "price", "happened_at", "attrs", "ref", "active", "note"),
                "memberships", List.of("org_id", "user_id", "role")));
        provisionTopics(spec);
        String tricky = "O'Brien said \"hi\" \\ back\\slash,\ttab, new\nline, ü 日本 😀 '); DROP TABLE items; --";

        // Batch 1, produced before the sink starts, so that each topic arrives in one poll (one partition each).
        List<V2Change> batch1 = new ArrayList<>();
        // id 1: insert, then update in the same batch.
        batch1.add(change(Op.CREATE, "items", """
                {"id": 1, "price": 12345678.1234, "happened_at": "2024-02-29T23:59:59.123456+05:30",
                 "attrs": {"b": [1, 2.50, {"c": null}], "a": "x\\"y", "ü": "日本"},
                 "ref": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "active": true, "note": "first"}""", "id"));
        batch1.add(change(Op.UPDATE, "items", row(Map.of("note", tricky), """
                {"id": 1, "price": -0.0001, "happened_at": "1999-12-31T23:59:59.999999Z",
                 "attrs": [{"k": "v"}, "s", 3, false, null], "ref": "00000000-0000-0000-0000-000000000001",
                 "active": false, "note": null}"""), "id"));
        // id 2: insert, then delete in the same batch.
        batch1.add(change(Op.CREATE, "items", "{\"id\": 2, \"price\": 2, \"note\": \"gone\"}", "id"));
        batch1.add(delete("items", "{\"id\": 2}"));
        // id 3: insert, delete, re-insert in the same batch.
        batch1.add(change(Op.CREATE, "items", "{\"id\": 3, \"price\": 3, \"note\": \"old\", \"active\": true}", "id"));
        batch1.add(delete("items", "{\"id\": 3}"));
        batch1.add(change(Op.CREATE, "items", """
                {"id": 3, "price": 99999999.9999, "happened_at": "2024-06-30T12:00:00.000001-07:00",
                 "attrs": {}, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", "active": true, "note": ""}""", "id"));
        // ids 4 to 7: changed again in batch 2.
        batch1.add(change(Op.CREATE, "items", """
                {"id": 4, "price": 4.5, "happened_at": "2020-01-01T00:00:00Z", "attrs": {"x": 1},
                 "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a14", "active": true, "note": "four"}""", "id"));
        batch1.add(change(Op.CREATE, "items", "{\"id\": 5, \"price\": 5, \"note\": \"five\"}", "id"));
        batch1.add(change(Op.CREATE, "items", "{\"id\": 6, \"price\": 6, \"note\": \"six\"}", "id"));
        batch1.add(change(Op.CREATE, "items", "{\"id\": 7, \"price\": 7, \"note\": \"seven\"}", "id"));
        // id 9: inserted once, never touched again.
        batch1.add(change(Op.CREATE, "items", """
                {"id": 9, "price": 12345678.1234, "happened_at": "2024-02-29T23:59:59.123456+05:30",
                 "attrs": {"b": [1, 2.50, {"c": null}], "a": "x\\"y", "ü": "日本"},
                 "ref": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "active": true, "note": "nine"}""", "id"));
        // id 8: a delete of a row that never existed.
        batch1.add(delete("items", "{\"id\": 8}"));
        // A snapshot-sized bulk, so that the batched multi-row statements really carry many rows.
        for (int i = 100; i < 300; i++) {
            batch1.add(change(Op.READ, "items", "{\"id\": " + i + ", \"price\": " + i + ".0001, \"note\": \"bulk " + i + "\"}", "id"));
        }
        // Composite keys.
        batch1.add(change(Op.READ, "memberships", "{\"org_id\": 1, \"user_id\": 1, \"role\": \"admin\"}", "org_id", "user_id"));
        batch1.add(change(Op.READ, "memberships", "{\"org_id\": 1, \"user_id\": 2, \"role\": \"member\"}", "org_id", "user_id"));
        batch1.add(change(Op.READ, "memberships", "{\"org_id\": 2, \"user_id\": 1, \"role\": \"owner\"}", "org_id", "user_id"));
        batch1.add(change(Op.CREATE, "memberships", "{\"org_id\": 3, \"user_id\": 3, \"role\": \"temp\"}", "org_id", "user_id"));
        batch1.add(delete("memberships", "{\"org_id\": 3, \"user_id\": 3}"));
        Map<TopicPartition, Long> next = nextOffsets(produce(batch1, false));

        Sink sink = start(spec);
        awaitStoredOffsets(sink, "migrator_state", next);

        // Batch 2, after batch 1 is committed.
        List<V2Change> batch2 = new ArrayList<>();
        batch2.add(change(Op.UPDATE, "items", """
                {"id": 4, "price": null, "happened_at": null, "attrs": null, "ref": null, "active": null, "note": null}""", "id"));
        batch2.add(delete("items", "{\"id\": 5}"));
        batch2.add(delete("items", "{\"id\": 6}"));
        batch2.add(change(Op.CREATE, "items", "{\"id\": 6, \"price\": 0.5, \"note\": \"six again\", \"active\": false}", "id"));
        // Columns in another order than the table's and than the earlier images of the same table.
        batch2.add(change(Op.UPDATE, "items", """
                {"note": "seven, reordered", "active": true, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a17",
                 "attrs": {"nested": {"deep": [1, "two"]}}, "happened_at": "2030-01-01T00:00:00.5Z", "price": 1234.5678,
                 "id": 7}""", "id"));
        for (int i = 100; i < 300; i++) {
            if (i % 2 == 1) {
                batch2.add(delete("items", "{\"id\": " + i + "}"));
            } else if (i % 10 == 0) {
                batch2.add(change(Op.UPDATE, "items", "{\"id\": " + i + ", \"price\": -" + i + ", \"note\": \"updated " + i + "\", \"active\": true}", "id"));
            }
        }
        batch2.add(delete("memberships", "{\"org_id\": 1, \"user_id\": 2}"));
        batch2.add(change(Op.UPDATE, "memberships", "{\"org_id\": 2, \"user_id\": 1, \"role\": \"member\"}", "org_id", "user_id"));
        batch2.add(delete("memberships", "{\"org_id\": 1, \"user_id\": 1}"));
        batch2.add(change(Op.CREATE, "memberships", "{\"org_id\": 1, \"user_id\": 1, \"role\": \"guest\"}", "org_id", "user_id"));
        next.putAll(nextOffsets(produce(batch2, false)));
        awaitStoredOffsets(sink, "migrator_state", next);

        List<List<String>> expected = new ArrayList<>();
        expected.add(Arrays.asList("1", "-0.0001", "1999-12-31 23:59:59.999999+00", "[{\"k\": \"v\"}, \"s\", 3, false, null]",
                "00000000-0000-0000-0000-000000000001", "f", tricky));
        expected.add(Arrays.asList("3", "99999999.9999", "2024-06-30 19:00:00.000001+00", "{}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", "t", ""));
        expected.add(Arrays.asList("4", null, null, null, null, null, null));
        expected.add(Arrays.asList("6", "0.5000", null, null, null, "f", "six again"));
        expected.add(Arrays.asList("7", "1234.5678", "2030-01-01 00:00:00.5+00", "{\"nested\": {\"deep\": [1, \"two\"]}}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a17", "t", "seven, reordered"));
        expected.add(Arrays.asList("9", "12345678.1234", "2024-02-29 18:29:59.123456+00",
                "{\"a\": \"x\\\"y\", \"b\": [1, 2.50, {\"c\": null}], \"ü\": \"日本\"}",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "t", "nine"));
        for (int i = 100; i < 300; i += 2) {
            expected.add(i % 10 == 0
                    ? Arrays.asList(String.valueOf(i), "-" + i + ".0000", null, null, null, "t", "updated " + i)
                    : Arrays.asList(String.valueOf(i), i + ".0001", null, null, null, null, "bulk " + i));
        }
        assertThat(rows(db, "SELECT id, price, happened_at, attrs, ref, active, note FROM items ORDER BY id"))
                .containsExactlyElementsOf(expected);
        assertThat(rows(db, "SELECT org_id, user_id, role FROM memberships ORDER BY org_id, user_id"))
                .containsExactly(List.of("1", "1", "guest"), List.of("2", "1", "member"));
        assertThat(deadLetters()).isEmpty();
        assertThat(sink.failure()).isNull();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 2. A row the target refuses is dead-lettered; the rest of its batch and everything after is applied.
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void aRowTheTargetRefusesIsDeadLetteredAndEverythingElseIsApplied() throws Exception {
        execute(db, """
                CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL,
                                       balance numeric(12,2) NOT NULL CHECK (balance >= 0));
                """);
        Spec spec = spec(1, null, null, Map.of("accounts", List.of("id", "owner", "balance")));
        provisionTopics(spec);

        List<V2Change> batch = new ArrayList<>();
        for (int i = 1; i <= 400; i++) {
            String balance = i == 150 ? "-5.00" : i + ".25";
            batch.add(change(Op.READ, "accounts", "{\"id\": " + i + ", \"owner\": \"owner " + i + "\", \"balance\": " + balance + "}", "id"));
        }
        List<Sent> sent = produce(batch, false);
        Map<TopicPartition, Long> next = nextOffsets(sent);

        Sink sink = start(spec);
        awaitStoredOffsets(sink, "migrator_state", next);

        List<List<String>> expected = new ArrayList<>();
        for (int i = 1; i <= 400; i++) {
            if (i != 150) {
                expected.add(List.of(String.valueOf(i), "owner " + i, i + ".25"));
            }
        }
        assertThat(rows(db, "SELECT id, owner, balance FROM accounts ORDER BY id")).containsExactlyElementsOf(expected);

        Sent poison = sent.get(149);
        List<ConsumerRecord<byte[], byte[]>> letters = deadLetters();
        assertThat(letters).hasSize(1);
        DeadLetter letter = DEAD.deserialize(prefix + ".dlq", letters.get(0).value());
        assertThat(letter.stage()).isEqualTo("sink");
        assertThat(letter.table()).isEqualTo("accounts");
        assertThat(letter.topic()).isEqualTo(prefix + ".v2.accounts");
        assertThat(letter.partition()).isEqualTo(poison.metadata().partition());
        assertThat(letter.offset()).isEqualTo(poison.metadata().offset());
        assertThat(letter.key()).isEqualTo(Json.MAPPER.readTree("{\"id\": 150}"));
        assertThat(letter.record()).isEqualTo(Json.MAPPER.readTree(V2.serialize(null, poison.change())));
        assertThat(letter.reason())
                .contains("23514")
                .contains("new row for relation \"accounts\" violates check constraint \"accounts_balance_check\"")
                .as("the row's values stay in the record, out of the reason that logs and /ready repeat")
                .doesNotContain("Failing row").doesNotContain("owner 150");
        assertThat(applied("accounts", "dead_lettered")).isEqualTo(1);
        assertThat(applied("accounts", "upserted")).isEqualTo(399);

        // The pipeline goes on: later records are applied, and a NOT NULL violation among them is isolated too.
        List<V2Change> later = new ArrayList<>();
        later.add(change(Op.UPDATE, "accounts", "{\"id\": 1, \"owner\": \"new owner\", \"balance\": 0}", "id"));
        later.add(change(Op.UPDATE, "accounts", "{\"id\": 2, \"owner\": null, \"balance\": 1}", "id"));
        later.add(delete("accounts", "{\"id\": 3}"));
        for (int i = 401; i <= 410; i++) {
            later.add(change(Op.CREATE, "accounts", "{\"id\": " + i + ", \"owner\": \"late " + i + "\", \"balance\": 1}", "id"));
        }
        next.putAll(nextOffsets(produce(later, false)));
        awaitStoredOffsets(sink, "migrator_state", next);

        assertThat(rows(db, "SELECT id, owner, balance FROM accounts WHERE id IN (1, 2, 3, 401, 410) ORDER BY id"))
                .containsExactly(List.of("1", "new owner", "0.00"), List.of("2", "owner 2", "2.25"),
                        List.of("401", "late 401", "1.00"), List.of("410", "late 410", "1.00"));
        assertThat(rows(db, "SELECT count(*) FROM accounts")).containsExactly(List.of(String.valueOf(399 - 1 + 10)));
        letters = deadLetters();
        assertThat(letters).hasSize(2);
        DeadLetter second = DEAD.deserialize(prefix + ".dlq", letters.get(1).value());
        assertThat(second.stage()).isEqualTo("sink");
        assertThat(second.key()).isEqualTo(Json.MAPPER.readTree("{\"id\": 2}"));
        assertThat(second.reason()).contains("23502").contains("null value in column \"owner\"");
        assertThat(applied("accounts", "dead_lettered")).isEqualTo(2);
        assertThat(applied("accounts", "upserted")).isEqualTo(399 + 1 + 10);
        assertThat(applied("accounts", "deleted")).isEqualTo(1);
        assertThat(sink.failure()).isNull();
    }

    @Test
    void keylessChangesActOnOneRowHoldingTheOldValuesAndOneThatFindsNoneIsADeadLetter() throws Exception {
        // json and point have no equality operator: old values are compared as the text of the column's type.
        execute(db, "CREATE TABLE ledger (account text, amount numeric(10,2), doc json, at point)");
        Spec spec = spec(1, null, null, Map.of("ledger", List.of("account", "amount", "doc", "at")));
        provisionTopics(spec);
        String twin = "{\"account\": \"a\", \"amount\": 1.00, \"doc\": {\"k\": [1, 2]}, \"at\": \"(1,2)\"}";
        String other = "{\"account\": \"b\", \"amount\": null, \"doc\": null, \"at\": null}";
        List<V2Change> batch = List.of(
                keyless(Op.CREATE, null, twin), keyless(Op.CREATE, null, twin), keyless(Op.CREATE, null, other),
                keyless(Op.UPDATE, twin, twin.replace("1.00", "2.00")),
                keyless(Op.DELETE, other.replace("\"b\"", "\"nobody\""), null),
                keyless(Op.DELETE, other, null),
                keyless(Op.CREATE, null, other));
        Map<TopicPartition, Long> next = nextOffsets(produce(batch, false));

        Sink sink = start(spec);
        awaitStoredOffsets(sink, "migrator_state", next);

        assertThat(rows(db, "SELECT account, amount, doc::text, at::text FROM ledger ORDER BY account, amount"))
                .containsExactly(List.of("a", "1.00", "{\"k\":[1,2]}", "(1,2)"), List.of("a", "2.00", "{\"k\":[1,2]}", "(1,2)"),
                        Arrays.asList("b", null, null, null));
        assertThat(deadLetters()).singleElement().satisfies(record -> {
            DeadLetter letter = DEAD.deserialize(prefix + ".dlq", record.value());
            assertThat(letter.stage()).isEqualTo("sink");
            assertThat(letter.table()).isEqualTo("ledger");
            assertThat(letter.reason()).contains("P0002", "no row of v2 table ledger holds the old values"
                    + " {\"account\":\"nobody\",\"amount\":null,\"doc\":null,\"at\":null} of this delete");
        });

        // A truncate empties the table, in order with the inserts around it.
        next.putAll(nextOffsets(produce(List.of(new V2Change(Op.TRUNCATE, "ledger", Json.MAPPER.createObjectNode(), null,
                source("ledger")), keyless(Op.CREATE, null, other)), false)));
        awaitStoredOffsets(sink, "migrator_state", next);
        assertThat(rows(db, "SELECT account FROM ledger")).containsExactly(List.of("b"));
        assertThat(sink.failure()).isNull();
    }

    @Test
    void anUpdateLeavingColumnsUnchangedWritesOnlyTheOthersAndIsADeadLetterWhenTheRowIsMissing() throws Exception {
        execute(db, """
                CREATE TABLE docs (id bigint PRIMARY KEY, body text DEFAULT 'default body', n int CHECK (n < 100));
                INSERT INTO docs VALUES (1, 'kept body', 1), (3, 'old body', 0), (4, 'body four', 4);
                """);
        Spec spec = spec(1, null, null, Map.of("docs", List.of("id", "body", "n")));
        provisionTopics(spec);
        List<V2Change> batch = List.of(
                partial("{\"id\": 1, \"n\": 2}", "body"),
                partial("{\"id\": 2, \"n\": 2}", "body"),
                // In one batch a partial update takes what it leaves unchanged from the row's earlier image.
                change(Op.UPDATE, "docs", "{\"id\": 3, \"body\": \"new body\", \"n\": 5}", "id"),
                partial("{\"id\": 3, \"n\": 6}", "body"),
                partial("{\"id\": 4}", "body", "n"),
                // Refused merged with its earlier image: the letter holds the merged change, which a replay applies.
                change(Op.CREATE, "docs", "{\"id\": 6, \"body\": \"six\", \"n\": 1}", "id"),
                partial("{\"id\": 6, \"n\": 500}", "body"));
        Map<TopicPartition, Long> next = nextOffsets(produce(batch, false));

        Sink sink = start(spec);
        awaitStoredOffsets(sink, "migrator_state", next);

        assertThat(rows(db, "SELECT id, body, n FROM docs ORDER BY id")).containsExactly(
                List.of("1", "kept body", "2"), List.of("3", "new body", "6"), List.of("4", "body four", "4"));
        List<DeadLetter> letters = deadLetters().stream().map(r -> DEAD.deserialize(prefix + ".dlq", r.value())).toList();
        assertThat(letters).extracting(DeadLetter::stage, DeadLetter::table).containsOnly(org.assertj.core.groups.Tuple.tuple("sink", "docs"));
        assertThat(letters).extracting(letter -> letter.record().path("key").path("id").asInt()).containsExactlyInAnyOrder(2, 6);
        assertThat(letters).filteredOn(letter -> letter.record().path("key").path("id").asInt() == 2).singleElement().satisfies(letter -> {
            assertThat(letter.reason()).contains("P0002", "v2 table docs has no row with key {\"id\":2} for this update,"
                    + " which leaves columns [body] as the row holds them");
            assertThat(letter.record().path("unchanged")).hasToString("[\"body\"]");
        });
        assertThat(letters).filteredOn(letter -> letter.record().path("key").path("id").asInt() == 6).singleElement().satisfies(letter -> {
            assertThat(letter.reason()).contains("23514");
            assertThat(letter.record().path("after")).hasToString("{\"id\":6,\"body\":\"six\",\"n\":500}");
            assertThat(letter.record().has("unchanged")).isFalse();
        });
        assertThat(applied("docs", "dead_lettered")).isEqualTo(2);
        assertThat(applied("docs", "upserted")).isEqualTo(3);
        assertThat(sink.failure()).isNull();
    }

    private V2Change partial(String afterJson, String... unchanged) {
        ObjectNode after = (ObjectNode) readTree(afterJson);
        ObjectNode key = Json.MAPPER.createObjectNode().set("id", after.get("id"));
        return new V2Change(Op.UPDATE, "docs", key, after, source("docs"), null, List.of(unchanged));
    }

    private V2Change keyless(Op op, String beforeJson, String afterJson) {
        return new V2Change(op, "ledger", Json.MAPPER.createObjectNode(), afterJson == null ? null : (ObjectNode) readTree(afterJson),
                source("ledger"), beforeJson == null ? null : (ObjectNode) readTree(beforeJson));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 2b. A record writes only the table of its topic, and only the columns the spec writes into it.
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void aRecordNamingAnotherTableOrAColumnTheSpecDoesNotWriteIsDeadLetteredAndNothingOfItIsWritten() throws Exception {
        execute(db, """
                CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, is_admin boolean NOT NULL DEFAULT false);
                CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);
                """);
        Spec spec = spec(1, null, null, Map.of("accounts", List.of("id", "owner"), "orders", List.of("id", "total")));
        provisionTopics(spec);
        String accounts = prefix + ".v2.accounts";

        // Whoever can produce to the accounts topic: a valid row, then rows that try to reach further, then valid rows.
        ObjectNode adminKey = (ObjectNode) readTree("{\"id\": 1, \"is_admin\": true}");
        // A column the spec writes, but not a unique key: such a delete would remove every row of that owner.
        ObjectNode ownerKey = (ObjectNode) readTree("{\"owner\": \"ann\"}");
        List<V2Change> batch = List.of(
                change(Op.CREATE, "accounts", "{\"id\": 1, \"owner\": \"ann\"}", "id"),
                change(Op.CREATE, "orders", "{\"id\": 66, \"total\": 1000000}", "id"),
                change(Op.CREATE, "accounts", "{\"id\": 2, \"owner\": \"mallory\", \"is_admin\": true}", "id"),
                new V2Change(Op.DELETE, "accounts", adminKey, null, source("accounts")),
                new V2Change(Op.DELETE, "accounts", ownerKey, null, source("accounts")),
                change(Op.CREATE, "accounts", "{\"id\": 3, \"owner\": \"bob\"}", "id"));
        List<Sent> sent = produce(batch, false, c -> accounts);

        Sink sink = start(spec);
        awaitStoredOffsets(sink, "migrator_state", nextOffsets(sent));

        assertThat(rows(db, "SELECT id, owner, is_admin FROM accounts ORDER BY id"))
                .containsExactly(List.of("1", "ann", "f"), List.of("3", "bob", "f"));
        assertThat(rows(db, "SELECT count(*) FROM orders")).containsExactly(List.of("0"));
        List<DeadLetter> letters = deadLetters().stream().map(r -> DEAD.deserialize(prefix + ".dlq", r.value())).toList();
        assertThat(letters).hasSize(4);
        for (int i = 0; i < 4; i++) {
            DeadLetter letter = letters.get(i);
            assertThat(letter.stage()).isEqualTo("sink");
            assertThat(letter.table()).as("the table of the topic, not the record's").isEqualTo("accounts");
            assertThat(letter.topic()).isEqualTo(accounts);
            assertThat(letter.offset()).isEqualTo(sent.get(i + 1).metadata().offset());
            assertThat(letter.record()).isEqualTo(Json.MAPPER.readTree(V2.serialize(null, sent.get(i + 1).change())));
            assertThat(letter.reason()).contains("topic " + accounts);
        }
        assertThat(letters.get(0).column()).isNull();
        assertThat(letters.get(0).reason()).isEqualTo("topic " + accounts + " holds v2 table accounts, but the record names"
                + " table orders: a record is written only to the table of its topic");
        assertThat(letters.get(1).column()).isEqualTo("is_admin");
        assertThat(letters.get(1).reason()).isEqualTo("column is_admin in the row image of a record of topic " + accounts
                + " is not one the spec writes into v2 table accounts (those are [id, owner])");
        assertThat(letters.get(2).column()).isEqualTo("is_admin");
        assertThat(letters.get(2).reason()).startsWith("column is_admin in the key of a record of topic " + accounts);
        assertThat(letters.get(3).column()).isNull();
        assertThat(letters.get(3).reason()).isEqualTo("the key [owner] of a record of topic " + accounts
                + " is not a unique key of v2 table accounts (those are [[id]])");
        assertThat(applied("accounts", "dead_lettered")).isEqualTo(4);
        assertThat(applied("accounts", "upserted")).isEqualTo(2);
        assertThat(applied("accounts", "deleted")).isZero();
        assertThat(applied("orders", "upserted")).isZero();
        assertThat(applied("orders", "dead_lettered")).as("counted under the topic's table, not the record's").isZero();
        assertThat(sink.failure()).isNull();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 3. Offsets live in the target; a restarted sink resumes from them and re-applies nothing.
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void offsetsAreStoredInTheTargetAndARestartedSinkAppliesOnlyNewRecords() throws Exception {
        execute(db, """
                CREATE TABLE notes (id bigint PRIMARY KEY, title text);
                CREATE TABLE audit (seq bigserial PRIMARY KEY, id bigint NOT NULL, op text NOT NULL, title text);
                CREATE FUNCTION audit_notes() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'DELETE' THEN
                    INSERT INTO audit (id, op, title) VALUES (OLD.id, TG_OP, OLD.title);
                  ELSE
                    INSERT INTO audit (id, op, title) VALUES (NEW.id, TG_OP, NEW.title);
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER notes_audit AFTER INSERT OR UPDATE OR DELETE ON notes FOR EACH ROW EXECUTE FUNCTION audit_notes();
                """);
        triggers = List.of("notes.notes_audit");
        Spec spec = spec(3, null, null, Map.of("notes", List.of("id", "title")));
        provisionTopics(spec);

        Sink first = start(spec);
        List<V2Change> batch1 = new ArrayList<>();
        for (int i = 1; i <= 60; i++) {
            batch1.add(change(Op.CREATE, "notes", "{\"id\": " + i + ", \"title\": \"note " + i + "\"}", "id"));
        }
        // Transactional, as the transform writes: the commit markers take offsets of their own.
        Map<TopicPartition, Long> next = nextOffsets(produce(batch1, true));
        assertThat(next).hasSize(3);
        awaitStoredOffsets(first, "migrator_state", next);
        assertThat(rows(db, "SELECT count(*) FROM notes")).containsExactly(List.of("60"));
        first.close(Duration.ofSeconds(15));
        assertThat(first.running()).isFalse();
        assertThat(first.failure()).isNull();

        // Rewind the group's offsets in Kafka: only the target's own record of progress may decide where to resume.
        String group = prefix + "-sink";
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetAndMetadata> zero = new HashMap<>();
            next.keySet().forEach(tp -> zero.put(tp, new OffsetAndMetadata(0)));
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                    .until(() -> admin.alterConsumerGroupOffsets(group, zero).all().get() == null);
            assertThat(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().values())
                    .allSatisfy(o -> assertThat(o.offset()).isZero());
        }

        List<V2Change> batch2 = new ArrayList<>();
        for (int i = 1; i <= 10; i++) {
            batch2.add(change(Op.UPDATE, "notes", "{\"id\": " + i + ", \"title\": \"edited " + i + "\"}", "id"));
        }
        for (int i = 21; i <= 25; i++) {
            batch2.add(delete("notes", "{\"id\": " + i + "}"));
        }
        for (int i = 61; i <= 80; i++) {
            batch2.add(change(Op.CREATE, "notes", "{\"id\": " + i + ", \"title\": \"note " + i + "\"}", "id"));
        }
        next.putAll(nextOffsets(produce(batch2, true)));

        Sink second = start(spec);
        awaitStoredOffsets(second, "migrator_state", next);

        List<List<String>> audit = new ArrayList<>();
        for (int i = 1; i <= 80; i++) {
            if (i <= 60) {
                audit.add(List.of(String.valueOf(i), "INSERT", "note " + i));
            }
            if (i <= 10) {
                audit.add(List.of(String.valueOf(i), "UPDATE", "edited " + i));
            }
            if (i >= 21 && i <= 25) {
                audit.add(List.of(String.valueOf(i), "DELETE", "note " + i));
            }
            if (i > 60) {
                audit.add(List.of(String.valueOf(i), "INSERT", "note " + i));
            }
        }
        assertThat(rows(db, "SELECT id, op, title FROM audit ORDER BY id, seq")).containsExactlyElementsOf(audit);
        assertThat(rows(db, "SELECT count(*) FROM notes")).containsExactly(List.of(String.valueOf(80 - 5)));
        assertThat(second.failure()).isNull();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 4. The target refuses connections for a while: the sink waits, then applies everything exactly once.
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void whileTheTargetRefusesConnectionsTheSinkWaitsThenAppliesEverythingExactlyOnce() throws Exception {
        execute(db, """
                CREATE SCHEMA app;
                CREATE TABLE app.events (id bigint PRIMARY KEY, payload text NOT NULL);
                CREATE TABLE app.applied (id bigint PRIMARY KEY, times int NOT NULL);
                CREATE FUNCTION app.count_applied() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  INSERT INTO app.applied VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET times = app.applied.times + 1;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER events_applied AFTER INSERT OR UPDATE ON app.events FOR EACH ROW EXECUTE FUNCTION app.count_applied();
                """);
        triggers = List.of("events.events_applied");
        Spec spec = spec(3, "app", "sink_state", Map.of("events", List.of("id", "payload")));
        provisionTopics(spec);
        Map<Long, Integer> times = new HashMap<>();
        Map<Long, String> payloads = new HashMap<>();
        Consumer<List<V2Change>> expect = changes -> changes.forEach(c -> {
            long id = c.key().get("id").asLong();
            times.merge(id, 1, Integer::sum);
            payloads.put(id, c.after().get("payload").asText());
        });

        Sink sink = start(spec);
        List<V2Change> before = events(1, 50, "before");
        Map<TopicPartition, Long> next = nextOffsets(produce(before, false));
        expect.accept(before);
        awaitStoredOffsets(sink, "sink_state", next);

        CapturedLog log = CapturedLog.attach(SinkLoop.class);
        try {
            // The target goes away: no new connections, and the sink's one is cut.
            try (Connection admin = connect("postgres"); Statement st = admin.createStatement()) {
                st.execute("ALTER DATABASE \"" + db + "\" ALLOW_CONNECTIONS false");
                assertThat(rows(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db
                        + "' AND application_name = '" + SINK_APPLICATION_NAME + "'")).containsExactly(List.of("t"));
                await().atMost(DEADLINE).until(() -> rows(admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = '"
                        + db + "'").equals(List.of(List.of("0"))));
            }
            // What the driver reports for a refused connection.
            assertThatThrownBy(() -> connect(db).close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("55000"))
                    .hasMessageContaining("is not currently accepting connections");

            // Records arrive meanwhile, in several batches, some updating rows applied before the outage.
            List<V2Change> during = new ArrayList<>(events(51, 150, "during"));
            during.addAll(events(1, 10, "updated during"));
            next.putAll(nextOffsets(produce(during, false)));
            expect.accept(during);
            List<V2Change> more = events(151, 250, "during, later");
            next.putAll(nextOffsets(produce(more, false)));
            expect.accept(more);

            // The sink has tried and been refused (and has not given up).
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(50)).until(() ->
                    sink.failure() != null || log.count(Level.WARN, "is not currently accepting connections") >= 2);
            assertThat(sink.failure()).isNull();
            assertThat(rows("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db + "'"))
                    .containsExactly(List.of("0"));
        } finally {
            log.detach();
            try (Connection admin = connect("postgres"); Statement st = admin.createStatement()) {
                st.execute("ALTER DATABASE \"" + db + "\" ALLOW_CONNECTIONS true");
            }
        }

        awaitStoredOffsets(sink, "sink_state", next);
        List<List<String>> expectedRows = new ArrayList<>();
        List<List<String>> expectedTimes = new ArrayList<>();
        for (long id = 1; id <= 250; id++) {
            expectedRows.add(List.of(String.valueOf(id), payloads.get(id)));
            expectedTimes.add(List.of(String.valueOf(id), String.valueOf(times.get(id))));
        }
        assertThat(rows(db, "SELECT id, payload FROM app.events ORDER BY id")).containsExactlyElementsOf(expectedRows);
        assertThat(rows(db, "SELECT id, times FROM app.applied ORDER BY id")).containsExactlyElementsOf(expectedTimes);
        assertThat(deadLetters()).isEmpty();
        assertThat(applied("events", "dead_lettered")).isZero();
        assertThat(sink.failure()).isNull();
        assertThat(sink.running()).isTrue();
    }

    // ---------------------------------------------------------------------------------------------------------------

    private List<V2Change> events(int from, int to, String payload) {
        List<V2Change> changes = new ArrayList<>();
        for (int i = from; i <= to; i++) {
            changes.add(change(Op.CREATE, "events", "{\"id\": " + i + ", \"payload\": \"" + payload + " " + i + "\"}", "id"));
        }
        return changes;
    }

    /** A spec mapping each v1 table into the v2 table of its name, each listed column from the v1 column of its name. */
    private Spec spec(int partitions, String schema, String stateSchema, Map<String, List<String>> columns) {
        Map<String, TableSpec> tables = new LinkedHashMap<>();
        columns.forEach((table, names) -> {
            LinkedHashMap<String, ColumnSpec> mapped = new LinkedHashMap<>();
            names.forEach(name -> mapped.put(name, ColumnSpec.from(name)));
            tables.put(table, TableSpec.of(null, null, mapped));
        });
        return new Spec(Spec.CURRENT_VERSION,
                new SourceSpec(PG.jdbcUrl("unused_v1"), PG.user(), PG.password(), null, null),
                new TargetSpec(PG.jdbcUrl(db), PG.user(), PG.password(), schema, stateSchema, triggers),
                new KafkaSpec(bootstrap, prefix, partitions, null), tables);
    }

    private void provisionTopics(Spec spec) {
        try (Admin admin = admin()) {
            TopicProvisioner.createMissing(admin, spec);
        }
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }

    private Sink start(Spec spec) {
        Sink sink = Sink.start(spec, bootstrap, registry, Map.of());
        sinks.add(sink);
        return sink;
    }

    private V2Change change(Op op, String table, String afterJson, String... keyColumns) {
        return change(op, table, (ObjectNode) readTree(afterJson), keyColumns);
    }

    private V2Change change(Op op, String table, ObjectNode after, String... keyColumns) {
        ObjectNode key = Json.MAPPER.createObjectNode();
        for (String column : keyColumns) {
            key.set(column, after.get(column));
        }
        return new V2Change(op, table, key, after, source(table));
    }

    private V2Change delete(String table, String keyJson) {
        return new V2Change(Op.DELETE, table, (ObjectNode) readTree(keyJson), null, source(table));
    }

    private SourcePosition source(String table) {
        lsn += 8;
        return new SourcePosition("public." + table, lsn, null, lsn, System.currentTimeMillis(), false);
    }

    /** The JSON with some fields replaced (for values awkward to write inside JSON inside Java). */
    private static ObjectNode row(Map<String, String> textFields, String json) {
        ObjectNode node = (ObjectNode) readTree(json);
        textFields.forEach(node::put);
        return node;
    }

    private static JsonNode readTree(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record Sent(V2Change change, RecordMetadata metadata) {
    }

    /** Produces the changes in order, keyed like the transform does, into {@code <prefix>.v2.<table>}. */
    private List<Sent> produce(List<V2Change> changes, boolean transactional) throws SQLException {
        return produce(changes, transactional, c -> prefix + ".v2." + c.table());
    }

    /** Produces the changes in order, keyed like the transform does, each into the topic {@code topicOf} names. */
    private List<Sent> produce(List<V2Change> changes, boolean transactional, Function<V2Change, String> topicOf) throws SQLException {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // The topics were just created: a first send can meet NOT_LEADER_OR_FOLLOWER, and with several requests in
        // flight a later batch is appended before the retried first one, whose sequence then never fits again.
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        if (transactional) {
            props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, prefix + "-test-" + UUID.randomUUID());
        }
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            if (transactional) {
                producer.initTransactions();
                producer.beginTransaction();
            }
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (V2Change c : changes) {
                String topic = topicOf.apply(c);
                futures.add(producer.send(new ProducerRecord<>(topic, Json.MAPPER.writeValueAsBytes(c.key()), V2.serialize(topic, c))));
            }
            if (transactional) {
                producer.commitTransaction();
            }
            List<Sent> sent = new ArrayList<>();
            for (int i = 0; i < changes.size(); i++) {
                sent.add(new Sent(changes.get(i), futures.get(i).get()));
            }
            return sent;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException | ExecutionException e) {
            throw new IllegalStateException("cannot produce", e);
        }
    }

    /** Last offset + 1 per partition. */
    private static Map<TopicPartition, Long> nextOffsets(List<Sent> sent) {
        Map<TopicPartition, Long> next = new HashMap<>();
        for (Sent s : sent) {
            next.merge(new TopicPartition(s.metadata().topic(), s.metadata().partition()), s.metadata().offset() + 1, Math::max);
        }
        return next;
    }

    /** Waits until the target's sink_offsets hold exactly {@code expected} for this test's group. */
    private void awaitStoredOffsets(Sink sink, String stateSchema, Map<TopicPartition, Long> expected) {
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(100)).ignoreExceptionsInstanceOf(SQLException.class)
                .untilAsserted(() -> {
                    assertThat(sink.failure()).isNull();
                    assertThat(storedOffsets(stateSchema)).isEqualTo(expected);
                });
    }

    private Map<TopicPartition, Long> storedOffsets(String stateSchema) throws SQLException {
        Map<TopicPartition, Long> stored = new HashMap<>();
        try (Connection c = connect(db); PreparedStatement ps = c.prepareStatement(
                "SELECT topic, partition, next_offset FROM \"" + stateSchema + "\".sink_offsets WHERE consumer_group = ?")) {
            ps.setString(1, prefix + "-sink");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    stored.put(new TopicPartition(rs.getString(1), rs.getInt(2)), rs.getLong(3));
                }
            }
        }
        return stored;
    }

    /** Everything on this test's dead-letter topic, in offset order per partition. */
    private List<ConsumerRecord<byte[], byte[]>> deadLetters() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(prefix + ".dlq").stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            await().atMost(DEADLINE).until(() -> {
                consumer.poll(Duration.ofMillis(100)).forEach(records::add);
                return partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp));
            });
            return records;
        }
    }

    private double applied(String table, String outcome) {
        Counter counter = registry.find("migrator.sink.rows.applied").tags("table", table, "outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    private static Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(PG.jdbcUrl(database), PG.user(), PG.password());
    }

    private static void execute(String database, String sql) throws SQLException {
        try (Connection c = connect(database); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static List<List<String>> rows(String database, String query) throws SQLException {
        try (Connection c = connect(database)) {
            return rows(c, query);
        }
    }

    /** Every row as the server's text output (in UTC), NULL as null, so that values compare exactly. */
    private static List<List<String>> rows(Connection c, String query) throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        try (Statement st = c.createStatement()) {
            st.execute("SET TIME ZONE 'UTC'");
            try (ResultSet rs = st.executeQuery(query)) {
                int columns = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    List<String> row = new ArrayList<>(columns);
                    for (int i = 1; i <= columns; i++) {
                        row.add(rs.getString(i));
                    }
                    rows.add(row);
                }
            }
        }
        return rows;
    }

    /** Log events of one logger, captured for the duration of a test. */
    private static final class CapturedLog extends AppenderBase<ILoggingEvent> {

        private final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();
        private ch.qos.logback.classic.Logger logger;

        static CapturedLog attach(Class<?> source) {
            CapturedLog log = new CapturedLog();
            log.logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(source);
            log.start();
            log.logger.addAppender(log);
            return log;
        }

        void detach() {
            logger.detachAppender(this);
            stop();
        }

        long count(Level level, String text) {
            return events.stream().filter(e -> e.getLevel() == level && e.getFormattedMessage().contains(text)).count();
        }

        @Override
        protected void append(ILoggingEvent event) {
            events.add(event);
        }
    }
}
