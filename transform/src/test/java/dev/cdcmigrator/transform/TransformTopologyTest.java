package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TransformTopologyTest {

    private static final Spec SPEC = new SpecParser(name -> null).parse("""
            version: 1
            source: { url: "jdbc:postgresql://v1/keiko", user: u }
            target: { url: "jdbc:postgresql://v2/keiko", user: u }
            kafka: { topicPrefix: keiko }
            tables:
              users:
                into: accounts
                columns:
                  account_id: { from: id }
                  display_name: { from: name }
                  signed_up_at: { from: created_at }
              tasks:
                columns:
                  id: { from: id }
                  title: { from: name }
            """, "test.yaml");

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    private final DebeziumEnvelopes users = new DebeziumEnvelopes("users")
            .column("id", "int64").column("name", "string").column("created_at", "int64:io.debezium.time.MicroTimestamp")
            .column("note", "string");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> rawUsers;
    private TestOutputTopic<byte[], byte[]> accounts;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    @BeforeEach
    void setUp() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(SPEC, registry), props);
        rawUsers = driver.createInputTopic("keiko.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer());
        accounts = driver.createOutputTopic("keiko.v2.accounts", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        deadLetters = driver.createOutputTopic("keiko.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    @Test
    void everyNodeIsNamedAfterItsTable() {
        Topology topology = TransformTopology.build(SPEC, registry);
        String description = topology.describe().toString();

        assertThat(description)
                .contains("Source: raw-tasks (topics: [keiko.raw.public.tasks])")
                .contains("Source: raw-users (topics: [keiko.raw.public.users])")
                .containsPattern("Processor: map-users \\(stores: \\[(images-users, schemas-users|schemas-users, images-users)]\\)")
                .contains("Sink: v2-accounts (topic: keiko.v2.accounts)")
                .contains("Sink: v2-tasks (topic: keiko.v2.tasks)")
                .contains("Sink: dead-letters (topic: keiko.dlq)")
                .contains("Sink: replay-outcomes (topic: keiko.replays)")
                .doesNotContain("KSTREAM-");
        assertThat(TransformTopology.build(SPEC, registry).describe()).isEqualTo(topology.describe());
    }

    @Test
    void deleteMapsToADeleteOfTheV2KeyAndTombstonesAreSkipped() {
        rawUsers.pipeInput(users.key("id", 7), users.change("d", Map.of("id", 7), null, 300));
        rawUsers.pipeInput(users.key("id", 7), (byte[]) null);

        List<TestRecord<byte[], byte[]>> out = accounts.readRecordsToList();
        assertThat(out).hasSize(1);
        V2Change delete = V2.deserialize(null, out.get(0).value());
        assertThat(delete.op()).isEqualTo(Op.DELETE);
        assertThat(delete.key().toString()).isEqualTo("{\"account_id\":7}");
        assertThat(delete.after()).isNull();
        assertThat(new String(out.get(0).key(), StandardCharsets.UTF_8)).isEqualTo("{\"account_id\":7}");
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void insertIsRenamedDecodedAndKeyedByTheV2Key() {
        Map<String, Object> row = row(7, "Ann", 1_700_000_000_123_456L);
        rawUsers.pipeInput(users.key("id", 7), users.change("c", null, row, 100));

        TestRecord<byte[], byte[]> out = accounts.readRecord();
        V2Change change = V2.deserialize(null, out.value());
        assertThat(change.op()).isEqualTo(Op.CREATE);
        assertThat(change.table()).isEqualTo("accounts");
        assertThat(change.after().toString())
                .isEqualTo("{\"account_id\":7,\"display_name\":\"Ann\",\"signed_up_at\":\"2023-11-14T22:13:20.123456\"}");
        assertThat(new String(out.key(), StandardCharsets.UTF_8)).isEqualTo("{\"account_id\":7}");
        assertThat(change.source().table()).isEqualTo("public.users");
        assertThat(change.source().lsn()).isEqualTo(100);
        assertThat(registry.get("migrator.transform.records").tags("table", "users", "outcome", "mapped").counter().count()).isEqualTo(1.0);
    }

    @Test
    void snapshotReadsAndUpdatesKeepTheirOp() {
        rawUsers.pipeInput(users.key("id", 1), users.change("r", null, row(1, "a", 0L), 10));
        rawUsers.pipeInput(users.key("id", 1), users.change("u", null, row(1, "b", 0L), 20));

        assertThat(accounts.readValuesToList()).extracting(v -> V2.deserialize(null, v).op()).containsExactly(Op.READ, Op.UPDATE);
    }

    @Test
    void aRowMissingAMappedColumnGoesToTheDeadLetterTopicNamingTableColumnAndPosition() {
        Map<String, Object> row = new java.util.LinkedHashMap<>(row(9, "x", 0L));
        row.remove("name");
        rawUsers.pipeInput(users.key("id", 9), users.change("c", null, row, 400));
        rawUsers.pipeInput(users.key("id", 10), users.change("c", null, row(10, "next", 0L), 410));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        DeadLetter letter = DEAD.deserialize(null, dead.value());
        assertThat(letter.stage()).isEqualTo("transform");
        assertThat(letter.table()).isEqualTo("users");
        assertThat(letter.column()).isEqualTo("display_name");
        assertThat(letter.reason()).isEqualTo("v1 column name (for v2 column accounts.display_name) is not in the row;"
                + " it has [id, created_at, note]");
        assertThat(letter.topic()).isEqualTo("keiko.raw.public.users");
        assertThat(letter.offset()).isZero();
        assertThat(letter.key().path("payload").path("id").asInt()).isEqualTo(9);
        assertThat(letter.record().path("payload").path("after").path("id").asInt()).isEqualTo(9);
        assertThat(dead.key()).isEqualTo(users.key("id", 9));
        // the pipeline goes on with the next record
        assertThat(accounts.readValuesToList()).extracting(v -> V2.deserialize(null, v).key().path("account_id").asInt()).containsExactly(10);
        assertThat(registry.get("migrator.transform.records").tags("table", "users", "outcome", "dead_lettered").counter().count()).isEqualTo(1.0);
    }

    @Test
    void aSchemaSentInlineOnceIsReadByTheLaterRecordsThatNameIt() {
        byte[] inline = users.change("c", null, row(7, "Ann", 0L), 100);
        rawUsers.pipeInput(users.key("id", 7), inline);
        rawUsers.pipeInput(referencing(users.key("id", 7), users.change("u", null, row(7, "Bea", 0L), 200)));
        rawUsers.pipeInput(referencing(users.key("id", 7), users.change("d", Map.of("id", 7), null, 300)));

        assertThat(accounts.readValuesToList()).extracting(v -> V2.deserialize(null, v))
                .satisfiesExactly(
                        c -> assertThat(c.after().path("display_name").asText()).isEqualTo("Ann"),
                        c -> assertThat(c.after().path("display_name").asText()).isEqualTo("Bea"),
                        c -> assertThat(c.op()).isEqualTo(Op.DELETE));
        assertThat(deadLetters.isEmpty()).isTrue();
        // Kept in the task's changelogged store, so a restarted task reads the records after the inline one.
        KeyValueStore<Bytes, byte[]> schemas = driver.getKeyValueStore("schemas-users");
        String id = DebeziumEnvelopes.byReference(inline).schemaId();
        assertThat(schemas.get(Bytes.wrap(id.getBytes(StandardCharsets.UTF_8)))).isNotNull();
    }

    @Test
    void aRecordNamingASchemaItsPartitionNeverCarriedIsDeadLetteredNamingTheSchema() {
        byte[] value = users.change("c", null, row(8, "Cy", 0L), 100);
        rawUsers.pipeInput(referencing(users.key("id", 8), value));

        assertThat(accounts.isEmpty()).isTrue();
        DeadLetter letter = DEAD.deserialize(null, deadLetters.readValue());
        assertThat(letter.reason()).contains("names Debezium schema " + DebeziumEnvelopes.byReference(value).schemaId())
                .contains("no earlier record of its partition of users's raw topic carried");
    }

    @Test
    void aDeadLetterOfARecordThatNamedItsSchemaCarriesTheSchemaInlineSoThatItReplaysOnItsOwn() throws Exception {
        rawUsers.pipeInput(users.key("id", 9), users.change("c", null, row(9, "Di", 0L), 100));
        Map<String, Object> nameless = new java.util.LinkedHashMap<>(row(9, "x", 0L));
        nameless.remove("name");
        byte[] inline = users.change("u", null, nameless, 200);
        rawUsers.pipeInput(referencing(users.key("id", 9), inline));

        DeadLetter letter = DEAD.deserialize(null, deadLetters.readValue());
        assertThat(letter.column()).isEqualTo("display_name");
        assertThat(letter.record()).isEqualTo(Json.MAPPER.readTree(inline));
        assertThat(letter.key()).isEqualTo(Json.MAPPER.readTree(users.key("id", 9)));
    }

    /** The record capture sends once the partition has carried both schemas inline. */
    private static TestRecord<byte[], byte[]> referencing(byte[] inlineKey, byte[] inlineValue) {
        DebeziumEnvelopes.Referenced key = DebeziumEnvelopes.byReference(inlineKey);
        DebeziumEnvelopes.Referenced value = DebeziumEnvelopes.byReference(inlineValue);
        RecordHeaders headers = new RecordHeaders();
        headers.add(key.header(SchemaReferences.KEY_HEADER));
        headers.add(value.header(SchemaReferences.VALUE_HEADER));
        return new TestRecord<>(key.payload(), value.payload(), headers, (Long) null);
    }

    @Test
    void anUnchangedToastPlaceholderNeverReachesV2() {
        rawUsers.pipeInput(users.key("id", 3), users.change("u", null, row(3, "__debezium_unavailable_value", 0L), 500));
        rawUsers.pipeInput(users.key("id", 4), users.change("c", null, row(4, "__debezium_unavailable_value", 0L), 510));

        byte[] update = accounts.readValue();
        assertThat(new String(update, StandardCharsets.UTF_8)).doesNotContain("__debezium_unavailable_value");
        assertThat(V2.deserialize(null, update).unchanged()).containsExactly("display_name");
        assertThat(accounts.isEmpty()).isTrue();
        DeadLetter letter = DEAD.deserialize(null, deadLetters.readValue());
        assertThat(letter.column()).isEqualTo("name");
        assertThat(letter.reason()).contains("users.name (key {\"id\":4}) is an unchanged TOASTed value");
    }

    @Test
    void aRecordThatIsNotADebeziumEnvelopeIsDeadLetteredWithItsText() {
        rawUsers.pipeInput(users.key("id", 4), "not json".getBytes(StandardCharsets.UTF_8));
        rawUsers.pipeInput(users.key("id", 5), "{\"payload\":{}}".getBytes(StandardCharsets.UTF_8));

        List<DeadLetter> letters = deadLetters.readValuesToList().stream().map(v -> DEAD.deserialize(null, v)).toList();
        assertThat(letters).extracting(DeadLetter::reason)
                .satisfiesExactly(r -> assertThat(r).startsWith("not JSON"), r -> assertThat(r).contains("not a Debezium change envelope"));
        assertThat(letters.get(0).record().asText()).isEqualTo("not json");
        assertThat(accounts.isEmpty()).isTrue();
    }

    @Test
    void aValueItsSchemaCannotDecodeIsDeadLetteredNamingItsColumnAndTheRestGoesOn() {
        DebeziumEnvelopes dated = new DebeziumEnvelopes("users")
                .column("id", "int64").column("name", "string").column("created_at", "int32:io.debezium.time.Date")
                .column("note", "string");
        rawUsers.pipeInput(users.key("id", 6), dated.change("c", null, row(6, "f", Long.MAX_VALUE), 600));
        rawUsers.pipeInput(users.key("id", 7), users.change("c", null, row(7, "g", 0L), 700));

        DeadLetter letter = DEAD.deserialize(null, deadLetters.readValue());
        assertThat(letter.column()).isEqualTo("created_at");
        assertThat(letter.reason()).startsWith("column created_at: " + Long.MAX_VALUE + " is not a value of Debezium's io.debezium.time.Date");
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(accounts.readKeyValuesToList()).hasSize(1);
    }

    @Test
    void anUnmappedKeyColumnIsDeadLetteredWithAFix() {
        Spec noKeyMapping = new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/keiko", user: u }
                target: { url: "jdbc:postgresql://v2/keiko", user: u }
                kafka: { topicPrefix: keiko }
                tables:
                  users: { columns: { display_name: { from: name } } }
                """, "test.yaml");
        try (TopologyTestDriver d = new TopologyTestDriver(TransformTopology.build(noKeyMapping, registry), driverProps())) {
            d.createInputTopic("keiko.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer())
                    .pipeInput(users.key("id", 1), users.change("c", null, row(1, "a", 0L), 1));
            JsonNode letter = readTree(d.createOutputTopic("keiko.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer()).readValue());
            assertThat(letter.path("column").asText()).isEqualTo("id");
            assertThat(letter.path("reason").asText()).isEqualTo("v1 key column users.id is not mapped into users;"
                    + " map it or name the v2 key with 'key:'");
        }
    }

    private static Properties driverProps() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "test2");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        return props;
    }

    private static JsonNode readTree(byte[] bytes) {
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> row(long id, String name, long createdMicros) {
        Map<String, Object> row = new java.util.LinkedHashMap<>();
        row.put("id", id);
        row.put("name", name);
        row.put("created_at", createdMicros);
        row.put("note", null);
        return row;
    }
}
