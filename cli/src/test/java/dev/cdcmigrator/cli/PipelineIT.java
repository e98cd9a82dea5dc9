package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/** The walking skeleton: real PostgreSQL v1 and v2, a real Kafka broker, every stage running. */
class PipelineIT {

    private static final String ACCOUNTS_V1 = "SELECT id, name, email, created_at, score FROM users ORDER BY id";
    private static final String ACCOUNTS_V2 = "SELECT account_id, display_name, email, signed_up_at, score FROM accounts ORDER BY account_id";
    private static final String TASKS_V1 = "SELECT id, user_id, title, done FROM tasks ORDER BY id";
    private static final String TASKS_V2 = "SELECT id, owner_id, title, done FROM tasks ORDER BY id";

    @RegisterExtension
    final Migration migration = new Migration("skeleton");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    private final List<SimpleMeterRegistry> sinkRegistries = new ArrayList<>();

    /** The two deployment shapes: one process with every stage, or one process per stage with two sinks. */
    enum Shape { ONE_PROCESS, SEPARATE_STAGES }

    @BeforeEach
    void createTables() {
        pg.execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text,
                                    created_at timestamptz NOT NULL, score numeric(10,2));
                CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint, title text, done boolean NOT NULL DEFAULT false);
                INSERT INTO users SELECT g, 'user ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'u' || g || '@example.com' END,
                                         timestamptz '2024-01-02 03:04:05.123456+00' + g * interval '1 minute 0.000001 second',
                                         g * 1.25
                                  FROM generate_series(1, 100) g;
                INSERT INTO tasks SELECT g, 1 + g % 100, 'task ' || g, g % 2 = 0 FROM generate_series(1, 200) g;
                """);
        pg.execute(v2, """
                CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL, email text,
                                       signed_up_at timestamptz, score numeric(10,2));
                CREATE TABLE tasks (id bigint PRIMARY KEY, owner_id bigint, title text, done boolean NOT NULL);
                """);
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void snapshotThenStreamedChangesConvergeOnV2(Shape shape, @TempDir Path dir) throws Exception {
        Spec spec = spec(dir);
        if (shape == Shape.ONE_PROCESS) {
            migration.start();
        } else {
            // As migrator sink, sink, transform and capture would run them: two sinks share the v2 partitions.
            for (int i = 0; i < 2; i++) {
                SimpleMeterRegistry registry = new SimpleMeterRegistry();
                sinkRegistries.add(registry);
                migration.start(spec, "sink" + i, registry, EnumSet.of(Pipeline.Stage.SINK));
            }
            migration.start(spec, "transform", new SimpleMeterRegistry(), EnumSet.of(Pipeline.Stage.TRANSFORM));
            migration.start(spec, "capture", new SimpleMeterRegistry(), EnumSet.of(Pipeline.Stage.CAPTURE));
        }

        awaitConverged(Duration.ofMinutes(2));
        assertThat(pg.rows(v2, ACCOUNTS_V2)).hasSize(100);
        assertThat(pg.rows(v2, TASKS_V2)).hasSize(200);
        if (shape == Shape.SEPARATE_STAGES) {
            // The backfill may be applied before the second sink's join is through: the streamed changes that
            // follow must find both sinks holding partitions.
            awaitSinkMembersWithPartitions(spec, 2);
        }

        pg.execute(v1, """
                INSERT INTO users VALUES (101, 'late user', 'late@example.com', '2025-06-30 23:59:59.999999+00', 99999999.99);
                UPDATE users SET name = 'renamed', score = NULL WHERE id = 7;
                UPDATE users SET email = 'again@example.com' WHERE id = 7;
                UPDATE users SET id = 1000 WHERE id = 5;
                DELETE FROM users WHERE id IN (10, 11, 12);
                UPDATE tasks SET done = NOT done WHERE id <= 50;
                DELETE FROM tasks WHERE id > 190;
                """);
        try (Connection c = pg.connect(v1)) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("INSERT INTO tasks SELECT g, 1 + g % 100, 'bulk ' || g, false FROM generate_series(10001, 20000) g");
                st.execute("UPDATE tasks SET title = title || ' (edited in the same transaction)' WHERE id % 1000 = 0");
            }
            c.commit();
        }
        pg.execute(v1, "DELETE FROM tasks WHERE id BETWEEN 15001 AND 15100");

        awaitConverged(Duration.ofMinutes(2));
        for (SimpleMeterRegistry registry : sinkRegistries) {
            assertThat(registry.find("migrator.sink.rows.applied").counters().stream().mapToDouble(c -> c.count()).sum())
                    .as("each sink instance applied its share of the partitions").isPositive();
        }
        assertThat(pg.rows(v2, ACCOUNTS_V2)).hasSize(100 + 1 - 3);
        assertThat(pg.rows(v2, TASKS_V2)).hasSize(190 + 10_000 - 100);
        assertThat(pg.rows(v2, "SELECT display_name, email, score FROM accounts WHERE account_id = 7"))
                .containsExactly(List.of("renamed", "again@example.com", "null"));
        assertThat(pg.rows(v2, "SELECT count(*) FROM accounts WHERE account_id IN (5, 10, 11, 12)")).containsExactly(List.of("0"));
        assertThat(pg.rows(v2, "SELECT signed_up_at = '2025-06-30 23:59:59.999999+00' FROM accounts WHERE account_id = 101"))
                .containsExactly(List.of("t"));
    }

    /** A TRUNCATE on v1 deletes every v2 row of the table (in every partition); what is inserted after it stays. */
    @Test
    void aTruncateOnV1EmptiesTheV2TableOfItsRows(@TempDir Path dir) throws Exception {
        spec(dir);
        migration.start();
        awaitConverged(Duration.ofMinutes(2));

        pg.execute(v1, """
                TRUNCATE tasks;
                INSERT INTO tasks VALUES (5001, 1, 'after the truncate', true), (5002, 2, 'also after', false);
                """);
        awaitConverged(Duration.ofMinutes(2));
        assertThat(pg.rows(v2, TASKS_V2)).hasSize(2);
        assertThat(pg.rows(v2, ACCOUNTS_V2)).hasSize(100);
    }

    private static void awaitSinkMembersWithPartitions(Spec spec, int members) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            String group = new Topics(spec).sinkGroup();
            await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).until(() -> {
                ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get();
                return description.members().size() == members
                        && description.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty());
            });
        }
    }

    private void awaitConverged(Duration timeout) {
        migration.awaitAsserted(timeout, () -> {
            migration.assertTablesEqual(ACCOUNTS_V2, ACCOUNTS_V1);
            migration.assertTablesEqual(TASKS_V2, TASKS_V1);
        });
    }

    private Spec spec(Path dir) throws IOException {
        migration.writeSpec(dir, "partitions: 3", """
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      email: { from: email }
                      signed_up_at: { from: created_at }
                      score: { from: score }
                  tasks:
                    columns:
                      id: { from: id }
                      owner_id: { from: user_id }
                      title: { from: title }
                      done: { from: done }
                """);
        return migration.spec();
    }
}
