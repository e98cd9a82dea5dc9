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
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Keiko example end to end: its v1 schema and sample, its v2 schema by Flyway, its spec unchanged but for where
 * Kafka is, live changes touching every rule; v2 must equal what plain SQL over v1 says the guide's rules give.
 */
class KeikoIT {

    /** The guide's rules, written independently of the spec, as SQL over v1. */
    private static final String EXPECTED_USERS = """
            SELECT id, email, username, 'user', '{}'::jsonb, NULL::timestamp, created_at, updated_at FROM users ORDER BY id""";
    private static final String ACTUAL_USERS = """
            SELECT id, email, username, role, preferences, last_login, created_at, updated_at FROM users ORDER BY id""";
    private static final String EXPECTED_AGENTS = """
            SELECT id, owner_id, name, coalesce(agent_type, 'generic'), status,
                   (SELECT coalesce(jsonb_agg(c ORDER BY first), '[]') FROM (
                       SELECT c, min(ord) AS first FROM unnest(ARRAY[
                           CASE WHEN (config->>'supports_text_processing')::boolean THEN 'text_processing' END,
                           CASE WHEN (config->>'supports_image_generation')::boolean THEN 'image_generation' END,
                           CASE WHEN (config->>'supports_data_analysis')::boolean THEN 'data_analysis' END,
                           CASE agent_type WHEN 'text_processor' THEN 'text_processing' WHEN 'image_generator' THEN 'image_generation' END,
                           CASE agent_type WHEN 'text_processor' THEN 'summarization' WHEN 'image_generator' THEN 'image_editing' END
                       ]) WITH ORDINALITY AS u(c, ord) WHERE c IS NOT NULL GROUP BY c) d),
                   jsonb_build_object('migrated_from', 'v1.x', 'original_type', agent_type)
                       || CASE WHEN config ? 'description' THEN jsonb_build_object('description', config->'description') ELSE '{}' END
                       || CASE WHEN config ? 'tags' THEN jsonb_build_object('tags', config->'tags') ELSE '{}' END,
                   '2.0.0',
                   jsonb_build_object(
                       'features', (SELECT coalesce(jsonb_object_agg(substr(key, 10), value), '{}') FROM jsonb_each(config)
                                    WHERE key LIKE 'supports\\_%'),
                       'settings', (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(config)
                                    WHERE key NOT LIKE 'supports\\_%' AND key NOT IN ('description', 'tags'))),
                   created_at, coalesce(updated_at, created_at)
            FROM agents ORDER BY id""";
    private static final String ACTUAL_AGENTS = """
            SELECT id, owner_id, name, type, status, capabilities, metadata, version, configuration, created_at, updated_at
            FROM agents ORDER BY id""";
    private static final String EXPECTED_TASKS = """
            SELECT id, user_id, agent_id, coalesce(type, 'generic'), params,
                   CASE status WHEN 'created' THEN 'pending' WHEN 'queued' THEN 'pending' WHEN 'running' THEN 'running'
                               WHEN 'finished' THEN 'completed' WHEN 'failed' THEN 'failed' WHEN 'cancelled' THEN 'cancelled'
                               ELSE 'pending' END,
                   CASE WHEN params->'urgent' = 'true' THEN 'high' WHEN params->'background' = 'true' THEN 'low' ELSE 'normal' END,
                   coalesce(timeout, 300), coalesce(retries, 0),
                   jsonb_build_object('migrated_from', 'v1.x', 'original_status', status),
                   created_at, started_at, completed_at
            FROM tasks ORDER BY id""";
    private static final String ACTUAL_TASKS = """
            SELECT id, user_id, agent_id, task_type, parameters, status, priority, timeout_seconds, retry_count, metadata,
                   created_at, started_at, completed_at
            FROM tasks ORDER BY id""";

    private final PostgresServer pg = TestPostgres.shared();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private Pipeline pipeline;
    private String v1;
    private String v2;

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    @Test
    void theKeikoMigrationGivesWhatTheGuideSays(@TempDir Path dataDir) throws Exception {
        databases();
        pipeline = Pipeline.start(spec(), dataDir, 0, registry);
        awaitExpected();

        pg.execute(v1, """
                UPDATE agents SET config = config || '{"supports_image_generation": true, "temperature": 0.7, "supports_web": true}'
                    WHERE name IN ('agent 1', 'agent 2');
                UPDATE agents SET agent_type = NULL, updated_at = NULL WHERE name = 'agent 3';
                UPDATE agents SET agent_type = 'text_processor', config = '{"supports_text_processing": true}' WHERE name = 'agent 4';
                UPDATE tasks SET status = 'running', started_at = now() WHERE id % 50 = 0;
                UPDATE tasks SET params = params || '{"urgent": true}' WHERE id % 70 = 1;
                UPDATE tasks SET params = '{"background": true}', timeout = NULL, retries = NULL WHERE id % 80 = 5;
                UPDATE tasks SET status = 'finished', completed_at = now() WHERE id % 90 = 2;
                DELETE FROM tasks WHERE id % 97 = 3;
                INSERT INTO tasks (user_id, agent_id, type, params, status)
                    SELECT user_id, agent_id, NULL, '{"background": true}', 'bogus' FROM tasks WHERE id <= 20;
                UPDATE users SET username = 'renamed' WHERE email = 'user1@keiko.example';
                """);
        awaitExpected();

        assertThat(pg.rows(v2, "SELECT count(*) FROM tasks WHERE metadata->>'original_status' = 'bogus' AND status = 'pending' AND priority = 'low' AND task_type = 'generic'"))
                .as("the inserted tasks with an unknown status, background params and no type")
                .isEqualTo(pg.rows(v1, "SELECT count(*) FROM tasks WHERE status = 'bogus' AND type IS NULL"))
                .isNotEqualTo(List.of(List.of("0")));
        assertThat(deadLetters()).as("dead letters").isZero();
    }

    /**
     * The rollback path of the runbook on Keiko: {@code check --reverse} refuses the spec without its {@code reverse:}
     * entries (agents' config, tasks' many-to-one status), passes with them; with the way back running, every write on
     * v2 reaches v1 in v1's form, and {@code cutover wait}, {@code verify} and {@code cutover enforce} pass in reverse.
     */
    @Test
    void theWayBackCarriesEveryV2WriteIntoV1(@TempDir Path dir) throws Exception {
        databases();
        String yaml = resolved(resource("spec.yaml"));
        Path withoutWayBack = Files.writeString(dir.resolve("no-way-back.yaml"),
                yaml.replaceAll("(?m)^    # The way back.*\n    reverse:\n(?:      .*\n)+", ""));
        CliRun refused = CliRun.of("check", "--reverse", "--spec", withoutWayBack.toString());
        assertThat(refused.exit()).as(refused.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(refused.lines()).as(refused.toString())
                .anySatisfy(line -> assertThat(line).startsWith("ERROR   way back: spec tables.agents.columns.")
                        .contains("v1 column config has no way back"))
                .anySatisfy(line -> assertThat(line).startsWith("ERROR   way back: spec tables.tasks.columns.status.from: v1"
                        + " column status has no way back: the map of tables.tasks.columns.status.from sends every value it"
                        + " lacks to otherwise"));
        Path file = Files.writeString(dir.resolve("spec.yaml"), yaml);
        CliRun ready = CliRun.of("check", "--reverse", "--spec", file.toString());
        assertThat(ready.exit()).as(ready.toString()).isEqualTo(ExitCodes.OK);

        Spec spec = new SpecParser().parse(file);
        pipeline = Pipeline.start(spec, dir.resolve("forward"), 0, registry);
        awaitExpected();
        SimpleMeterRegistry backMeters = new SimpleMeterRegistry();
        Pipeline back = Pipeline.start(Reversal.inverse(spec), dir.resolve("back"), 0, backMeters);
        try {
            await("the way back starts").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                    .until(() -> back.failure().isPresent() || back.running());
            assertThat(back.failure()).isEmpty();

            // The flip: writes move to v2.
            pg.execute(v2, """
                    INSERT INTO users (id, email, username, role, created_at, updated_at)
                        VALUES ('00000000-0000-0000-0000-0000000000aa', 'new@keiko.example', 'made on v2', 'admin', now(), now());
                    UPDATE agents SET configuration = '{"features": {"web": true}, "settings": {"temperature": 0.2}}',
                                      metadata = metadata || '{"description": "edited on v2"}' WHERE name = 'agent 5';
                    UPDATE tasks SET status = 'completed', completed_at = now() WHERE id % 60 = 7;
                    INSERT INTO tasks (id, user_id, agent_id, task_type, parameters, status, priority, created_at)
                        SELECT 1000000, user_id, agent_id, 'report', '{"urgent": true}', 'running', 'high', now() FROM tasks WHERE id = 1;
                    DELETE FROM tasks WHERE id % 61 = 9;
                    """);
            await("v1 holds every v2 write").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                assertThat(back.failure()).isEmpty();
                assertThat(pg.rows(v1, "SELECT username FROM users WHERE email = 'new@keiko.example'"))
                        .containsExactly(List.of("made on v2"));
                assertThat(pg.rows(v1, "SELECT config FROM agents WHERE name = 'agent 5'")).containsExactly(List.of(
                        "{\"tags\": [\"demo\", \"batch-5\"], \"description\": \"edited on v2\", \"temperature\": 0.2,"
                                + " \"supports_web\": true}"));
                assertThat(pg.rows(v1, "SELECT count(*) FROM tasks WHERE id % 60 = 7 AND status <> 'finished'"))
                        .containsExactly(List.of("0"));
                assertThat(pg.rows(v1, "SELECT type, params, status FROM tasks WHERE id = 1000000"))
                        .containsExactly(List.of("report", "{\"urgent\": true}", "running"));
                assertThat(pg.rows(v1, "SELECT count(*) FROM tasks WHERE id % 61 = 9")).containsExactly(List.of("0"));
            });
            CliRun wait = CliRun.of("cutover", "wait", "--reverse", "--spec", file.toString(), "--timeout", "PT2M");
            assertThat(wait.exit()).as(wait.toString()).isEqualTo(ExitCodes.OK);
            CliRun verify = CliRun.of("verify", "--reverse", "--spec", file.toString());
            assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
            assertThat(backMeters.find("migrator.sink.rows.applied").tag("outcome", "dead_lettered").counters()).as("dead letters")
                    .allSatisfy(c -> assertThat(c.count()).isZero());
        } finally {
            back.close();
        }
        // Flipping back: v1's foreign keys, suspended while the way back applied, validate again.
        CliRun enforce = CliRun.of("cutover", "enforce", "--reverse", "--spec", file.toString());
        assertThat(enforce.exit()).as(enforce.toString()).isEqualTo(ExitCodes.OK);
        assertThat(pg.rows(v1, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"))
                .containsExactly(List.of("3"));
    }

    private void databases() {
        v1 = pg.createDatabase("keiko_v1");
        v2 = pg.createDatabase("keiko_v2");
        pg.execute(v1, "SET keiko.tasks = 3000;\n" + resource("v1/schema.sql") + resource("v1/seed.sql"));
        Flyway.configure().dataSource(pg.jdbcUrl(v2), pg.user(), pg.password()).locations("classpath:examples/keiko/v2").load().migrate();
    }

    private void awaitExpected() {
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, ACTUAL_USERS)).hasSize(1000).isEqualTo(pg.rows(v1, EXPECTED_USERS));
            assertThat(pg.rows(v2, ACTUAL_AGENTS)).hasSize(200).isEqualTo(pg.rows(v1, EXPECTED_AGENTS));
            assertThat(pg.rows(v2, ACTUAL_TASKS)).isNotEmpty().isEqualTo(pg.rows(v1, EXPECTED_TASKS));
        });
    }

    private double deadLetters() {
        return registry.find("migrator.transform.records").tag("outcome", "dead_lettered").counters().stream()
                .mapToDouble(Counter::count).sum()
                + registry.find("migrator.sink.rows.applied").tag("outcome", "dead_lettered").counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    private Spec spec() {
        return new SpecParser(n -> null).parse(resolved(resource("spec.yaml")), "examples/keiko/spec.yaml");
    }

    /** The example's spec with this test's databases, Kafka and a topic prefix of its own in place of the variables. */
    private String resolved(String yaml) {
        String prefix = "keiko_" + v1.substring(v1.lastIndexOf('_') + 1);
        Map<String, String> env = Map.of("KEIKO_V1_URL", pg.jdbcUrl(v1), "KEIKO_V1_USER", pg.user(), "KEIKO_V1_PASSWORD", pg.password(),
                "KEIKO_V2_URL", pg.jdbcUrl(v2), "KEIKO_V2_USER", pg.user(), "KEIKO_V2_PASSWORD", pg.password(),
                "KEIKO_KAFKA_BOOTSTRAP", TestKafka.bootstrapServers());
        String text = yaml.replace("topicPrefix: keiko", "topicPrefix: " + prefix);
        for (Map.Entry<String, String> variable : env.entrySet()) {
            text = text.replace("${env:" + variable.getKey() + "}", "\"" + variable.getValue() + "\"");
        }
        return text;
    }

    private static String resource(String path) {
        try (InputStream in = KeikoIT.class.getResourceAsStream("/examples/keiko/" + path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
