package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16: {@code dlq replay} of changes that were dead-lettered and then overtaken by later changes of their rows on
 * v1 (updates, deletes) must not bring the old images back (invariant 4), while a replayed letter that is still its
 * row's newest change is applied; the command reports how many were applied and superseded. One pipeline per test, a
 * real v1 and v2 PostgreSQL and a real broker, for letters of the sink (a v2 CHECK constraint refuses a status) and of
 * the transform (a status the spec's map does not know).
 */
class DlqReplayIT {

    private static final String V1_ROWS = "SELECT id, name, status FROM users ORDER BY id";
    private static final String V2_ROWS = "SELECT account_id, display_name, status FROM accounts ORDER BY account_id";
    /** Keys 1..6 and 11 get a dead letter, key 2 a second one; 1 is updated, 3, 4 and 11 deleted afterwards. */
    private static final String REPORT = "replayed 8: 4 applied, 4 superseded, 0 failed again";

    @RegisterExtension
    final Migration migration = new Migration("replay");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    private final String prefix = migration.topicPrefix();
    @TempDir
    Path dir;
    private Pipeline pipeline;
    private SimpleMeterRegistry registry;

    @BeforeEach
    void createTable() {
        pg.execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, status text NOT NULL);
                INSERT INTO users SELECT g, 'user ' || g, 'active' FROM generate_series(1, 10) g;
                """);
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sinkLettersOvertakenByLaterChangesAreSupersededAndTheNewestAreApplied() throws IOException {
        pg.execute(v2, """
                CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL,
                                       status text NOT NULL CONSTRAINT known_status CHECK (status IN ('active', 'closed')));
                """);
        Path spec = spec("status: { from: status }");
        start();

        deadLetterThenOvertake(spec, "sink");

        // The operator fixes v2 and replays every letter; the sink restarted in between, so what it knows of the
        // dead-lettered rows comes from the target.
        pg.execute(v2, """
                ALTER TABLE accounts DROP CONSTRAINT known_status,
                    ADD CONSTRAINT known_status CHECK (status IN ('active', 'closed', 'vip'));
                """);
        migration.stop();
        start();
        replayAndCheck(spec, () -> registry.get("migrator.sink.rows.applied").tags("table", "accounts", "outcome", "superseded").counter().count());
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void transformLettersOvertakenByLaterChangesAreSupersededAndTheNewestAreApplied() throws IOException {
        pg.execute(v2, "CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL, status text NOT NULL);");
        Path spec = spec("status: { from: status, map: { active: active, closed: closed } }");
        start();

        deadLetterThenOvertake(spec, "transform");

        // The operator fixes the spec and restarts the pipeline on its data directory, then replays every letter.
        migration.stop();
        Path fixed = spec("status: { from: status, map: { active: active, closed: closed, vip: vip } }");
        start();
        replayAndCheck(fixed, () -> registry.get("migrator.transform.records").tags("table", "users", "outcome", "superseded").counter().count());
    }

    /**
     * Dead-letters a change of keys 1..6 and an insert of key 11 (status vip), then changes some of those rows again on
     * v1: 1 gets a status v2 takes, 2 a new name (still vip: a second letter), 3, 4 and 11 are deleted; 5 and 6 keep
     * their dead-lettered change as their newest.
     */
    private void deadLetterThenOvertake(Path spec, String stage) {
        pg.execute(v1, """
                UPDATE users SET status = 'vip' WHERE id BETWEEN 1 AND 6;
                INSERT INTO users VALUES (11, 'user 11', 'vip');
                """);
        awaitDeadLetters(spec, stage, 7);
        pg.execute(v1, """
                UPDATE users SET status = 'closed' WHERE id = 1;
                UPDATE users SET name = 'renamed' WHERE id = 2;
                DELETE FROM users WHERE id IN (3, 4, 11);
                """);
        awaitDeadLetters(spec, stage, 8);
        migration.awaitAsserted(Duration.ofMinutes(1), () ->
                assertThat(pg.rows(v2, V2_ROWS)).as("v2 before the replay").containsExactly(
                        List.of("1", "user 1", "closed"), List.of("2", "user 2", "active"), List.of("5", "user 5", "active"),
                        List.of("6", "user 6", "active"), List.of("7", "user 7", "active"), List.of("8", "user 8", "active"),
                        List.of("9", "user 9", "active"), List.of("10", "user 10", "active")));
    }

    /** Replays every letter twice; {@code superseded} reads the meter of the stage whose letters they are. */
    private void replayAndCheck(Path spec, DoubleSupplier superseded) {
        CliRun replay = CliRun.of("dlq", "replay", "--spec", spec.toString(), "--wait", "120");

        // The command has waited for every outcome; the sink's commit of what it applied follows at once.
        migration.awaitAsserted(Duration.ofSeconds(30), () -> assertThat(pg.rows(v2, V2_ROWS))
                .as("v2 against v1 row by row after the replay; %s", replay).isEqualTo(pg.rows(v1, V1_ROWS)));
        assertThat(pg.rows(v2, "SELECT count(*) FROM accounts WHERE account_id IN (3, 4, 11)"))
                .as("rows deleted on v1 after their letter").containsExactly(List.of("0"));
        assertThat(replay.exit()).as(replay.toString()).isZero();
        assertThat(replay.lines()).as(replay.toString()).last().isEqualTo(REPORT);
        assertThat(replay.lines()).as(replay.toString()).filteredOn(l -> l.startsWith("superseded by the ")).hasSize(4)
                .allSatisfy(l -> assertThat(l).containsAnyOf("key={\"account_id\":1} ", "key={\"id\":1} ", "key={\"account_id\":3} ",
                        "key={\"id\":3} ", "key={\"account_id\":4} ", "key={\"id\":4} ", "key={\"account_id\":11} ", "key={\"id\":11} "));
        // The sink counts once its transaction commits, just after it reported the outcomes.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertThat(superseded.getAsDouble()).as("superseded meter").isEqualTo(4));

        // Replaying the same letters again changes nothing: each is now older than what its row has.
        CliRun again = CliRun.of("dlq", "replay", "--spec", spec.toString(), "--wait", "120");
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(again.lines()).as(again.toString()).last().isEqualTo("replayed 8: 0 applied, 8 superseded, 0 failed again");
        // The sink counts once its transaction commits, just after it reported the outcomes.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertThat(superseded.getAsDouble()).as("superseded meter").isEqualTo(12));
        assertThat(pg.rows(v2, V2_ROWS)).isEqualTo(pg.rows(v1, V1_ROWS));
    }

    private void awaitDeadLetters(Path spec, String stage, int count) {
        migration.awaitAsserted(Duration.ofMinutes(1), () -> {
            CliRun list = CliRun.of("dlq", "list", "--spec", spec.toString());
            assertThat(list.exit()).as(list.toString()).isZero();
            assertThat(list.lines()).as(list.toString()).last().isEqualTo(count + " dead letters in " + prefix + ".dlq");
            assertThat(list.lines().subList(0, count)).allSatisfy(l -> assertThat(l).contains(" stage=" + stage + " "));
        });
    }

    /** Starts the pipeline of the spec last written, with meters of its own. */
    private void start() {
        registry = new SimpleMeterRegistry();
        pipeline = migration.start(registry);
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                .until(() -> pipeline.failure().isPresent() || pipeline.running());
        assertThat(pipeline.failure()).isEmpty();
        migration.awaitAsserted(Duration.ofMinutes(1),
                () -> assertThat(pg.rows(v2, "SELECT count(*) FROM accounts").get(0).get(0)).isNotEqualTo("0"));
    }

    private Path spec(String statusColumn) throws IOException {
        return migration.writeSpec(dir, "partitions: 2", """
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      %s
                """.formatted(statusColumn));
    }
}
