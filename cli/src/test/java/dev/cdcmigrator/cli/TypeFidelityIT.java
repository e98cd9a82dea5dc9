package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Type fidelity (issue 5): every PostgreSQL type the issue lists, copied into a v2 column of the same type, arrives with
 * the same value, whether the backfill (Debezium's snapshot or the copy) read it or it was streamed (inserted, then
 * updated). Compared as PostgreSQL's own text output of each column on both sides.
 */
class TypeFidelityIT {

    /** Column name and type, the same on v1 and v2. */
    private static final List<String[]> COLUMNS = List.of(
            new String[] {"n_free", "numeric"}, new String[] {"n_scaled", "numeric(20,6)"}, new String[] {"n_nan", "numeric"},
            new String[] {"money_", "money"},
            new String[] {"i2", "smallint"}, new String[] {"i4", "integer"}, new String[] {"i8", "bigint"},
            new String[] {"f4", "real"}, new String[] {"f8", "double precision"},
            new String[] {"bytes", "bytea"}, new String[] {"flag", "boolean"}, new String[] {"uid", "uuid"},
            new String[] {"d", "date"}, new String[] {"d_edge", "date"}, new String[] {"t", "time"}, new String[] {"ttz", "timetz"},
            new String[] {"ts", "timestamp"}, new String[] {"tstz", "timestamptz"}, new String[] {"span", "interval"},
            new String[] {"jb", "jsonb"}, new String[] {"js", "json"},
            new String[] {"ints", "integer[]"}, new String[] {"grid", "integer[][]"}, new String[] {"words", "text[]"},
            new String[] {"feeling", "mood"}, new String[] {"positive", "positive_int"},
            new String[] {"addr", "inet"}, new String[] {"net", "cidr"});

    /** Rows of values, one per row, in COLUMNS order (SQL literals). */
    private static final List<String> ROWS = List.of(
            "12345678901234567890.123456789012345, 1234.5, 'NaN', 1234.56, -32768, 2147483647, -9223372036854775808,"
                    + " 'NaN', 'Infinity', '\\x00ff10', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
                    + " '0044-03-15 BC', 'infinity', '23:59:59.999999', '12:34:56.000001+05:30', '2024-02-29 23:59:59.999999',"
                    + " '2024-03-01 12:34:56.000001+00', '1 year 2 mons 3 days 04:05:06.000007',"
                    + " '{\"b\": [1, 2.50, {\"c\": null}], \"a\": \"x\\\"y\"}', '{\"keep\":  \"spacing\", \"keep\": 2}',"
                    + " '{1,NULL,3}', '{{1,2},{3,NULL}}', '{\"a b\",NULL,\"c,d\",\"\"}', 'happy', 7,"
                    + " '192.168.0.1/24', '10.0.0.0/8'",
            "-0.000001, 0, 12.5, -12.34, 0, 0, 0,"
                    + " '-Infinity', 'NaN', '\\x', false, '00000000-0000-0000-0000-000000000000',"
                    + " '2024-02-29', '-infinity', '00:00:00', '00:00:00-08', 'infinity',"
                    + " '-infinity', '-1 days -00:00:01', '[]', 'null', '{}', '{}', '{}', 'sad', 1,"
                    + " '::1', '2001:db8::/32'",
            "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
                    + " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL");

    private static final String TYPES = """
            CREATE TYPE mood AS ENUM ('happy', 'sad');
            CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
            """;

    @RegisterExtension
    final Migration migration = new Migration("fidelity");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();

    @ParameterizedTest(name = "backfill.mode {0}")
    @ValueSource(strings = {"debezium", "copy"})
    void everyTypeArrivesWithTheSameValueFromTheSnapshotAndFromTheStream(String mode, @TempDir Path dir) throws Exception {
        String columns = COLUMNS.stream().map(c -> c[0] + " " + c[1]).collect(Collectors.joining(", "));
        String table = TYPES + """
                CREATE TABLE fidelity (id int PRIMARY KEY, %s);
                CREATE TABLE big (id uuid PRIMARY KEY, body text, n int);
                CREATE TABLE pairs (a int, b text, v text, PRIMARY KEY (a, b));
                """.formatted(columns);
        pg.execute(v1, table);
        pg.execute(v2, table);
        for (int i = 0; i < ROWS.size(); i++) {
            pg.execute(v1, "INSERT INTO fidelity VALUES (" + (i + 1) + ", " + ROWS.get(i) + ")");
        }
        // A 10 MB text (TOASTed, compressed poorly on purpose) under a uuid key, and composite keys.
        pg.execute(v1, """
                INSERT INTO big SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', string_agg(md5(g::text), ''), 1
                                FROM generate_series(1, 327680) g;
                INSERT INTO pairs VALUES (1, 'x', 'one'), (1, 'y', 'two'), (2, 'x', 'three');
                """);

        migration.writeSpec(dir, "", """
                backfill: { mode: %s }
                tables:
                  fidelity:
                    columns:
                      id: { from: id }
                %s
                  big:
                    columns: { id: { from: id }, body: { from: body }, n: { from: n } }
                  pairs:
                    columns: { a: { from: a }, b: { from: b }, v: { from: v } }
                """.formatted(mode,
                COLUMNS.stream().map(c -> "      " + c[0] + ": { from: " + c[0] + " }").collect(Collectors.joining("\n"))));
        migration.start();
        awaitSame(3);

        // Streamed: the same values inserted again, then updated to the next row's values; an enum value added on
        // both sides mid-stream; the big row updated without touching its TOASTed body (the WAL does not carry it).
        for (int i = 0; i < ROWS.size(); i++) {
            pg.execute(v1, "INSERT INTO fidelity VALUES (" + (i + 11) + ", " + ROWS.get(i) + ")");
        }
        pg.execute(v1, "UPDATE fidelity f SET (" + COLUMNS.stream().map(c -> c[0]).collect(Collectors.joining(", ")) + ") = "
                + "(SELECT " + COLUMNS.stream().map(c -> "g." + c[0]).collect(Collectors.joining(", "))
                + " FROM fidelity g WHERE g.id = 1) WHERE f.id IN (12, 13)");
        pg.execute(v2, "ALTER TYPE mood ADD VALUE 'meh'");
        pg.execute(v1, "ALTER TYPE mood ADD VALUE 'meh'");
        pg.execute(v1, "INSERT INTO fidelity (id, feeling) VALUES (20, 'meh')");
        pg.execute(v1, """
                UPDATE big SET n = 2;
                UPDATE pairs SET v = 'changed' WHERE a = 1 AND b = 'y';
                UPDATE pairs SET b = 'z' WHERE a = 2;
                """);
        awaitSame(3 + 3 + 1);
        assertThat(pg.rows(v2, "SELECT n, length(body) FROM big")).containsExactly(List.of("2", "10485760"));
    }

    private void awaitSame(int rows) {
        // timetz arrives normalized to UTC (Debezium's ZonedTime keeps the time of day, not the offset): compared in UTC.
        String all = "SELECT id, " + COLUMNS.stream().map(c -> c[0].equals("ttz") ? "(ttz AT TIME ZONE 'UTC')::text" : c[0] + "::text")
                .collect(Collectors.joining(", ")) + " FROM fidelity ORDER BY id";
        String big = "SELECT id::text, md5(body), n FROM big";
        String pairs = "SELECT a, b, v FROM pairs ORDER BY a, b";
        migration.awaitAsserted(Duration.ofMinutes(2), () -> {
            assertThat(pg.rows(v2, "SELECT count(*) FROM fidelity")).containsExactly(List.of(String.valueOf(rows)));
            migration.assertTablesEqual(all, all);
            migration.assertTablesEqual(big, big);
            migration.assertTablesEqual(pairs, pairs);
        });
    }
}
