package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backfill.mode: copy} for tables without a primary key (issue 17): a REPLICA IDENTITY FULL table of identical
 * rows, an {@code append: true} table and a partitioned {@code append: true} table, each cut into many block ranges;
 * v2 then holds v1's rows as a multiset, later changes of one of two identical rows change one, and a copy stopped in
 * the middle copies those tables again from a new snapshot without doubling a row changed while it was stopped.
 */
class CopyBackfillKeylessIT {

    /** Every column (long text by its md5), so that rows compare with their duplicates. */
    private static final Map<String, String> ROWS = Map.of(
            "ledger", "SELECT account, amount::text, md5(note) FROM ledger",
            "events", "SELECT at::text, kind, md5(pad) FROM events",
            "parts", "SELECT n::text, label FROM parts",
            "accounts", "SELECT id::text, name FROM accounts");
    private static final String V1 = """
            CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
            CREATE TABLE ledger (account text, amount numeric(10,2), note text);
            CREATE TABLE events (at timestamptz NOT NULL, kind text, pad text);
            CREATE TABLE parts (n int NOT NULL, label text) PARTITION BY RANGE (n);
            CREATE TABLE parts_small PARTITION OF parts FOR VALUES FROM (0) TO (100);
            CREATE TABLE parts_big PARTITION OF parts FOR VALUES FROM (100) TO (1000000);
            """;
    private static final String TABLES = """
              accounts: { columns: { id: { from: id }, name: { from: name } } }
              ledger: { columns: { account: { from: account }, amount: { from: amount }, note: { from: note } } }
              events: { append: true, columns: { at: { from: at }, kind: { from: kind }, pad: { from: pad } } }
              parts: { append: true, columns: { n: { from: n }, label: { from: label } } }
            """;
    /** Every row twice (its twin), with a 200-character note so that the table spans many blocks. */
    private static final String LEDGER_ROWS = "INSERT INTO ledger SELECT 'a' || (g / 2), (g / 2) * 1.5, repeat('n', 200)"
            + " FROM generate_series(0, 799) g;\n";
    private static final String EVENTS_ROWS = "INSERT INTO events SELECT timestamptz '2026-01-01 00:00:00+00' + (g / 3) * interval '1 minute',"
            + " 'seen', repeat('p', 200) FROM generate_series(0, 599) g;\n";

    @RegisterExtension
    final Migration migration = new Migration("keyless");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private Path specFile;
    private Pipeline pipeline;

    private void setUp(Path dir, String v2Extra, String triggers) throws Exception {
        pg.execute(v1, V1 + """
                ALTER TABLE ledger REPLICA IDENTITY FULL;
                INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 200) g;
                INSERT INTO parts SELECT g % 1000, 'part ' || (g % 1000) FROM generate_series(0, 1999) g;
                """ + LEDGER_ROWS + EVENTS_ROWS);
        pg.execute(v2, """
                CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
                CREATE TABLE ledger (account text, amount numeric(10,2), note text);
                CREATE TABLE events (at timestamptz NOT NULL, kind text, pad text);
                CREATE TABLE parts (n int NOT NULL, label text);
                """ + v2Extra);
        specFile = migration.writeSpec(dir, "", "triggers: [" + triggers + "]", "partitions: 3", """
                backfill: { mode: copy, chunkRows: 50, parallelism: 3 }
                tables:
                """ + TABLES);
    }

    /** Every v2 table holds its v1 table's rows as a multiset; else names up to 10 rows whose numbers of copies differ. */
    private void assertSameRows() {
        ROWS.forEach((table, query) -> {
            Map<List<String>, Long> expected = copies(pg.rows(v1, query));
            Map<List<String>, Long> actual = copies(pg.rows(v2, query));
            List<String> differ = java.util.stream.Stream.concat(expected.keySet().stream(), actual.keySet().stream()).distinct()
                    .filter(row -> !expected.getOrDefault(row, 0L).equals(actual.getOrDefault(row, 0L)))
                    .map(row -> row + ": " + expected.getOrDefault(row, 0L) + " in v1, " + actual.getOrDefault(row, 0L) + " in v2").toList();
            assertThat(differ.size()).as("rows of v2 table %s with another number of copies than in v1 (%d rows in v1, %d in v2), e.g. %s",
                    table, expected.values().stream().mapToLong(Long::longValue).sum(), actual.values().stream().mapToLong(Long::longValue).sum(),
                    differ.stream().limit(10).toList()).isZero();
        });
    }

    private static Map<List<String>, Long> copies(List<List<String>> rows) {
        return rows.stream().collect(Collectors.groupingBy(row -> row, Collectors.counting()));
    }

    private void awaitSameRows() {
        migration.awaitAsserted(Duration.ofMinutes(2), this::assertSameRows);
    }

    private void awaitRunning() {
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
    }

    /** Per table, its chunks: planned, copied, and those with both bounds. */
    private List<String> chunks(String table) {
        return pg.rows(v2, "SELECT count(*), count(copied_at), count(*) FILTER (WHERE after_key IS NOT NULL AND up_to_key IS NOT NULL)"
                + " FROM migrator_state.backfill_chunks WHERE v1_table = '" + table + "'").get(0);
    }

    private static String backfillThreads() {
        return Thread.getAllStackTraces().entrySet().stream().filter(t -> t.getKey().getName().startsWith("migrator-backfill"))
                .map(t -> t.getKey().getName() + " " + t.getKey().getState() + " at "
                        + java.util.Arrays.stream(t.getValue()).limit(12).map(String::valueOf).collect(Collectors.joining(" < ")))
                .collect(Collectors.joining("; "));
    }

    private Set<String> tablesCopied() {
        if (pg.rows(v2, "SELECT to_regclass('migrator_state.backfill_chunks') IS NULL").get(0).get(0).equals("t")) {
            return Set.of();
        }
        return pg.rows(v2, "SELECT DISTINCT v1_table FROM migrator_state.backfill_chunks WHERE copied_at IS NOT NULL")
                .stream().map(r -> r.get(0)).collect(Collectors.toSet());
    }

    /** One of two identical rows updated, one deleted, an identical row added, and inserts into the append tables. */
    private static final String CHANGES_OF_TWINS = """
            UPDATE ledger SET amount = 0 WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a7' LIMIT 1);
            DELETE FROM ledger WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a9' LIMIT 1);
            INSERT INTO ledger SELECT * FROM ledger WHERE account = 'a3' LIMIT 1;
            INSERT INTO events SELECT * FROM events WHERE kind = 'seen' ORDER BY at LIMIT 2;
            INSERT INTO parts VALUES (5, 'part 5'), (500, 'part 500');
            UPDATE accounts SET name = 'renamed' WHERE id = 3;
            """;

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void keylessTablesAreCopiedInBlockRangesAsMultisetsAndLaterChangesActOnOneOfTheIdenticalRows(@TempDir Path dir) throws Exception {
        setUp(dir, "", "");
        CliRun check = CliRun.of("check", "--spec", specFile.toString());
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);
        assertThat(check.out()).as(check.toString()).contains("OK      v1 public.ledger: has no primary key; REPLICA IDENTITY FULL",
                "WARNING v1 public.events: has no primary key and is declared append: true").doesNotContain("REFUSED");

        pipeline = migration.start(registry);
        // Made while the copy starts: in its snapshot or streamed after it, each exactly once.
        pg.execute(v1, "INSERT INTO ledger VALUES ('early', 1, 'e'), ('early', 1, 'e'); INSERT INTO events VALUES (now(), 'early', NULL);");
        awaitRunning();
        awaitSameRows();
        for (String table : List.of("ledger", "events", "parts")) {
            List<String> chunks = chunks(table);
            assertThat(Integer.parseInt(chunks.get(0))).as("chunks of %s", table).isGreaterThan(3);
            assertThat(chunks.get(1)).as("chunks of %s copied", table).isEqualTo(chunks.get(0));
            assertThat(Integer.parseInt(chunks.get(2))).as("chunks of %s with both bounds", table).isEqualTo(Integer.parseInt(chunks.get(0)) - 2);
        }
        assertThat(pg.rows(v2, "SELECT min(after_key[1]::bigint), max(up_to_key[1]::bigint) FROM migrator_state.backfill_chunks"
                + " WHERE v1_table = 'ledger'").get(0)).as("block bounds of ledger").doesNotContainNull();

        pg.execute(v1, CHANGES_OF_TWINS);
        awaitSameRows();
        assertThat(pg.rows(v2, "SELECT amount::text, count(*)::text FROM ledger WHERE account = 'a7' GROUP BY 1 ORDER BY 1"))
                .containsExactly(List.of("0.00", "1"), List.of("10.50", "1"));
        assertThat(pg.rows(v2, "SELECT count(*)::text FROM ledger WHERE account IN ('a9', 'a3') GROUP BY account ORDER BY account"))
                .containsExactly(List.of("3"), List.of("1"));

        // A v1 TRUNCATE of a copied keyless table empties it on v2 too.
        pg.execute(v1, "TRUNCATE events; INSERT INTO events VALUES (now(), 'fresh', NULL)");
        awaitSameRows();

        CliRun verify = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        assertThat(verify.out()).as(verify.toString()).contains("verify: every table matches");
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aCopyStoppedInTheMiddleCopiesTheKeylessTablesAgainWithoutDoublingWhatChangedMeanwhile(@TempDir Path dir) throws Exception {
        // Each COPY into a keyless table takes at least 0.3 s, so that the stop lands before their chunks commit;
        // accounts, first in order and not slowed, commits its chunks on their own before.
        setUp(dir, """
                CREATE FUNCTION slow_copy() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF current_setting('application_name') = 'migrator-backfill-copy' THEN PERFORM pg_sleep(0.3); END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER slow_copy AFTER INSERT ON ledger FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();
                CREATE TRIGGER slow_copy AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();
                CREATE TRIGGER slow_copy AFTER INSERT ON parts FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();
                """, "ledger.slow_copy, events.slow_copy, parts.slow_copy");
        pipeline = migration.start(registry);
        try {
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(50)).until(() -> {
                assertThat(pipeline.failure()).isEmpty();
                return tablesCopied().contains("accounts");
            });
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("no chunk of accounts copied; the pipeline: " + pipeline.notReady().orElse("ready")
                    + "; the server's sessions in a transaction: " + pg.rows(v1, "SELECT pid, datname, application_name, state,"
                    + " wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity WHERE xact_start IS NOT NULL"
                    + " AND pid <> pg_backend_pid()") + "; where the backfill's threads are: " + backfillThreads(), e);
        }
        migration.stop();
        assertThat(tablesCopied()).as("tables with chunks copied before the stop").containsExactly("accounts");
        for (String table : List.of("ledger", "events", "parts")) {
            assertThat(pg.rows(v2, "SELECT count(*) FROM " + table)).as("rows of %s: its chunks commit together", table)
                    .isEqualTo(List.of(List.of("0")));
        }

        // While it is stopped: changes of identical rows, rows inserted then deleted, a truncate and new rows.
        pg.execute(v1, CHANGES_OF_TWINS + """
                INSERT INTO ledger VALUES ('phantom', 1, 'p'), ('phantom', 1, 'p');
                DELETE FROM ledger WHERE account = 'phantom';
                TRUNCATE events;
                """ + EVENTS_ROWS + LEDGER_ROWS);

        pipeline = migration.start(registry);
        awaitRunning();
        awaitSameRows();
        // (accounts too, if the stop came before its last chunk)
        assertThat(pg.rows(v2, "SELECT v1_table, count(*) FILTER (WHERE snapshot_xmin IS NULL) FROM migrator_state.backfill_chunks"
                + " WHERE v1_table <> 'accounts' GROUP BY 1 ORDER BY 1"))
                .as("keyless tables with chunks not copied from the resumed run's snapshot")
                .containsExactly(List.of("events", "0"), List.of("ledger", "0"), List.of("parts", "0"));

        // Streamed after the resumed copy: changes of one of several identical rows again.
        pg.execute(v1, """
                UPDATE ledger SET note = 'after' WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a11' LIMIT 1);
                DELETE FROM ledger WHERE ctid = (SELECT ctid FROM ledger WHERE account = 'a12' LIMIT 1);
                INSERT INTO events VALUES (now(), 'after', NULL);
                INSERT INTO parts VALUES (7, 'after');
                """);
        awaitSameRows();
        assertThat(pg.rows(v2, "SELECT count(*)::text FROM ledger WHERE account = 'a12'")).containsExactly(List.of("3"));

        CliRun verify = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
    }
}
