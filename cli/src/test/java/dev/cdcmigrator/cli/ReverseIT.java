package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import dev.cdcmigrator.transform.Reversal;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The way back: a migration and its reverse ({@code run --reverse}) run at once around the flip of writes, neither
 * carrying back what the other wrote; after the flip every write on v2 (insert, update through a one-to-one map, update
 * of a column only the table's {@code reverse:} brings back, delete) reaches v1, and {@code cutover wait --reverse} and
 * {@code verify --reverse} pass. {@code check --reverse} refuses the spec while a v1 column has no way back.
 */
class ReverseIT {

    private static final String V1_THROUGH_THE_SPEC = """
            SELECT id, name, CASE status WHEN 'created' THEN 'pending' WHEN 'running' THEN 'active' ELSE 'finished' END,
                   'task', prio * 10
            FROM tasks ORDER BY id""";
    private static final String V2 = "SELECT id, title, state, kind, score FROM jobs ORDER BY id";
    private static final String TABLES = """
            tables:
              tasks:
                into: jobs
                columns:
                  id: { from: id }
                  title: { from: name }
                  state: { from: status, map: { created: pending, running: active, done: finished } }
                  kind: { value: task }
                  score: { expr: "row.prio * 10" }
            """;

    private final PostgresServer pg = TestPostgres.shared();
    @TempDir
    Path dir;
    private String v1;
    private String v2;
    private String prefix;
    private Pipeline forward;
    private Pipeline back;

    @BeforeEach
    void databases() {
        v1 = pg.createDatabase("reverse_v1");
        v2 = pg.createDatabase("reverse_v2");
        prefix = "rev_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        pg.execute(v1, """
                CREATE TABLE tasks (id bigint PRIMARY KEY, name text NOT NULL, status text NOT NULL, prio int NOT NULL DEFAULT 1);
                INSERT INTO tasks SELECT g, 'task ' || g, (ARRAY['created', 'running', 'done'])[1 + g % 3], g % 10
                FROM generate_series(1, 30) g;
                """);
        pg.execute(v2, "CREATE TABLE jobs (id bigint PRIMARY KEY, title text NOT NULL, state text NOT NULL,"
                + " kind text NOT NULL, score bigint NOT NULL)");
    }

    @AfterEach
    void stop() {
        if (back != null) {
            back.close();
        }
        if (forward != null) {
            forward.close();
        }
    }

    @Test
    void checkRefusesAColumnWithoutAWayBackNamingItsPath() throws Exception {
        CliRun refused = CliRun.of("check", "--reverse", "--spec", spec(TABLES).toString());
        assertThat(refused.exit()).as(refused.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(refused.lines()).as(refused.toString()).contains("ERROR   way back: spec tables.tasks.columns.score.expr:"
                + " v1 column prio has no way back: an expression reads it (tables.tasks.columns.score.expr); fix: give"
                + " tables.tasks.reverse.prio (a column over the v2 row: from a v2 column, or expr)");

        CliRun ready = CliRun.of("check", "--reverse", "--spec", spec(withWayBack()).toString());
        assertThat(ready.exit()).as(ready.toString()).isEqualTo(ExitCodes.OK);
        assertThat(ready.lines()).as(ready.toString()).noneMatch(line -> line.startsWith("ERROR"));
    }

    @Test
    void bothDirectionsRunAtOnceWithoutALoopAndTheWayBackCarriesEveryV2Write() throws Exception {
        Path file = spec(withWayBack());
        Spec spec = new SpecParser().parse(file);
        MeterRegistry forwardMeters = new SimpleMeterRegistry();
        forward = Pipeline.start(spec, dir.resolve("forward"), 0, forwardMeters);
        awaitV2();

        MeterRegistry backMeters = new SimpleMeterRegistry();
        back = Pipeline.start(Reversal.inverse(spec), dir.resolve("back"), 0, backMeters);
        await("the way back starts").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                .until(() -> back.failure().isPresent() || back.running());
        assertThat(back.failure()).isEmpty();

        // Writes still on v1: the way back sees the forward sink's transactions on v2 and does not carry them back.
        pg.execute(v1, """
                INSERT INTO tasks VALUES (31, 'late', 'created', 4);
                UPDATE tasks SET name = name || '!' WHERE id <= 5;
                DELETE FROM tasks WHERE id = 30;
                """);
        awaitV2();
        await("the way back passes over the forward sink's writes").atMost(Duration.ofMinutes(2))
                .untilAsserted(() -> assertThat(changes(backMeters, "public.jobs", "other-direction")).isEqualTo(7));
        long publishedForward = changes(forwardMeters, "public.tasks", "published");

        // The flip: writes move to v2.
        pg.execute(v2, """
                INSERT INTO jobs VALUES (100, 'made on v2', 'active', 'task', 70);
                UPDATE jobs SET state = 'finished', title = 'renamed on v2' WHERE id = 2;
                UPDATE jobs SET score = 90 WHERE id = 3;
                DELETE FROM jobs WHERE id = 4;
                """);
        await("v1 holds every v2 write").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(back.failure()).isEmpty();
            assertThat(pg.rows(v1, "SELECT id, name, status, prio FROM tasks WHERE id IN (2, 3, 4, 100) ORDER BY id"))
                    .containsExactly(List.of("2", "renamed on v2", "done", "2"), List.of("3", "task 3!", "created", "9"),
                            List.of("100", "made on v2", "running", "7"));
        });
        await("the forward capture passes over the way back's writes").atMost(Duration.ofMinutes(2))
                .untilAsserted(() -> assertThat(changes(forwardMeters, "public.tasks", "other-direction")).isEqualTo(4));
        assertThat(changes(forwardMeters, "public.tasks", "published")).as("nothing came back to v2").isEqualTo(publishedForward);
        assertThat(changes(backMeters, "public.jobs", "published")).isEqualTo(4);

        CliRun wait = CliRun.of("cutover", "wait", "--reverse", "--spec", file.toString(), "--timeout", "PT2M");
        assertThat(wait.exit()).as(wait.toString()).isEqualTo(ExitCodes.OK);
        CliRun verify = CliRun.of("verify", "--reverse", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        assertThat(pg.rows(v2, V2)).isEqualTo(pg.rows(v1, V1_THROUGH_THE_SPEC));
        assertThat(forward.failure()).isEmpty();
        assertThat(back.failure()).isEmpty();
    }

    private static String withWayBack() {
        return TABLES + """
                    reverse:
                      prio: { expr: "row.score / 10" }
                """;
    }

    private Path spec(String tables) throws Exception {
        return Files.writeString(dir.resolve(UUID.randomUUID() + ".yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 2 }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix) + tables);
    }

    private void awaitV2() {
        await("v2 = v1 through the spec").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(forward.failure()).isEmpty();
            assertThat(pg.rows(v2, V2)).isEqualTo(pg.rows(v1, V1_THROUGH_THE_SPEC));
        });
    }

    private static long changes(MeterRegistry registry, String table, String outcome) {
        return (long) registry.find("migrator.capture.changes").tag("table", table).tag("outcome", outcome).counters()
                .stream().mapToDouble(Counter::count).sum();
    }
}
