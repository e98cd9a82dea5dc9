package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.transform.Reversal;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The way back: a migration and its reverse ({@code run --reverse}) run at once around the flip of writes, neither
 * carrying back what the other wrote; after the flip every write on v2 (insert, update through a one-to-one map, update
 * of a column only the table's {@code reverse:} brings back, delete) reaches v1, and {@code cutover wait --reverse} and
 * {@code verify --reverse} pass. {@code check --reverse} refuses the spec while a v1 column has no way back.
 *
 * <p>The way back of a merge and of a split: {@code bots} and {@code humans} merged into {@code principals}
 * (discriminator {@code kind} in the key) come back split by {@code kind}; {@code users} split by region (a key column)
 * into {@code eu_users} and {@code other_users} comes back merged. Every insert, update and delete on those v2 tables
 * reaches the v1 table it belongs to, rows of the same id in another v1 table or region untouched. A vertical split and
 * a merge without a discriminator are refused by {@code check --reverse} before the flip.
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

    private static final String MERGE_AND_SPLIT = """
            tables:
              bots:
                into: principals
                key: [kind, id]
                columns: { kind: { value: bot }, id: { from: id }, name: { from: label } }
              humans:
                into: principals
                key: [kind, id]
                columns: { kind: { value: human }, id: { from: id }, name: { from: name }, email: { from: email } }
              users:
                split:
                  - { into: eu_users, key: [region, id], where: "row.region == 'eu'",
                      columns: { region: { from: region }, id: { from: id }, name: { from: name } } }
                  - { into: other_users, key: [region, id], where: "row.region != 'eu'",
                      columns: { region: { from: region }, id: { from: id }, name: { from: name } } }
            """;
    private static final String V1_BOTS = "SELECT id, label FROM bots ORDER BY id";
    private static final String V1_HUMANS = "SELECT id, name, email FROM humans ORDER BY id";
    private static final String V1_USERS = "SELECT region, id, name FROM users ORDER BY region, id";
    private static final String V2_MERGED_AND_SPLIT = """
            SELECT 'bot', id, name, NULL FROM principals WHERE kind = 'bot'
            UNION ALL SELECT 'human', id, name, email FROM principals WHERE kind = 'human'
            UNION ALL SELECT region, id, name, NULL FROM eu_users
            UNION ALL SELECT region, id, name, NULL FROM other_users
            ORDER BY 1, 2""";
    private static final String V1_MERGED_AND_SPLIT = """
            SELECT 'bot', id, label, NULL FROM bots
            UNION ALL SELECT 'human', id, name, email FROM humans
            UNION ALL SELECT region, id, name, NULL FROM users
            ORDER BY 1, 2""";

    @RegisterExtension
    final Migration migration = new Migration("reverse");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    @TempDir
    Path dir;
    private Pipeline forward;
    private Pipeline back;

    @BeforeEach
    void tables() {
        pg.execute(v1, """
                CREATE TABLE tasks (id bigint PRIMARY KEY, name text NOT NULL, status text NOT NULL, prio int NOT NULL DEFAULT 1);
                INSERT INTO tasks SELECT g, 'task ' || g, (ARRAY['created', 'running', 'done'])[1 + g % 3], g % 10
                FROM generate_series(1, 30) g;
                """);
        pg.execute(v2, "CREATE TABLE jobs (id bigint PRIMARY KEY, title text NOT NULL, state text NOT NULL,"
                + " kind text NOT NULL, score bigint NOT NULL)");
        pg.execute(v1, """
                CREATE TABLE bots (id bigint PRIMARY KEY, label text NOT NULL);
                CREATE TABLE humans (id bigint PRIMARY KEY, name text NOT NULL, email text);
                CREATE TABLE users (region text, id bigint, name text NOT NULL, PRIMARY KEY (region, id));
                INSERT INTO bots SELECT g, 'bot ' || g FROM generate_series(1, 5) g;
                INSERT INTO humans SELECT g, 'human ' || g, 'h' || g || '@example.org' FROM generate_series(1, 5) g;
                INSERT INTO users SELECT r, g, r || ' user ' || g FROM generate_series(1, 4) g, unnest(ARRAY['eu', 'us']) r;
                """);
        pg.execute(v2, """
                CREATE TABLE principals (kind text, id bigint, name text NOT NULL, email text, PRIMARY KEY (kind, id));
                CREATE TABLE eu_users (region text, id bigint, name text NOT NULL, PRIMARY KEY (region, id));
                CREATE TABLE other_users (region text, id bigint, name text NOT NULL, PRIMARY KEY (region, id));
                """);
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
        Spec spec = migration.spec();
        MeterRegistry forwardMeters = new SimpleMeterRegistry();
        forward = migration.start(spec, "forward", forwardMeters);
        awaitV2();

        MeterRegistry backMeters = new SimpleMeterRegistry();
        back = migration.start(Reversal.inverse(spec), "back", backMeters);
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

    @Test
    void checkRefusesAVerticalSplitAndAMergeWithoutDiscriminatorBeforeTheFlipNamingTheirPaths() throws Exception {
        CliRun vertical = CliRun.of("check", "--reverse", "--spec", spec(MERGE_AND_SPLIT.replace(
                "where: \"row.region != 'eu'\",", "")).toString());
        assertThat(vertical.exit()).as(vertical.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(vertical.lines()).as(vertical.toString()).anyMatch(line -> line.startsWith(
                "ERROR   way back: spec tables.users.split: is split vertically: tables.users.split[1] (into other_users)"
                        + " takes every v1 row"));
        assertThat(vertical.lines()).as("the merge is fine").noneMatch(line -> line.contains("tables.bots")
                && line.startsWith("ERROR"));

        CliRun both = CliRun.of("check", "--reverse", "--spec", spec(MERGE_AND_SPLIT.replace("where: \"row.region != 'eu'\",", "")
                .replace("value: human", "value: bot")).toString());
        assertThat(both.exit()).as(both.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(both.lines()).as(both.toString()).filteredOn(line -> line.startsWith("ERROR")).extracting(
                line -> line.substring(0, line.indexOf(": ", "ERROR   way back: spec ".length()))).containsExactly(
                "ERROR   way back: spec tables.bots", "ERROR   way back: spec tables.humans",
                "ERROR   way back: spec tables.users.split");

        CliRun ready = CliRun.of("check", "--reverse", "--spec", spec(MERGE_AND_SPLIT).toString());
        assertThat(ready.exit()).as(ready.toString()).isEqualTo(ExitCodes.OK);
        assertThat(ready.lines()).as(ready.toString()).anyMatch(line -> line.startsWith(
                "WARNING way back: spec tables.bots.columns.kind.value: v2 table principals merges several v1 tables"));
    }

    @Test
    void everyWriteOnAMergedOrSplitV2TableReachesTheV1TableItBelongsTo() throws Exception {
        Path file = spec(MERGE_AND_SPLIT);
        Spec spec = migration.spec();
        forward = migration.start(spec, "forward", new SimpleMeterRegistry());
        awaitV2(V2_MERGED_AND_SPLIT, V1_MERGED_AND_SPLIT);

        back = migration.start(Reversal.inverse(spec), "back", new SimpleMeterRegistry());
        await("the way back starts").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                .until(() -> back.failure().isPresent() || back.running());
        assertThat(back.failure()).isEmpty();

        // The flip: writes move to v2. Ids 1 to 4 exist in both merged tables and both regions.
        pg.execute(v2, """
                INSERT INTO principals VALUES ('bot', 6, 'new bot', NULL), ('human', 6, 'new human', 'h6@example.org');
                UPDATE principals SET name = 'renamed human' WHERE kind = 'human' AND id = 2;
                UPDATE principals SET email = NULL WHERE kind = 'human' AND id = 4;
                UPDATE principals SET name = 'renamed bot' WHERE kind = 'bot' AND id = 4;
                DELETE FROM principals WHERE kind = 'bot' AND id = 3;
                DELETE FROM principals WHERE kind = 'human' AND id = 1;
                INSERT INTO eu_users VALUES ('eu', 9, 'new eu user');
                INSERT INTO other_users VALUES ('jp', 1, 'new jp user');
                UPDATE eu_users SET name = 'renamed eu user' WHERE id = 2;
                UPDATE other_users SET name = 'renamed us user' WHERE id = 3;
                DELETE FROM eu_users WHERE id = 1;
                DELETE FROM other_users WHERE id = 4;
                """);
        await("v1 holds every v2 write").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(back.failure()).isEmpty();
            assertThat(pg.rows(v1, V1_BOTS)).containsExactly(List.of("1", "bot 1"), List.of("2", "bot 2"),
                    List.of("4", "renamed bot"), List.of("5", "bot 5"), List.of("6", "new bot"));
            assertThat(pg.rows(v1, V1_HUMANS)).containsExactly(List.of("2", "renamed human", "h2@example.org"),
                    List.of("3", "human 3", "h3@example.org"), List.of("4", "human 4", "null"),
                    List.of("5", "human 5", "h5@example.org"), List.of("6", "new human", "h6@example.org"));
            assertThat(pg.rows(v1, V1_USERS)).containsExactly(List.of("eu", "2", "renamed eu user"),
                    List.of("eu", "3", "eu user 3"), List.of("eu", "4", "eu user 4"), List.of("eu", "9", "new eu user"),
                    List.of("jp", "1", "new jp user"), List.of("us", "1", "us user 1"), List.of("us", "2", "us user 2"),
                    List.of("us", "3", "renamed us user"));
        });

        CliRun wait = CliRun.of("cutover", "wait", "--reverse", "--spec", file.toString(), "--timeout", "PT2M");
        assertThat(wait.exit()).as(wait.toString()).isEqualTo(ExitCodes.OK);
        CliRun verify = CliRun.of("verify", "--reverse", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        assertThat(pg.rows(v1, V1_MERGED_AND_SPLIT)).isEqualTo(pg.rows(v2, V2_MERGED_AND_SPLIT));
        assertThat(forward.failure()).isEmpty();
        assertThat(back.failure()).isEmpty();
    }

    /**
     * A table without a primary key (REPLICA IDENTITY FULL on both sides) on the way back: v2's changes of one of two
     * identical rows change one of the two on v1.
     */
    @Test
    void aTableWithoutPrimaryKeyComesBackAsAMultiset() throws Exception {
        String ledger = """
                CREATE TABLE ledger (account text NOT NULL, amount numeric(10,2) NOT NULL, note text);
                ALTER TABLE ledger REPLICA IDENTITY FULL;
                """;
        pg.execute(v1, ledger + "INSERT INTO ledger SELECT 'a' || (g / 2), g / 2, 'n' FROM generate_series(0, 19) g;");
        pg.execute(v2, ledger.replace("ALTER TABLE ledger REPLICA IDENTITY FULL;", ""));
        String rows = "SELECT account, amount::text, note, count(*) FROM ledger GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
        Path file = spec("""
                tables:
                  ledger: { columns: { account: { from: account }, amount: { from: amount }, note: { from: note } } }
                """);
        CliRun refused = CliRun.of("check", "--reverse", "--spec", file.toString());
        assertThat(refused.exit()).as(refused.toString()).isNotEqualTo(ExitCodes.OK);
        assertThat(refused.out()).as(refused.toString()).contains("public.ledger", "REPLICA IDENTITY FULL");
        pg.execute(v2, "ALTER TABLE ledger REPLICA IDENTITY FULL");
        CliRun check = CliRun.of("check", "--reverse", "--spec", file.toString());
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);
        Spec spec = migration.spec();
        forward = migration.start(spec, "forward", new SimpleMeterRegistry());
        awaitV2(rows, rows);

        back = migration.start(Reversal.inverse(spec), "back", new SimpleMeterRegistry());
        await("the way back starts").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                .until(() -> back.failure().isPresent() || back.running());
        assertThat(back.failure()).isEmpty();

        pg.execute(v2, """
                UPDATE ledger SET note = 'changed' WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a1' LIMIT 1);
                DELETE FROM ledger WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a2' LIMIT 1);
                INSERT INTO ledger VALUES ('a3', 3, 'n'), ('new', 1, NULL), ('new', 1, NULL);
                DELETE FROM ledger WHERE account = 'a4';
                """);
        await("v1 holds every v2 write").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(back.failure()).isEmpty();
            assertThat(pg.rows(v1, rows)).isEqualTo(pg.rows(v2, rows));
        });
        assertThat(pg.rows(v1, "SELECT note, count(*) FROM ledger WHERE account = 'a1' GROUP BY 1 ORDER BY 1"))
                .containsExactly(List.of("changed", "1"), List.of("n", "1"));
        assertThat(pg.rows(v1, "SELECT count(*) FROM ledger WHERE account IN ('a2', 'a3', 'a4', 'new') GROUP BY account ORDER BY account"))
                .containsExactly(List.of("1"), List.of("3"), List.of("2"));
        CliRun verify = CliRun.of("verify", "--reverse", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
    }

    /**
     * The way back takes no snapshot, so its transform has no image of a row before the row's first change on v2. An
     * update there that leaves a large (out-of-line TOASTed) value unchanged does not carry it under REPLICA IDENTITY
     * DEFAULT; it still reaches v1, whose copy of the value stays as it is.
     */
    @Test
    void anUpdateOnV2ThatLeavesATOASTedValueUnchangedReachesV1WithoutReplicaIdentityFull() throws Exception {
        // md5-chained random text: about 64 kB that pglz cannot shrink below the TOAST threshold, so stored out of line.
        String large = "(SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 2000) g)";
        pg.execute(v1, "CREATE TABLE docs (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL);"
                + " INSERT INTO docs SELECT g, 'doc ' || g, " + large + " FROM generate_series(1, 3) g;");
        pg.execute(v2, "CREATE TABLE documents (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL)");
        String v2Rows = "SELECT id, title, md5(body), length(body) FROM documents ORDER BY id";
        String v1Rows = "SELECT id, title, md5(body), length(body) FROM docs ORDER BY id";
        Path file = spec("""
                tables:
                  docs: { into: documents, columns: { id: { from: id }, title: { from: title }, body: { from: body } } }
                """);
        CliRun check = CliRun.of("check", "--reverse", "--spec", file.toString());
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);
        assertThat(check.lines()).as(check.toString()).noneMatch(line -> line.contains("REPLICA IDENTITY FULL"));
        Spec spec = migration.spec();
        forward = migration.start(spec, "forward", new SimpleMeterRegistry());
        awaitV2(v2Rows, v1Rows);
        assertThat(pg.rows(v2, "SELECT relreplident FROM pg_class WHERE relname = 'documents'")).containsExactly(List.of("d"));
        assertThat(pg.rows(v2, "SELECT pg_column_size(body) > 8192 FROM documents ORDER BY id"))
                .as("stored out of line, not compressed inline").containsOnly(List.of("t"));

        MeterRegistry backMeters = new SimpleMeterRegistry();
        back = migration.start(Reversal.inverse(spec), "back", backMeters);
        await("the way back starts").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                .until(() -> back.failure().isPresent() || back.running());
        assertThat(back.failure()).isEmpty();

        // Row 1: first seen on v2 by an update of another column. Row 2: its body changes on v2 (the way back then holds
        // it), then its title. Row 3: an update of the title, then of the body.
        pg.execute(v2, "UPDATE documents SET title = 'retitled on v2' WHERE id = 1;"
                + " UPDATE documents SET body = " + large + " WHERE id = 2;"
                + " UPDATE documents SET title = 'doc 2 retitled' WHERE id = 2;"
                + " UPDATE documents SET title = 'doc 3 retitled' WHERE id = 3;"
                + " UPDATE documents SET body = 'short now' WHERE id = 3;");
        await("v1 holds every v2 write").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(back.failure()).isEmpty();
            assertThat(pg.rows(v1, v1Rows)).isEqualTo(pg.rows(v2, v2Rows));
        });
        assertThat(pg.rows(v1, "SELECT title FROM docs ORDER BY id"))
                .containsExactly(List.of("retitled on v2"), List.of("doc 2 retitled"), List.of("doc 3 retitled"));
        assertThat(counted(backMeters, "migrator.transform.records", "dead_lettered")).isZero();
        assertThat(counted(backMeters, "migrator.sink.rows.applied", "dead_lettered")).isZero();
        assertThat(backMeters.get("migrator.transform.records").tags("table", "documents", "outcome", "mapped").counter().count())
                .isEqualTo(5);

        CliRun verify = CliRun.of("verify", "--reverse", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        assertThat(forward.failure()).isEmpty();
        assertThat(back.failure()).isEmpty();
    }

    private static double counted(MeterRegistry registry, String meter, String outcome) {
        return registry.find(meter).tag("outcome", outcome).counters().stream().mapToDouble(Counter::count).sum();
    }

    private static String withWayBack() {
        return TABLES + """
                    reverse:
                      prio: { expr: "row.score / 10" }
                """;
    }

    private Path spec(String tables) throws Exception {
        return migration.writeSpec(dir, "partitions: 2", tables);
    }

    private void awaitV2() {
        awaitV2(V2, V1_THROUGH_THE_SPEC);
    }

    private void awaitV2(String v2Query, String v1Query) {
        await("v2 = v1 through the spec").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(forward.failure()).isEmpty();
            assertThat(pg.rows(v2, v2Query)).isEqualTo(pg.rows(v1, v1Query));
        });
    }

    private static long changes(MeterRegistry registry, String table, String outcome) {
        return (long) registry.find("migrator.capture.changes").tag("table", table).tag("outcome", outcome).counters()
                .stream().mapToDouble(Counter::count).sum();
    }
}
