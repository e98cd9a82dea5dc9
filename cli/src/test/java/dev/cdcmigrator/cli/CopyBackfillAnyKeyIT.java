package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backfill.mode: copy} for keys that are not one integer column (issue 17): a composite (bigint, timestamptz)
 * key with many rows per id and per instant, a uuid key, a text key in an ICU collation whose order is not the
 * bytes' (upper and lower case interleaved, accents), a numeric key down to seven fraction digits, a (date, timestamp,
 * time) key with BC dates and microseconds, a (bytea, boolean, interval, inet, enum, char) key and a (float8, real)
 * key, whose values Debezium's keys carry in other forms than a JDBC read (numbers of microseconds, base64,
 * doubles that the transform reads back as decimals). Each table is cut
 * into many key ranges and copied in parallel; v2 then holds exactly v1's rows (a range compared in another order
 * than the key's index would lose or repeat rows at its bounds), later updates find the images the copy sent (their
 * unchanged TOASTed values are filled, so the copied rows' keys are the ones capture's changes carry, on the same
 * partitions), and a pipeline stopped in the middle of the copy resumes without a row going back in time, appearing
 * twice or appearing although v1 never held it at the end of a transaction the copy did not see.
 */
class CopyBackfillAnyKeyIT {

    private static final int ROWS = 1_200;
    /** The tables, each with its key columns; every table also has g (the number its row was made from), version and body. */
    private static final List<List<String>> TABLES = List.of(
            List.of("events", "id", "happened_at"), List.of("tokens", "token"), List.of("names", "name"), List.of("amounts", "amount"),
            List.of("moments", "d", "ts", "t"), List.of("blobs", "b", "flag", "span", "addr", "feeling", "code"),
            List.of("floats", "f", "r"));
    // Every 50th body is 40 KB of md5 text: stored out of line (TOASTed), so an update that leaves it unchanged
    // reaches capture with Debezium's placeholder, which only the copied image can fill.
    private static final String BODY = "CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 1250) i)"
            + " ELSE 'short ' || g END";
    private static final String V1 = """
            CREATE TABLE events (id bigint, happened_at timestamptz, g int NOT NULL, version int NOT NULL, body text,
                PRIMARY KEY (id, happened_at));
            CREATE TABLE tokens (token uuid PRIMARY KEY, g int NOT NULL, version int NOT NULL, body text);
            CREATE TABLE names (name text COLLATE "en-x-icu" PRIMARY KEY, g int NOT NULL, version int NOT NULL, body text);
            CREATE TABLE amounts (amount numeric PRIMARY KEY, g int NOT NULL, version int NOT NULL, body text);
            CREATE TABLE moments (d date, ts timestamp, t time, g int NOT NULL, version int NOT NULL, body text,
                PRIMARY KEY (d, ts, t));
            CREATE TYPE mood AS ENUM ('sad', 'happy');
            CREATE TABLE blobs (b bytea, flag boolean, span interval, addr inet, feeling mood, code char(3),
                g int NOT NULL, version int NOT NULL, body text, PRIMARY KEY (b, flag, span, addr, feeling, code));
            CREATE TABLE floats (f float8, r real, g int NOT NULL, version int NOT NULL, body text, PRIMARY KEY (f, r));
            """;

    @RegisterExtension
    final Migration migration = new Migration("anykey");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private Pipeline pipeline;

    /** The rows of keys {@code from} to {@code to} of every table, generated from g (the same g, the same keys). */
    private static String insert(int from, int to) {
        String rows = " FROM generate_series(" + from + ", " + to + ") g;\n";
        return "INSERT INTO events SELECT g / 8, timestamptz '2024-01-01 00:00:00+00' + (g % 8) * interval '1.000001 second', g, 1, "
                + BODY + rows
                + "INSERT INTO tokens SELECT md5('t' || g)::uuid, g, 1, " + BODY + rows
                + "INSERT INTO names SELECT (ARRAY['a', 'B', 'c', 'É', 'e', 'Z', 'ñ', 'z '])[g % 8 + 1] || (g / 8), g, 1, " + BODY + rows
                + "INSERT INTO amounts SELECT g * 0.0000001 + (g % 3) * 1000000, g, 1, " + BODY + rows
                // BC and AD dates, timestamps and times with microseconds: Debezium's keys carry them as numbers.
                + "INSERT INTO moments SELECT date '2024-01-01' + ((g / 64) * 40000 - 800000),"
                + " timestamp '2024-01-01 00:00:00' + (g % 8) * interval '1.000001 second', time '00:00' + (g / 8 % 8) * interval '1.5 minute', g, 1, "
                + BODY + rows
                // Every key column decides the order of some rows: b alone holds 16 rows, and each further column halves them.
                + "INSERT INTO blobs SELECT decode(lpad(to_hex(g / 16), 4, '0'), 'hex'), g / 8 % 2 = 0, (g / 4 % 2) * interval '1 day 00:00:01.5',"
                + " ('10.0.' || (g / 2 % 2) || '.1')::inet, (ARRAY['sad', 'happy'])[g % 2 + 1]::mood, 'x', g, 1, " + BODY + rows
                // Floats whose shortest text has an exponent.
                + "INSERT INTO floats SELECT (CASE g / 2 % 3 WHEN 0 THEN g / 2 * 1e20 WHEN 1 THEN g / 2 / 7.0 ELSE -(g / 2) END)::float8,"
                + " (CASE g % 2 WHEN 0 THEN 1.5e-7 ELSE 3.0e30 END)::real, g, 1, " + BODY + rows;
    }

    private void setUp(Path dir, int chunkRows, String v2Extra) throws Exception {
        pg.execute(v1, V1 + insert(0, ROWS - 1));
        StringBuilder v2Sql = new StringBuilder(V1 + """
                CREATE TABLE inserted (tbl text NOT NULL, g int NOT NULL, app text);
                CREATE TABLE regressions (tbl text NOT NULL, g int NOT NULL, old_version int, new_version int);
                CREATE FUNCTION watch() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN
                    INSERT INTO inserted VALUES (TG_TABLE_NAME, NEW.g, current_setting('application_name'));
                  ELSIF NEW.version < OLD.version THEN
                    INSERT INTO regressions VALUES (TG_TABLE_NAME, NEW.g, OLD.version, NEW.version);
                  END IF;
                  RETURN NULL;
                END $$;
                """ + v2Extra);
        StringBuilder tables = new StringBuilder();
        List<String> triggers = new java.util.ArrayList<>();
        for (List<String> table : TABLES) {
            String name = table.get(0);
            v2Sql.append("CREATE TRIGGER watch AFTER INSERT OR UPDATE ON ").append(name).append(" FOR EACH ROW EXECUTE FUNCTION watch();\n");
            triggers.add(name + ".watch");
            if (v2Extra.contains("slow_copy")) {
                v2Sql.append("CREATE TRIGGER slow_copy AFTER INSERT ON ").append(name).append(" FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();\n");
                triggers.add(name + ".slow_copy");
            }
            tables.append("  ").append(name).append(":\n    columns:\n");
            for (String column : columns(table)) {
                tables.append("      ").append(column).append(": { from: ").append(column).append(" }\n");
            }
        }
        pg.execute(v2, v2Sql.toString());
        migration.writeSpec(dir, "", "triggers: [" + String.join(", ", triggers) + "]", "partitions: 3", """
                backfill: { mode: copy, chunkRows: %d, parallelism: 3 }
                tables:
                """.formatted(chunkRows) + tables);
    }

    private static List<String> columns(List<String> table) {
        List<String> columns = new java.util.ArrayList<>(table.subList(1, table.size()));
        columns.addAll(List.of("g", "version", "body"));
        return columns;
    }

    /** Each row as text: its key columns, g, version, the body's md5 and length. */
    private static String rowsOf(List<String> table) {
        String key = String.join(", ", table.subList(1, table.size()).stream().map(c -> c + "::text").toList());
        return "SELECT " + key + ", g, version, md5(body), octet_length(body) FROM " + table.get(0);
    }

    /** Every v2 table holds exactly its v1 table's rows; else names up to 10 missing and 10 extra rows of each. */
    private void assertSameRows() {
        for (List<String> table : TABLES) {
            List<List<String>> expected = pg.rows(v1, rowsOf(table));
            List<List<String>> actual = pg.rows(v2, rowsOf(table));
            Set<List<String>> missing = new LinkedHashSet<>(expected);
            actual.forEach(missing::remove);
            Set<List<String>> extra = new LinkedHashSet<>(actual);
            expected.forEach(extra::remove);
            assertThat(actual.size()).as("rows of v2 table %s", table.get(0)).isEqualTo(expected.size());
            assertThat(missing.size() + extra.size()).as("v2 table %s differs from v1: %d rows missing, e.g. %s; %d extra, e.g. %s",
                    table.get(0), missing.size(), missing.stream().limit(10).toList(), extra.size(), extra.stream().limit(10).toList()).isZero();
        }
    }

    private Set<String> tablesCopied() {
        if (pg.rows(v2, "SELECT to_regclass('migrator_state.backfill_chunks') IS NULL").get(0).get(0).equals("t")) {
            return Set.of();
        }
        return pg.rows(v2, "SELECT DISTINCT v1_table FROM migrator_state.backfill_chunks WHERE copied_at IS NOT NULL")
                .stream().map(r -> r.get(0)).collect(Collectors.toSet());
    }

    private double deadLettered() {
        return registry.find("migrator.transform.records").tag("outcome", "dead_lettered").counters().stream()
                .mapToDouble(c -> c.count()).sum();
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void keysOfAnyTypesAreCopiedInManyRangesAndLaterChangesFindTheCopiedImages(@TempDir Path dir) throws Exception {
        setUp(dir, 37, "");
        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
        assertSameRows();
        for (List<String> table : TABLES) {
            assertThat(pg.rows(v2, "SELECT count(*), count(copied_at), count(*) FILTER (WHERE after_key IS NOT NULL AND up_to_key IS NOT NULL)"
                    + " FROM migrator_state.backfill_chunks WHERE v1_table = '" + table.get(0) + "'"))
                    .as("chunks of %s: planned, copied, with both bounds", table.get(0))
                    .isEqualTo(List.of(List.of(String.valueOf(ROWS / 37 + 1), String.valueOf(ROWS / 37 + 1), String.valueOf(ROWS / 37 - 1))));
            assertThat(pg.rows(v2, "SELECT count(*), count(DISTINCT g), min(app), max(app) FROM inserted WHERE tbl = '" + table.get(0) + "'"))
                    .as("rows of %s the copy inserted, each once", table.get(0))
                    .isEqualTo(List.of(List.of(String.valueOf(ROWS), String.valueOf(ROWS), "migrator-backfill-copy", "migrator-backfill-copy")));
        }
        // A bound of the composite key falls inside an id's run of rows (8 rows per id, 37 rows per chunk).
        assertThat(pg.rows(v2, "SELECT count(*) FROM migrator_state.backfill_chunks WHERE v1_table = 'events'"
                + " AND up_to_key[2]::timestamptz <> timestamptz '2024-01-01 00:00:07.000007+00'").get(0).get(0)).isNotEqualTo("0");
        assertThat(registry.find("migrator.sink.rows.applied").counters().stream().mapToDouble(c -> c.count()).sum())
                .as("rows the sink applied during the copy").isZero();

        StringBuilder changes = new StringBuilder();
        for (List<String> table : TABLES) {
            changes.append("UPDATE ").append(table.get(0)).append(" SET version = version + 1").append(" WHERE g % 50 = 0 OR g % 7 = 0").append(";\n")
                    .append("DELETE FROM ").append(table.get(0)).append(" WHERE g % 11 = 0").append(";\n");
        }
        pg.execute(v1, changes + insert(ROWS, ROWS + 99));
        migration.awaitAsserted(Duration.ofMinutes(1), this::assertSameRows);
        assertThat(pg.rows(v1, "SELECT count(*) FROM events WHERE version = 2 AND octet_length(body) > 10000").get(0).get(0))
                .as("updated rows with a TOASTed body").isNotEqualTo("0");
        assertThat(pg.rows(v2, "SELECT count(*) FROM regressions")).isEqualTo(List.of(List.of("0")));
        assertThat(deadLettered()).as("changes dead-lettered (a TOASTed value without its image)").isZero();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aCopyStoppedInTheMiddleResumesWithoutARowGoingBackAppearingTwiceOrAppearingFromNothing(@TempDir Path dir) throws Exception {
        // Each COPY of the backfill takes at least 0.2 s, so that the stop lands in the middle.
        setUp(dir, 100, """
                CREATE FUNCTION slow_copy() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF current_setting('application_name') = 'migrator-backfill-copy' THEN PERFORM pg_sleep(0.2); END IF;
                  RETURN NULL;
                END $$;
                """);
        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return !tablesCopied().isEmpty();
        });
        migration.stop();
        Set<String> copiedBefore = tablesCopied();
        assertThat(copiedBefore).as("tables copied before the stop").hasSizeBetween(1, TABLES.size() - 1);
        List<List<String>> doneBefore = pg.rows(v2, "SELECT v1_table, chunk, copied_at::text FROM migrator_state.backfill_chunks"
                + " WHERE copied_at IS NOT NULL ORDER BY 1, 2");
        assertThat(pg.rows(v2, "SELECT count(*) FROM inserted WHERE tbl NOT IN ('" + String.join("', '", copiedBefore) + "')"))
                .as("rows of tables not copied yet: their chunks commit together").isEqualTo(List.of(List.of("0")));

        // While it is stopped: every row of some updated twice (a replay of the first over the second would lower
        // its version), deletes, rows inserted then deleted (a replay would make them appear in v2), and new rows.
        StringBuilder changes = new StringBuilder();
        for (List<String> table : TABLES) {
            String name = table.get(0);
            changes.append("UPDATE ").append(name).append(" SET version = version + 1").append(" WHERE g % 13 = 0").append(";\n")
                    .append("UPDATE ").append(name).append(" SET version = version + 1").append(" WHERE g % 13 = 0").append(";\n")
                    .append("DELETE FROM ").append(name).append(" WHERE g % 17 = 0").append(";\n");
        }
        pg.execute(v1, changes + insert(500_000, 500_049)
                + TABLES.stream().map(t -> "DELETE FROM " + t.get(0) + " WHERE g >= 500000" + ";\n").collect(Collectors.joining())
                + insert(ROWS, ROWS + 99));

        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
        // Streamed after the resumed copy: more changes of rows of both kinds of tables.
        pg.execute(v1, TABLES.stream().map(t -> "UPDATE " + t.get(0) + " SET version = version + 1" + " WHERE g % 19 = 0" + ";\n")
                .collect(Collectors.joining()));
        migration.awaitAsserted(Duration.ofMinutes(1), this::assertSameRows);
        assertThat(pg.rows(v2, "SELECT v1_table, chunk, copied_at::text FROM migrator_state.backfill_chunks"
                + " WHERE snapshot_xmin IS NULL ORDER BY 1, 2")).as("the chunks copied before the stop, untouched").isEqualTo(doneBefore);
        assertThat(pg.rows(v2, "SELECT DISTINCT v1_table FROM migrator_state.backfill_chunks WHERE snapshot_xmin IS NOT NULL")
                .stream().map(r -> r.get(0)).collect(Collectors.toSet()))
                .as("tables copied from the resumed run's snapshot").isEqualTo(TABLES.stream().map(t -> t.get(0))
                        .filter(t -> !copiedBefore.contains(t)).collect(Collectors.toSet()));
        assertThat(pg.rows(v2, "SELECT tbl, g, count(*) FROM inserted GROUP BY tbl, g HAVING count(*) > 1")).as("rows inserted twice").isEmpty();
        // The recopied tables' snapshot saw the phantoms come and go: the streamed changes that made them are skipped.
        // (In the tables copied before the stop they are streamed in and out, as they were on v1.)
        assertThat(pg.rows(v2, "SELECT tbl, g FROM inserted WHERE g >= 500000 AND tbl NOT IN ('" + String.join("', '", copiedBefore) + "')"))
                .as("phantoms in the recopied tables").isEmpty();
        assertThat(pg.rows(v2, "SELECT * FROM regressions")).as("rows gone back in time").isEmpty();
        assertThat(deadLettered()).isZero();
    }
}
