package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.avro.ConfluentAvroDeserializer;
import dev.cdcmigrator.avro.IncompatibleSchemaException;
import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.V2AvroReader;
import dev.cdcmigrator.avro.V2AvroWriter;
import dev.cdcmigrator.avro.V2Catalog;
import dev.cdcmigrator.avro.V2Column;
import dev.cdcmigrator.avro.V2Column.Kind;
import dev.cdcmigrator.avro.WireFormat;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.transform.internal.AvroV2Serializers;
import dev.cdcmigrator.transform.internal.V2DeadLetterHandler;
import dev.cdcmigrator.transform.internal.V2TopicUnwritableError;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The topology with Avro v2 topics ({@code kafka.v2Format: avro}): the v2 sink nodes write Confluent-framed Avro
 * registered in a registry (the testkit's stand-in), a value the v2 column cannot hold is dead-lettered in the same
 * transaction, and a schema the registry refuses stops the transform naming the subject.
 */
class AvroTopologyTest {

    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final List<V2Column> ACCOUNTS = List.of(
            V2Column.of("account_id", "bigint", Kind.LONG, false),
            V2Column.of("display_name", "text", Kind.STRING, false),
            V2Column.decimal("score", 5, 2, true),
            V2Column.of("created_by", "text", Kind.STRING, true));

    private final DebeziumEnvelopes users = new DebeziumEnvelopes("users")
            .column("id", "int64").column("name", "string").column("score", "string");
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final AtomicReference<List<V2Column>> accounts = new AtomicReference<>(ACCOUNTS);
    private RegistryStandIn registry;
    private SchemaRegistryClient client;
    private Spec spec;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> rawUsers;
    private TestOutputTopic<byte[], byte[]> v2Accounts;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    @BeforeEach
    void setUp() {
        registry = RegistryStandIn.start();
        client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
        spec = new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/keiko", user: u }
                target: { url: "jdbc:postgresql://v2/keiko", user: u }
                kafka: { topicPrefix: keiko, v2Format: avro, schemaRegistry: { url: "%s" } }
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      score: { from: score }
                """.formatted(registry.url()), "test.yaml");
        start();
    }

    private void start() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.putAll(V2DeadLetterHandler.settings("keiko.dlq", "public", meters));
        V2Catalog catalog = new V2Catalog(table -> accounts.get(), Duration.ZERO);
        V2AvroWriter writer = new V2AvroWriter(client, catalog, Map.of("accounts", List.of("account_id", "display_name", "score")));
        driver = new TopologyTestDriver(TransformTopology.build(spec, meters, new AvroV2Serializers(writer)), props);
        rawUsers = driver.createInputTopic("keiko.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer());
        v2Accounts = driver.createOutputTopic("keiko.v2.accounts", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        deadLetters = driver.createOutputTopic("keiko.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
        registry.close();
    }

    private static Map<String, Object> row(long id, String name, String score) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("name", name);
        row.put("score", score);
        return row;
    }

    @Test
    void v2RecordsAreConfluentFramedAvroWithSchemasOfTheV2TableRegisteredUnderTheTopicsSubjects() {
        rawUsers.pipeInput(users.key("id", 7), users.change("c", null, row(7, "Ann", "12.5"), 100));
        rawUsers.pipeInput(users.key("id", 7), users.change("d", Map.of("id", 7), null, 200));

        List<TestRecord<byte[], byte[]>> out = v2Accounts.readRecordsToList();
        assertThat(out).hasSize(2);
        assertThat(registry.versions("keiko.v2.accounts-value")).hasSize(1);
        assertThat(registry.versions("keiko.v2.accounts-key")).hasSize(1);
        assertThat(registry.schema(WireFormat.schemaId(out.get(0).value())).getField("after").schema().toString())
                .contains("account_id", "display_name", "score").doesNotContain("created_by");
        GenericRecord key = new ConfluentAvroDeserializer(client, true, null).deserialize("keiko.v2.accounts", out.get(0).key());
        assertThat(key.toString()).isEqualTo("{\"account_id\": 7}");
        V2AvroReader reader = new V2AvroReader(client);
        V2Change insert = reader.value("keiko.v2.accounts", out.get(0).value());
        assertThat(insert.op()).isEqualTo(Op.CREATE);
        assertThat(insert.after()).hasToString("{\"account_id\":7,\"display_name\":\"Ann\",\"score\":12.50}");
        assertThat(insert.source().table()).isEqualTo("public.users");
        assertThat(insert.source().lsn()).isEqualTo(100);
        V2Change delete = reader.value("keiko.v2.accounts", out.get(1).value());
        assertThat(delete.op()).isEqualTo(Op.DELETE);
        assertThat(delete.after()).isNull();
        assertThat(delete.key()).hasToString("{\"account_id\":7}");
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void recordsArePartitionedByTheJsonKeyAsJsonV2TopicsAre() {
        byte[] jsonKey = "{\"account_id\":7}".getBytes(StandardCharsets.UTF_8);

        assertThat(new AvroV2Serializers(null).partitioner().partitions("keiko.v2.accounts", jsonKey, null, 12))
                .contains(Set.of(BuiltInPartitioner.partitionForKey(jsonKey, 12)));
    }

    @Test
    void aValueTheV2ColumnCannotHoldIsDeadLetteredAndTheTransformGoesOn() {
        rawUsers.pipeInput(users.key("id", 8), users.change("c", null, row(8, "Bo", "1234.567"), 300));
        rawUsers.pipeInput(users.key("id", 9), users.change("c", null, row(9, "Cy", "1.5"), 310));

        List<TestRecord<byte[], byte[]>> out = v2Accounts.readRecordsToList();
        assertThat(out).hasSize(1);
        assertThat(new V2AvroReader(client).value("keiko.v2.accounts", out.get(0).value()).key()).hasToString("{\"account_id\":9}");
        TestRecord<byte[], byte[]> letter = deadLetters.readRecord();
        DeadLetter dead = DEAD.deserialize("keiko.dlq", letter.value());
        assertThat(dead.stage()).isEqualTo("transform");
        assertThat(dead.table()).isEqualTo("users");
        assertThat(dead.topic()).isEqualTo("keiko.v2.accounts");
        assertThat(dead.offset()).isEqualTo(-1);
        assertThat(dead.column()).isEqualTo("accounts.score");
        assertThat(dead.reason()).isEqualTo("table accounts, column score (numeric(5,2)): 1234.567 has more fraction digits than"
                + " numeric(5,2) keeps (scale 2); it would be rounded");
        assertThat(dead.key()).hasToString("{\"account_id\":8}");
        assertThat(dead.record().path("after").path("score").asText()).isEqualTo("1234.567");
        assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo("{\"account_id\":8}");
        assertThat(meters.get("migrator.transform.records").tags("table", "users", "outcome", "dead_lettered").counter().count())
                .isEqualTo(1.0);
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void aSchemaTheRegistryRefusesStopsTheTransformNamingTheSubject() {
        rawUsers.pipeInput(users.key("id", 7), users.change("c", null, row(7, "Ann", "1"), 100));
        driver.close();
        // ALTER TABLE accounts ALTER COLUMN display_name TYPE integer, and the transform restarts.
        accounts.set(List.of(ACCOUNTS.get(0), V2Column.of("display_name", "integer", Kind.INT, false), ACCOUNTS.get(2)));
        start();

        assertThatThrownBy(() -> rawUsers.pipeInput(users.key("id", 8), users.change("c", null, row(8, "5", "1"), 200)))
                .isInstanceOf(V2TopicUnwritableError.class)
                .hasRootCauseInstanceOf(IncompatibleSchemaException.class)
                .rootCause().hasMessageStartingWith("subject 'keiko.v2.accounts-value': the schema registry refused the schema"
                        + " as incompatible with the subject's earlier versions");
        assertThat(v2Accounts.isEmpty()).isTrue();
        assertThat(deadLetters.isEmpty()).isTrue();
    }

    @Test
    void theFormatOfTheSerializersMustBeTheSpecs() {
        assertThatThrownBy(() -> TransformTopology.build(spec, meters))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the spec's v2 topics are avro but the v2 serializers write json");
    }
}
