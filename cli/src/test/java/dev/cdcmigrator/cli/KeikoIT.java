package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
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
        v1 = pg.createDatabase("keiko_v1");
        v2 = pg.createDatabase("keiko_v2");
        pg.execute(v1, "SET keiko.tasks = 3000;\n" + resource("v1/schema.sql") + resource("v1/seed.sql"));
        Flyway.configure().dataSource(pg.jdbcUrl(v2), pg.user(), pg.password()).locations("classpath:examples/keiko/v2").load().migrate();

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
        String prefix = "keiko_" + v1.substring(v1.lastIndexOf('_') + 1);
        String yaml = resource("spec.yaml").replace("topicPrefix: keiko", "topicPrefix: " + prefix);
        Map<String, String> env = Map.of("KEIKO_V1_URL", pg.jdbcUrl(v1), "KEIKO_V1_USER", pg.user(), "KEIKO_V1_PASSWORD", pg.password(),
                "KEIKO_V2_URL", pg.jdbcUrl(v2), "KEIKO_V2_USER", pg.user(), "KEIKO_V2_PASSWORD", pg.password(),
                "KEIKO_KAFKA_BOOTSTRAP", TestKafka.bootstrapServers());
        return new SpecParser(env::get).parse(yaml, "examples/keiko/spec.yaml");
    }

    private static String resource(String path) {
        try (InputStream in = KeikoIT.class.getResourceAsStream("/examples/keiko/" + path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
