package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Isolation dimensions: each way of deriving one, late lookup rows held and released, the wait running out, re-keying. */
class TenancyTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    private final DebeziumEnvelopes users = new DebeziumEnvelopes("users").column("id", "int64").column("org", "string");
    private final DebeziumEnvelopes messages = new DebeziumEnvelopes("messages").column("id", "int64").column("user_id", "int64")
            .column("sender", "string").column("receiver", "string").column("agent_id", "int64");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> rawUsers;
    private TestInputTopic<byte[], byte[]> rawMessages;
    private TestOutputTopic<byte[], byte[]> v2Messages;
    private TestOutputTopic<byte[], byte[]> dlq;
    private long lsn = 1000;

    private void start(String tenant) {
        Spec spec = new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: app }
                tenancy: { holdSeconds: 60 }
                tables:
                  messages:
                    key: [tenant_id, id]
                    dimensions:
                      tenant: %s
                      stream: { expr: "row.sender + ':' + row.receiver" }
                      platform: { expr: "row.sender.split(':')[0]" }
                      agent: { from: agent_id, default: 0 }
                    columns: { id: { from: id } }
                """.formatted(tenant), "t.yaml");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "tenancy-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(spec, registry), props);
        rawUsers = driver.createInputTopic("app.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer());
        rawMessages = driver.createInputTopic("app.raw.public.messages", new ByteArraySerializer(), new ByteArraySerializer());
        v2Messages = driver.createOutputTopic("app.v2.messages", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        dlq = driver.createOutputTopic("app.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @BeforeEach
    void startWithALookup() {
        start("{ lookup: { table: users, key: user_id, column: org } }");
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void user(String op, long id, String org) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("org", org);
        lsn += 10;
        rawUsers.pipeInput(users.key("id", id), users.change(op, op.equals("d") ? row : null, op.equals("d") ? null : row, lsn, lsn - 5));
    }

    private void message(String op, long id, Long userId, String sender, Long agent) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("user_id", userId);
        row.put("sender", sender);
        row.put("receiver", "bot");
        row.put("agent_id", agent);
        lsn += 10;
        rawMessages.pipeInput(messages.key("id", id), messages.change(op, op.equals("d") ? row : null, op.equals("d") ? null : row, lsn, lsn - 5));
    }

    private List<String> out() {
        return v2Messages.readValuesToList().stream().map(b -> V2.deserialize(null, b))
                .map(c -> c.op().code() + (c.after() == null ? c.key().toString() : c.after().toString())).toList();
    }

    private double outcome(String outcome) {
        var counter = registry.find("migrator.transform.dimension.rows").tags("table", "messages", "outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void dimensionsComeFromColumnsExpressionsDefaultsAndLookups() {
        user("r", 1, "acme");
        message("c", 10, 1L, "qq:42", 7L);
        message("c", 11, 1L, "discord:9", null);

        assertThat(out()).containsExactly(
                "c{\"id\":10,\"tenant_id\":\"acme\",\"agent_id\":7,\"chat_stream\":\"qq:42:bot\",\"platform\":\"qq\"}",
                "c{\"id\":11,\"tenant_id\":\"acme\",\"agent_id\":0,\"chat_stream\":\"discord:9:bot\",\"platform\":\"discord\"}");
        assertThat(outcome("tagged")).isEqualTo(1.0);
        assertThat(outcome("defaulted")).isEqualTo(1.0);
    }

    @Test
    void aRowWhoseLookupRowHasNotArrivedIsHeldThenReleased() {
        message("c", 10, 2L, "qq:1", 1L);
        message("u", 10, 2L, "qq:2", 1L);
        assertThat(out()).isEmpty();
        assertThat(outcome("held")).isEqualTo(2.0);

        user("c", 2, "globex");

        // The newest version of the row is released, once, under the tenant that arrived.
        assertThat(out()).containsExactly("u{\"id\":10,\"tenant_id\":\"globex\",\"agent_id\":1,\"chat_stream\":\"qq:2:bot\",\"platform\":\"qq\"}");
        assertThat(outcome("released")).isEqualTo(1.0);
        assertThat(dlq.isEmpty()).isTrue();
    }

    @Test
    void aRowStillWaitingAfterTheHoldIsDeadLetteredNamingTheLookup() {
        message("c", 10, 3L, "qq:1", 1L);
        driver.advanceWallClockTime(Duration.ofSeconds(59));
        assertThat(dlq.isEmpty()).isTrue();

        driver.advanceWallClockTime(Duration.ofSeconds(11));

        assertThat(out()).isEmpty();
        DeadLetter letter = DEAD.deserialize(null, dlq.readValue());
        assertThat(letter.table()).isEqualTo("messages");
        assertThat(letter.column()).isEqualTo("tenant_id");
        assertThat(letter.reason()).contains("no users row with key 3", "user_id", "tables.messages.dimensions.tenant", "no default");
        assertThat(letter.key().path("payload").path("id").asLong()).isEqualTo(10);
        assertThat(outcome("dead_lettered")).isEqualTo(1.0);
        // The user arriving later changes nothing: the row is in the dead-letter topic, to be replayed.
        user("c", 3, "late");
        assertThat(out()).isEmpty();
    }

    @Test
    void aDefaultAppliesWhenTheWaitRunsOut() {
        driver.close();
        start("{ lookup: { table: users, key: user_id, column: org }, default: \"'unassigned'\" }");
        message("c", 10, 3L, "qq:1", 1L);
        message("c", 11, null, "qq:1", 1L);

        driver.advanceWallClockTime(Duration.ofSeconds(70));

        assertThat(out()).extracting(s -> s.replaceAll(",\"agent_id.*", "")).containsExactly(
                "c{\"id\":11,\"tenant_id\":\"unassigned\"", "c{\"id\":10,\"tenant_id\":\"unassigned\"");
        assertThat(dlq.isEmpty()).isTrue();
    }

    @Test
    void aTenantMoveReKeysEveryRowOfTheUserAndLeavesNothingUnderTheOldTenant() {
        user("r", 1, "acme");
        user("r", 2, "acme");
        message("c", 10, 1L, "qq:1", 1L);
        message("c", 11, 1L, "qq:1", 1L);
        message("c", 12, 2L, "qq:1", 1L);
        out();

        user("u", 1, "globex");
        user("u", 1, "globex"); // an update of the user that does not touch the tenant column
        message("u", 11, 2L, "qq:1", 1L); // moves to user 2, still acme
        user("u", 1, "initech");

        List<V2Change> changes = v2Messages.readValuesToList().stream().map(b -> V2.deserialize(null, b)).toList();
        assertThat(changes).extracting(c -> c.op().code() + c.key()).containsExactly(
                "d{\"tenant_id\":\"acme\",\"id\":10}", "u{\"tenant_id\":\"globex\",\"id\":10}",
                "d{\"tenant_id\":\"acme\",\"id\":11}", "u{\"tenant_id\":\"globex\",\"id\":11}",
                "d{\"tenant_id\":\"globex\",\"id\":11}", "u{\"tenant_id\":\"acme\",\"id\":11}",
                "d{\"tenant_id\":\"globex\",\"id\":10}", "u{\"tenant_id\":\"initech\",\"id\":10}");
        assertThat(outcome("retagged")).isEqualTo(3.0);
    }

    @Test
    void aCopiedRowWhoseUserMovedBeforeItArrivedMovesFromTheTenantTheCopyWroteItUnder() {
        user("r", 1, "acme");
        long copiedAt = lsn;
        user("u", 1, "globex"); // streamed after the copy's snapshot, reaching this task before the copied row

        copied(10, 1L, copiedAt, "acme");
        user("u", 1, "initech");

        assertThat(keys()).containsExactly(
                "d{\"tenant_id\":\"acme\",\"id\":10}", "u{\"tenant_id\":\"globex\",\"id\":10}",
                "d{\"tenant_id\":\"globex\",\"id\":10}", "u{\"tenant_id\":\"initech\",\"id\":10}");
        assertThat(dlq.isEmpty()).isTrue();
    }

    @Test
    void aCopiedRowArrivingBeforeItsUserIsNotWrittenAgainAndLeavesTheCopysTenantWhenMovedOrDeleted() {
        long copiedAt = lsn + 10; // the snapshot that reads the user below
        copied(10, 1L, copiedAt, "acme");
        copied(11, 1L, copiedAt, "acme");
        user("r", 1, "acme"); // the copy's own read of the user: the tenant the rows already have in v2
        assertThat(keys()).isEmpty();

        message("d", 11, 1L, "qq:1", 1L);
        user("u", 1, "globex");

        assertThat(keys()).containsExactly("d{\"tenant_id\":\"acme\",\"id\":11}",
                "d{\"tenant_id\":\"acme\",\"id\":10}", "u{\"tenant_id\":\"globex\",\"id\":10}");
        assertThat(dlq.isEmpty()).isTrue();
    }

    /** A row the copy backfill wrote to v2 under {@code tenant}, read from the snapshot at {@code snapshotLsn}. */
    private void copied(long id, long userId, long snapshotLsn, String tenant) {
        ObjectNode row = Json.MAPPER.createObjectNode().put("id", id).put("user_id", userId).put("sender", "qq:1")
                .put("receiver", "bot").put("agent_id", 1L);
        ObjectNode written = Json.MAPPER.createObjectNode().put("tenant_id", tenant).put("chat_stream", "qq:1:bot")
                .put("platform", "qq").put("agent_id", 1L);
        BackfilledRow copied = new BackfilledRow("public.messages", snapshotLsn, snapshotLsn, true, List.of(),
                Json.MAPPER.createObjectNode().put("id", id), row, written);
        rawMessages.pipeInput(null, BackfilledRow.recordValue(List.of(copied)));
    }

    private List<String> keys() {
        return v2Messages.readValuesToList().stream().map(b -> V2.deserialize(null, b)).map(c -> c.op().code() + c.key()).toList();
    }

    @Test
    void aDimensionWithoutValueOrDefaultIsADeadLetter() {
        driver.close();
        start("{ from: user_id }");
        message("c", 10, null, "qq:1", 1L);

        assertThat(out()).isEmpty();
        DeadLetter letter = DEAD.deserialize(null, dlq.readValue());
        assertThat(letter.column()).isEqualTo("tenant_id");
        assertThat(letter.reason()).isEqualTo("tables.messages.dimensions.tenant is null for this row and it has no default");
    }

    @Test
    void theTopologyNamesEveryLookupNodeAndStore() {
        var description = TransformTopology.build(new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: app }
                tables:
                  messages:
                    dimensions: { tenant: { lookup: { table: users, key: user_id, column: org } } }
                    columns: { id: { from: id } }
                """, "t.yaml"), registry).describe().toString();

        assertThat(description).contains("Source: raw-users (topics: [app.raw.public.users])",
                "Sink: lookup-users-for-messages (topic: app.lookups.messages)",
                "Source: lookups-messages (topics: [app.lookups.messages])",
                "images-messages", "lookup-rows-messages", "lookup-links-messages", "held-messages");
    }

}
