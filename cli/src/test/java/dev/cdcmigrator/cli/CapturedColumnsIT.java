package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.Finding;
import dev.cdcmigrator.cutover.Preflight;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 23, point 6: a v1 column the spec does not read never leaves v1. Neither the snapshot (Debezium's or the copy
 * backfill's) nor a streamed insert, update or delete puts it into a raw topic, and so into the transform's store or
 * its dead letters, while v2 is still exactly v1 through the spec; a table whose expression reads the row whole is
 * captured whole; {@code migrator check} says which is which.
 */
class CapturedColumnsIT {

    private static final String PEOPLE_V1 = """
            SELECT id, name, CASE status WHEN 'a' THEN 'active' ELSE 'blocked' END FROM people
            WHERE status IN ('a', 'b') ORDER BY id""";
    private static final String PEOPLE_V2 = "SELECT id, name, status FROM people ORDER BY id";
    private static final String AGENTS_V1 = "SELECT id, name, 4 FROM agents ORDER BY id";
    private static final String AGENTS_V2 = "SELECT id, name, width FROM agents ORDER BY id";
    /** Every value of the column the spec drops: none may appear in a record. */
    private static final List<String> SSNS = List.of("111-11-1111", "222-22-2222", "333-33-3333", "444-44-4444",
            "555-55-5555", "666-66-6666", "777-77-7777");

    private final PostgresServer pg = TestPostgres.shared();
    private final List<Pipeline> pipelines = new ArrayList<>();
    private String v1;
    private String v2;

    @BeforeEach
    void createDatabases() throws SQLException {
        v1 = pg.createDatabase("cols_v1");
        v2 = pg.createDatabase("cols_v2");
        pg.execute(v1, """
                CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL, status text, ssn text, notes text);
                ALTER TABLE people REPLICA IDENTITY FULL;
                INSERT INTO people VALUES (1, 'ann', 'a', '111-11-1111', 'n1'), (2, 'bob', 'b', '222-22-2222', 'n2'),
                                          (3, 'cid', 'a', '333-33-3333', NULL),
                                          (4, 'dan', 'unmappable', '444-44-4444', 'n4');
                CREATE TABLE agents (id bigint PRIMARY KEY, name text NOT NULL, ssn text, extra text);
                INSERT INTO agents VALUES (1, 'bot', 'agent-ssn-1', 'x');
                """);
        pg.execute(v2, """
                CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL, status text);
                CREATE TABLE agents (id bigint PRIMARY KEY, name text NOT NULL, width int);
                """);
    }

    @AfterEach
    void stop() {
        for (int i = pipelines.size() - 1; i >= 0; i--) {
            pipelines.get(i).close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"debezium", "copy"})
    void aColumnTheSpecDoesNotReadReachesNoRawTopicAndNoDeadLetter(String backfill, @TempDir Path dataDir) {
        Spec spec = spec(backfill);
        List<Finding> check = Preflight.check(spec);
        assertThat(check).filteredOn(f -> f.subject().equals("v1 public.people") && f.message().startsWith("capture carries"))
                .singleElement().satisfies(f -> {
                    assertThat(f.level()).isEqualTo(Finding.Level.OK);
                    assertThat(f.message()).contains("capture carries 3 of 5 columns; 2 not captured", "ssn, notes");
                });
        assertThat(check).filteredOn(f -> f.subject().equals("v1 public.agents") && f.message().startsWith("capture carries"))
                .singleElement().satisfies(f -> assertThat(f.message()).isEqualTo(
                        "capture carries all columns: tables.agents.columns.width.expr uses the row as a whole (`row.size()`)"));

        pipelines.add(Pipeline.start(spec, dataDir, 0, new SimpleMeterRegistry()));
        awaitConverged();
        pg.execute(v1, """
                INSERT INTO people VALUES (5, 'eve', 'b', '555-55-5555', 'n5');
                UPDATE people SET ssn = '666-66-6666', name = 'ann2' WHERE id = 1;
                UPDATE people SET notes = 'only an unread column changed', ssn = '777-77-7777' WHERE id = 3;
                DELETE FROM people WHERE id = 2;
                INSERT INTO people VALUES (6, 'fay', 'unmappable', '666-66-6666', 'n6');
                UPDATE agents SET name = 'bot2';
                ALTER TABLE people ADD COLUMN added_later text;
                INSERT INTO people VALUES (7, 'gus', 'a', '777-77-7777', 'n7', 'a value of a column added later');
                """);
        awaitConverged();
        assertThat(pg.rows(v2, PEOPLE_V2)).containsExactly(List.of("1", "ann2", "active"), List.of("3", "cid", "active"),
                List.of("5", "eve", "blocked"), List.of("7", "gus", "active"));

        Topics topics = new Topics(spec);
        List<String> people = texts(DlqIT.readAll(topics.raw("people")));
        assertThat(people).as("snapshot or copy, inserts, updates, the delete").hasSizeGreaterThanOrEqualTo(4 + 6);
        assertThat(String.join("\n", people)).contains("ann2", "\"status\"").doesNotContain("ssn", "notes",
                "only an unread column changed", "added_later", "a value of a column added later");
        SSNS.forEach(ssn -> assertThat(people).noneMatch(r -> r.contains(ssn)));

        List<String> letters = texts(DlqIT.readAll(topics.deadLetters()));
        assertThat(letters).as("rows 4 (backfilled) and 6 (streamed)").hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(letter -> assertThat(letter).contains("unmappable").doesNotContain("ssn", "notes"));
        SSNS.forEach(ssn -> assertThat(letters).noneMatch(r -> r.contains(ssn)));

        // A table whose mapping reads the row whole has every column captured: the width counts them.
        assertThat(pg.rows(v2, AGENTS_V2)).containsExactly(List.of("1", "bot2", "4"));
        assertThat(texts(DlqIT.readAll(topics.raw("agents")))).anyMatch(r -> r.contains("agent-ssn-1"));
    }

    private void awaitConverged() {
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            pipelines.forEach(p -> assertThat(p.failure()).isEmpty());
            assertThat(pg.rows(v2, PEOPLE_V2)).isEqualTo(pg.rows(v1, PEOPLE_V1));
            assertThat(pg.rows(v2, AGENTS_V2)).isEqualTo(pg.rows(v1, AGENTS_V1));
        });
    }

    private static List<String> texts(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().filter(r -> r.value() != null)
                .map(r -> new String(r.value(), StandardCharsets.UTF_8)).toList();
    }

    private Spec spec(String backfill) {
        String prefix = "cols_" + v1.substring(v1.lastIndexOf('_') + 1);
        return new SpecParser().parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 2 }
                backfill: { mode: %s }
                tables:
                  people:
                    drop: [ssn, notes]
                    columns:
                      id: { from: id }
                      name: { from: name }
                      status: { from: status, map: { a: active, b: blocked } }
                  agents:
                    columns:
                      id: { from: id }
                      name: { from: name }
                      width: { expr: "row.size()" }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix, backfill), "cols.yaml");
    }
}
