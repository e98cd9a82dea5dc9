package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
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
import org.junit.jupiter.api.Test;

/** Every capability of the spec, through the real topology. */
class MappingTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final String HEADER = """
            version: 1
            source: { url: "jdbc:postgresql://v1/app", user: u }
            target: { url: "jdbc:postgresql://v2/app", user: u }
            kafka: { topicPrefix: app }
            tables:
            """;

    private final Map<String, DebeziumEnvelopes> tables = new HashMap<>();
    private final Map<String, TestInputTopic<byte[], byte[]>> inputs = new HashMap<>();
    private final Map<String, TestOutputTopic<byte[], byte[]>> outputs = new HashMap<>();
    private TopologyTestDriver driver;
    private long lsn = 100;

    @AfterEach
    void close() {
        if (driver != null) {
            driver.close();
        }
    }

    private static Spec parse(String tablesYaml) {
        return new SpecParser(name -> null).parse(HEADER + tablesYaml.indent(2), "test.yaml");
    }

    private void start(String tablesYaml) {
        start(parse(tablesYaml));
    }

    private void start(Spec spec) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "mapping-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(spec, new SimpleMeterRegistry()), props);
    }

    private DebeziumEnvelopes table(String name, String... columns) {
        DebeziumEnvelopes t = new DebeziumEnvelopes(name);
        for (int i = 0; i < columns.length; i += 2) {
            t.column(columns[i], columns[i + 1]);
        }
        tables.put(name, t);
        return t;
    }

    private void change(String table, String op, Map<String, Object> before, Map<String, Object> after) {
        DebeziumEnvelopes t = tables.get(table);
        Map<String, Object> image = after != null ? after : before;
        inputs.computeIfAbsent(table, n -> driver.createInputTopic("app.raw.public." + n, new ByteArraySerializer(), new ByteArraySerializer()))
                .pipeInput(t.key("id", image.get("id")), t.change(op, before, after, lsn++));
    }

    private List<V2Change> v2(String table) {
        return changes("app.v2." + table);
    }

    private List<V2Change> changes(String topic) {
        return outputs.computeIfAbsent(topic, n -> driver.createOutputTopic(n, new ByteArrayDeserializer(), new ByteArrayDeserializer()))
                .readValuesToList().stream().map(v -> V2.deserialize(null, v)).toList();
    }

    private List<DeadLetter> deadLetters() {
        return deadLetters("app.dlq");
    }

    private List<DeadLetter> deadLetters(String topic) {
        return outputs.computeIfAbsent(topic, n -> driver.createOutputTopic(n, new ByteArrayDeserializer(), new ByteArrayDeserializer()))
                .readValuesToList().stream().map(v -> DEAD.deserialize(null, v)).toList();
    }

    private static Map<String, Object> row(Object... kv) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            row.put((String) kv[i], kv[i + 1]);
        }
        return row;
    }

    private static List<String> summary(List<V2Change> changes) {
        List<String> out = new ArrayList<>();
        changes.forEach(c -> out.add(c.op().code() + " " + c.key() + (c.after() == null ? "" : " " + c.after())));
        return out;
    }

    @Test
    void defaultsValueMapsAndExpressionsOverJsonb() {
        start("""
                tasks:
                  columns:
                    id: { from: id }
                    task_type: { from: type, default: "'generic'" }
                    status: { from: status, map: { created: pending, queued: pending, finished: completed, running: running }, otherwise: pending }
                    priority: { expr: "has(row.params.urgent) && row.params.urgent == true ? 'high' : has(row.params.background) && row.params.background == true ? 'low' : 'normal'" }
                    timeout_seconds: { from: timeout, default: 300 }
                    parameters: { from: params }
                    metadata: { expr: "{'migrated_from': 'v1.x', 'original_status': row.status}" }
                    shout: { java: dev.cdcmigrator.transform.ShoutingName }
                    stamp: { value: "2.0.0", nonDeterministic: true }
                """);
        table("tasks", "id", "int64", "type", "string", "status", "string", "params", "string:io.debezium.data.Json",
                "timeout", "int32", "name", "string");

        change("tasks", "c", null, row("id", 1, "type", null, "status", "queued", "params", "{\"urgent\": true}", "timeout", null, "name", "a"));
        change("tasks", "c", null, row("id", 2, "type", "render", "status", "weird", "params", "{\"background\": true, \"x\": [1, 2.50]}", "timeout", 60, "name", "b"));
        change("tasks", "c", null, row("id", 3, "type", "x", "status", "finished", "params", "{}", "timeout", 5, "name", "c"));

        assertThat(summary(v2("tasks"))).containsExactly(
                "c {\"id\":1} {\"id\":1,\"task_type\":\"generic\",\"status\":\"pending\",\"priority\":\"high\",\"timeout_seconds\":300,"
                        + "\"parameters\":\"{\\\"urgent\\\": true}\",\"metadata\":{\"migrated_from\":\"v1.x\",\"original_status\":\"queued\"},"
                        + "\"shout\":\"A!\",\"stamp\":\"2.0.0\"}",
                "c {\"id\":2} {\"id\":2,\"task_type\":\"render\",\"status\":\"pending\",\"priority\":\"low\",\"timeout_seconds\":60,"
                        + "\"parameters\":\"{\\\"background\\\": true, \\\"x\\\": [1, 2.50]}\",\"metadata\":{\"migrated_from\":\"v1.x\",\"original_status\":\"weird\"},"
                        + "\"shout\":\"B!\",\"stamp\":\"2.0.0\"}",
                "c {\"id\":3} {\"id\":3,\"task_type\":\"x\",\"status\":\"completed\",\"priority\":\"normal\",\"timeout_seconds\":5,"
                        + "\"parameters\":\"{}\",\"metadata\":{\"migrated_from\":\"v1.x\",\"original_status\":\"finished\"},"
                        + "\"shout\":\"C!\",\"stamp\":\"2.0.0\"}");
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void splitFeedsSeveralTablesAndADeleteRemovesEveryRowItProduced() {
        start("""
                users:
                  split:
                    - into: accounts
                      columns: { id: { from: id }, name: { from: name } }
                    - into: user_preferences
                      key: [user_id]
                      where: "row.theme != null"
                      columns: { user_id: { from: id }, theme: { from: theme } }
                """);
        table("users", "id", "int64", "name", "string", "theme", "string");

        change("users", "r", null, row("id", 1, "name", "a", "theme", "dark"));
        change("users", "c", null, row("id", 2, "name", "b", "theme", null));
        change("users", "d", row("id", 1, "name", null, "theme", null), null);
        change("users", "d", row("id", 2, "name", null, "theme", null), null);

        assertThat(summary(v2("accounts"))).containsExactly(
                "r {\"id\":1} {\"id\":1,\"name\":\"a\"}", "c {\"id\":2} {\"id\":2,\"name\":\"b\"}",
                "d {\"id\":1}", "d {\"id\":2}");
        // user 2 never had preferences, so its delete produces none there
        assertThat(summary(v2("user_preferences"))).containsExactly(
                "r {\"user_id\":1} {\"user_id\":1,\"theme\":\"dark\"}", "d {\"user_id\":1}");
    }

    @Test
    void aRowThatStopsMatchingItsFilterIsDeletedAndOneThatStartsIsInserted() {
        start("""
                tasks:
                  where: "row.status != 'archived'"
                  columns: { id: { from: id }, status: { from: status } }
                """);
        table("tasks", "id", "int64", "status", "string");

        change("tasks", "c", null, row("id", 1, "status", "open"));
        change("tasks", "u", null, row("id", 1, "status", "archived"));
        change("tasks", "u", null, row("id", 1, "status", "archived"));
        change("tasks", "u", null, row("id", 1, "status", "reopened"));
        change("tasks", "c", null, row("id", 2, "status", "archived"));
        change("tasks", "d", row("id", 2, "status", null), null);

        assertThat(summary(v2("tasks"))).containsExactly(
                "c {\"id\":1} {\"id\":1,\"status\":\"open\"}",
                "d {\"id\":1}",
                "u {\"id\":1} {\"id\":1,\"status\":\"reopened\"}");
    }

    private static final String MERGE = """
            bots:
              into: principals
              key: [kind, id]
              columns: { kind: { value: bot }, id: { from: id }, name: { from: label } }
            humans:
              into: principals
              key: [kind, id]
              columns: { kind: { value: human }, id: { from: id }, name: { from: name } }
            """;

    @Test
    void mergeWritesSeveralV1TablesIntoOneWithADiscriminator() {
        start(MERGE);
        table("bots", "id", "int64", "label", "string");
        table("humans", "id", "int64", "name", "string");

        change("bots", "c", null, row("id", 1, "label", "robo"));
        change("humans", "c", null, row("id", 1, "name", "ann"));
        change("bots", "d", row("id", 1, "label", null), null);

        assertThat(summary(v2("principals"))).containsExactly(
                "c {\"kind\":\"bot\",\"id\":1} {\"kind\":\"bot\",\"id\":1,\"name\":\"robo\"}",
                "c {\"kind\":\"human\",\"id\":1} {\"kind\":\"human\",\"id\":1,\"name\":\"ann\"}",
                "d {\"kind\":\"bot\",\"id\":1}");
    }

    @Test
    void theWayBackOfAMergeSendsEachRowToItsV1TableAndADeleteWithoutAnImageOnlyThere() {
        start(Reversal.inverse(parse(MERGE)));
        DebeziumEnvelopes principals = table("principals", "kind", "string", "id", "int64", "name", "string");
        TestInputTopic<byte[], byte[]> raw = driver.createInputTopic("app_reverse.raw.public.principals",
                new ByteArraySerializer(), new ByteArraySerializer());
        java.util.function.BiConsumer<String, Map<String, Object>> change = (op, image) -> raw.pipeInput(
                principals.key(row("kind", image.get("kind"), "id", image.get("id"))),
                principals.change(op, op.equals("d") ? image : null, op.equals("d") ? null : image, lsn++));

        change.accept("c", row("kind", "bot", "id", 1, "name", "robo"));
        change.accept("u", row("kind", "human", "id", 1, "name", "ann"));
        // Rows the way back has no image of (changed on v2 only after it started): the key names the v1 table.
        change.accept("d", row("kind", "human", "id", 2, "name", null));
        change.accept("u", row("kind", "bot", "id", 3, "name", "robo 3"));
        change.accept("c", row("kind", "alien", "id", 4, "name", "et"));

        assertThat(summary(changes("app_reverse.v2.bots"))).containsExactly("c {\"id\":1} {\"id\":1,\"label\":\"robo\"}",
                "u {\"id\":3} {\"id\":3,\"label\":\"robo 3\"}");
        assertThat(summary(changes("app_reverse.v2.humans"))).containsExactly("u {\"id\":1} {\"id\":1,\"name\":\"ann\"}", "d {\"id\":2}");
        assertThat(deadLetters("app_reverse.dlq")).isEmpty();
    }

    @Test
    void aV2KeyChangeDeletesTheOldRowAndAV1KeyChangeIsADeleteAndAnInsert() {
        start("""
                docs:
                  key: [owner, id]
                  columns: { owner: { from: owner }, id: { from: id }, title: { from: title } }
                """);
        table("docs", "id", "int64", "owner", "string", "title", "string");

        change("docs", "c", null, row("id", 1, "owner", "ann", "title", "t"));
        change("docs", "u", null, row("id", 1, "owner", "bob", "title", "t"));
        // Debezium turns a primary-key update into a delete of the old key and a create of the new one.
        change("docs", "d", row("id", 1, "owner", null, "title", null), null);
        change("docs", "c", null, row("id", 7, "owner", "bob", "title", "t"));

        assertThat(summary(v2("docs"))).containsExactly(
                "c {\"owner\":\"ann\",\"id\":1} {\"owner\":\"ann\",\"id\":1,\"title\":\"t\"}",
                "d {\"owner\":\"ann\",\"id\":1}",
                "u {\"owner\":\"bob\",\"id\":1} {\"owner\":\"bob\",\"id\":1,\"title\":\"t\"}",
                "d {\"owner\":\"bob\",\"id\":1}",
                "c {\"owner\":\"bob\",\"id\":7} {\"owner\":\"bob\",\"id\":7,\"title\":\"t\"}");
    }

    @Test
    void anUnchangedToastedValueIsFilledFromTheLastImage() {
        start("""
                notes:
                  columns: { id: { from: id }, body: { from: body }, n: { from: n } }
                """);
        table("notes", "id", "int64", "body", "string", "n", "int32");

        change("notes", "c", null, row("id", 1, "body", "long text", "n", 1));
        change("notes", "u", null, row("id", 1, "body", "__debezium_unavailable_value", "n", 2));

        assertThat(v2("notes")).extracting(c -> summary(List.of(c)).get(0), V2Change::unchanged).containsExactly(
                org.assertj.core.groups.Tuple.tuple("c {\"id\":1} {\"id\":1,\"body\":\"long text\",\"n\":1}", List.of()),
                org.assertj.core.groups.Tuple.tuple("u {\"id\":1} {\"id\":1,\"body\":\"long text\",\"n\":2}", List.of()));
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void anUnchangedToastedValueNoImageKnowsIsLeftAsV2HoldsItWhereTheSpecCopiesItAsItIs() {
        start("""
                notes:
                  into: memos
                  columns: { id: { from: id }, text: { from: body }, n: { from: n } }
                """);
        table("notes", "id", "int64", "body", "string", "n", "int32");
        String placeholder = "__debezium_unavailable_value";

        // The way back sees no snapshot: the first change of a row is an update that does not carry its body.
        change("notes", "u", null, row("id", 2, "body", placeholder, "n", 3));
        // The image kept meanwhile knows no body either.
        change("notes", "u", null, row("id", 2, "body", placeholder, "n", 4));
        change("notes", "u", null, row("id", 2, "body", "new text", "n", 5));
        change("notes", "u", null, row("id", 2, "body", placeholder, "n", 6));

        List<byte[]> records = outputs.computeIfAbsent("app.v2.memos", n -> driver.createOutputTopic(n, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())).readValuesToList();
        assertThat(records).extracting(bytes -> new String(bytes, java.nio.charset.StandardCharsets.UTF_8))
                .noneMatch(json -> json.contains(placeholder));
        List<V2Change> changes = records.stream().map(v -> V2.deserialize(null, v)).toList();
        assertThat(changes).extracting(c -> summary(List.of(c)).get(0), V2Change::unchanged).containsExactly(
                org.assertj.core.groups.Tuple.tuple("u {\"id\":2} {\"id\":2,\"n\":3}", List.of("text")),
                org.assertj.core.groups.Tuple.tuple("u {\"id\":2} {\"id\":2,\"n\":4}", List.of("text")),
                org.assertj.core.groups.Tuple.tuple("u {\"id\":2} {\"id\":2,\"text\":\"new text\",\"n\":5}", List.of()),
                org.assertj.core.groups.Tuple.tuple("u {\"id\":2} {\"id\":2,\"text\":\"new text\",\"n\":6}", List.of()));
        assertThat(new String(records.get(0), java.nio.charset.StandardCharsets.UTF_8)).contains("\"unchanged\":[\"text\"]");
        assertThat(new String(records.get(2), java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("unchanged");
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void whatComputesFromAnUnchangedToastedValueNoImageKnowsIsStillADeadLetter() {
        start("""
                computed:
                  columns: { id: { from: id }, size: { expr: "size(row.body)" }, n: { from: n } }
                defaulted:
                  columns: { id: { from: id }, body: { from: body, default: "'none'" }, n: { from: n } }
                mapped:
                  columns: { id: { from: id }, body: { from: body, map: { a: b }, otherwise: c }, n: { from: n } }
                filtered:
                  where: "row.body != ''"
                  columns: { id: { from: id }, body: { from: body }, n: { from: n } }
                keyed:
                  key: [body]
                  columns: { body: { from: body }, n: { from: n } }
                inserted:
                  columns: { id: { from: id }, body: { from: body }, n: { from: n } }
                """);
        String placeholder = "__debezium_unavailable_value";
        for (String t : List.of("computed", "defaulted", "mapped", "filtered", "keyed", "inserted")) {
            table(t, "id", "int64", "body", "string", "n", "int32");
            change(t, t.equals("inserted") ? "c" : "u", null, row("id", 7, "body", placeholder, "n", 1));
            assertThat(v2(t)).as(t).isEmpty();
        }

        java.util.function.BiFunction<String, String, org.assertj.core.groups.Tuple> letter = (t, why) -> org.assertj.core.groups.Tuple.tuple(
                t, "body", "v1 column " + t + ".body (key {\"id\":7}) is an unchanged TOASTed value that the change does not"
                        + " carry, and no earlier image of the row is known, and " + why);
        assertThat(deadLetters()).extracting(DeadLetter::table, DeadLetter::column, DeadLetter::reason).containsExactly(
                letter.apply("computed", "v2 column computed.size is computed from it, not copied as it is"),
                letter.apply("defaulted", "v2 column defaulted.body is computed from it, not copied as it is"),
                letter.apply("mapped", "v2 column mapped.body is computed from it, not copied as it is"),
                letter.apply("filtered", "the filter of filtered into filtered reads it"),
                letter.apply("keyed", "v2 key column keyed.body needs it"),
                letter.apply("inserted", "this create writes its v2 rows whole"));
    }

    @Test
    void anUnchangedToastedValueTheRowsImageLacksIsADeadLetterSinceV2NeverGotIt() {
        start("""
                notes:
                  split:
                    - { into: notes, columns: { id: { from: id }, n: { from: n } } }
                    - { into: bodies, where: "row.n > 1", columns: { id: { from: id }, body: { from: body } } }
                """);
        table("notes", "id", "int64", "body", "string", "n", "int32");

        // A row without the column (as captured before the spec read it): its image has no body, and v2 none either.
        change("notes", "c", null, row("id", 5, "n", 1));
        assertThat(v2("notes")).hasSize(1);
        change("notes", "u", null, row("id", 5, "body", "__debezium_unavailable_value", "n", 2));

        assertThat(v2("notes")).isEmpty();
        assertThat(v2("bodies")).isEmpty();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.column()).isEqualTo("body");
            assertThat(d.reason()).isEqualTo("v1 column notes.body is an unchanged TOASTed value that the change does not"
                    + " carry, and the earlier image of the row does not hold it (the spec reads it only since a restart),"
                    + " so v2 has no value of it to keep");
        });
    }

    @Test
    void anUnchangedToastedValueNoImageKnowsCannotMoveARowToANewV2Key() {
        start("""
                docs:
                  key: [owner, id]
                  columns: { id: { from: id }, owner: { from: owner }, body: { from: body } }
                """);
        table("docs", "id", "int64", "owner", "string", "body", "string");
        String placeholder = "__debezium_unavailable_value";

        change("docs", "u", null, row("id", 1, "owner", "ann", "body", placeholder));
        change("docs", "u", null, row("id", 1, "owner", "bob", "body", placeholder));

        assertThat(v2("docs")).extracting(c -> summary(List.of(c)).get(0), V2Change::unchanged).containsExactly(
                org.assertj.core.groups.Tuple.tuple("u {\"owner\":\"ann\",\"id\":1} {\"id\":1,\"owner\":\"ann\"}", List.of("body")));
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.column()).isEqualTo("body");
            assertThat(d.reason()).contains("docs.body (key {\"id\":1})").contains("its v2 row in docs is a new one");
        });
    }

    @Test
    void aDeleteWhoseKeyNeedsColumnsItDoesNotCarryIsDeadLetteredWhenNoImageIsKnown() {
        start("""
                docs:
                  key: [owner, id]
                  columns: { owner: { from: owner }, id: { from: id } }
                """);
        table("docs", "id", "int64", "owner", "string");

        change("docs", "d", row("id", 5), null);

        assertThat(v2("docs")).isEmpty();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.column()).isEqualTo("owner");
            assertThat(d.reason()).contains("v1 column owner (for v2 column docs.owner) is not in the row; it has [id]");
        });
    }

    @Test
    void runTimeFailuresAreDeadLetteredNamingTheColumnAndTheRestGoesOn() {
        start("""
                tasks:
                  columns:
                    id: { from: id }
                    status: { from: status, map: { open: o } }
                    urgent: { expr: "row.params.urgent" }
                """);
        table("tasks", "id", "int64", "status", "string", "params", "string:io.debezium.data.Json");

        change("tasks", "c", null, row("id", 1, "status", "closed", "params", "{\"urgent\": true}"));
        change("tasks", "c", null, row("id", 2, "status", "open", "params", "{}"));
        change("tasks", "c", null, row("id", 3, "status", "open", "params", "not json"));
        change("tasks", "c", null, row("id", 4, "status", "open", "params", "{\"urgent\": false}"));

        List<DeadLetter> letters = deadLetters();
        assertThat(letters).extracting(DeadLetter::column).containsExactly("status", "urgent", "params");
        assertThat(letters.get(0).reason()).isEqualTo("value 'closed' of v2 column tasks.status is not in its map [open] and the column has no otherwise");
        assertThat(letters.get(1).reason()).startsWith("expr of v2 column tasks.urgent (row.params.urgent) failed: ");
        assertThat(letters.get(2).reason()).startsWith("json column params does not hold JSON");
        assertThat(summary(v2("tasks"))).containsExactly("c {\"id\":4} {\"id\":4,\"status\":\"o\",\"urgent\":false}");
    }

    @Test
    void specErrorsNameTheYamlPath() {
        assertThatThrownBy(() -> start("""
                tasks:
                  columns: { id: { from: id }, p: { expr: "row.a +* 2" } }
                """)).isInstanceOf(SpecException.class)
                .hasMessageStartingWith("tables.tasks.columns.p.expr: expression does not compile: ");
        assertThatThrownBy(() -> start("""
                tasks:
                  split:
                    - columns: { id: { from: id } }
                    - into: other
                      where: "row.x ==="
                      columns: { id: { from: id } }
                """)).isInstanceOf(SpecException.class)
                .hasMessageStartingWith("tables.tasks.split[1].where: expression does not compile: ");
        assertThatThrownBy(() -> start("""
                tasks:
                  columns: { id: { from: id }, p: { java: com.example.Missing } }
                """)).isInstanceOf(SpecException.class)
                .hasMessage("tables.tasks.columns.p.java: class com.example.Missing is not on the class path");
        assertThatThrownBy(() -> start("""
                tasks:
                  columns: { id: { from: id }, p: { java: java.lang.String } }
                """)).isInstanceOf(SpecException.class)
                .hasMessage("tables.tasks.columns.p.java: class java.lang.String does not implement dev.cdcmigrator.transform.ColumnFunction");
        assertThatThrownBy(() -> start("""
                tasks:
                  columns: { p: { value: 1 } }
                """)).isInstanceOf(SpecException.class)
                .hasMessageStartingWith("tables.tasks: no column copies a v1 column");
        assertThatThrownBy(() -> start("""
                tasks:
                  columns: { id: { from: id, expr: "1" } }
                """)).isInstanceOf(SpecException.class)
                .hasMessage("test.yaml: tables.tasks.columns.id: a column takes only one of from, expr, value or java, not from and expr");
    }

    @Test
    void theTopologyNamesItsImageStores() {
        start("""
                b: { columns: { id: { from: id } } }
                a: { into: x, columns: { id: { from: id } } }
                """);
        String description = TransformTopology.build(new SpecParser(n -> null).parse(HEADER + """
                b: { columns: { id: { from: id } } }
                a: { into: x, columns: { id: { from: id } } }
                """.indent(2), "t.yaml"), new SimpleMeterRegistry()).describe().toString();
        assertThat(description)
                .containsPattern("Processor: map-a \\(stores: \\[(images-a, schemas-a|schemas-a, images-a)]\\)")
                .containsPattern("Processor: map-b \\(stores: \\[(images-b, schemas-b|schemas-b, images-b)]\\)")
                .contains("Sink: v2-x (topic: app.v2.x)")
                .contains("Sink: v2-b (topic: app.v2.b)");
        assertThat(Op.fromCode("d")).isEqualTo(Op.DELETE);
    }
}
