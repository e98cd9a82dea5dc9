package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.testkit.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code migrator verify} after a real pipeline run, over every column type the examples and the type conversions use:
 * verify reads v1 over JDBC, the pipeline through Debezium, so they agree only if verify's read gives the mapping
 * exactly the values capture's events carry. v2 holds each value as text (the wire value itself, as the sink writes
 * it), in the v1 type where one fits, and the whole row as expressions see it; rows arrive by snapshot and by
 * streaming, and their kinds of value (number, text, list) show in that last column.
 */
class VerifyCommandIT {

    private static final String TYPES = """
            b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, n2 numeric(10,2), m money, t text,
            vc varchar(10), c char(5), d date, ts timestamp, ts0 timestamp(0), ts3 timestamp(3), tz timestamptz,
            tz0 timestamptz(0), tz3 timestamptz(3), tm time, tm0 time(0), ttz timetz, iv interval, by bytea, u uuid,
            j json, jb jsonb, e mood, ip inet, x xml, ia int[], ta text[]""";
    /** Copied into v2 columns of the same type too. */
    private static final List<String> TYPED = List.of("b", "i8", "f8", "n2", "t", "c", "d", "ts", "tz", "tz3", "tm", "ttz",
            "iv", "by", "u", "j", "jb", "e", "ip");
    private static final String VALUES = """
            (%d, true, 1, 2, 3000000000, 0.1, 0.1, 1.50, 1.5, 12.5, 'a''b"c', 'x', 'ab', '2024-03-01',
             '2024-03-01 12:34:56', '2024-03-01 12:34:56.7', '2024-03-01 12:34:56.789', '2024-03-01 12:34:56+02',
             '2024-03-01 12:34:56.6+02', '2024-03-01 12:34:56.12+02', '12:34:56.5', '12:34:56', '12:34:56.123+05:30',
             '1 year 2 mons 3 days 04:05:06.789', '\\x00ff', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
             '{"b":1, "a" : [1,2]}', '{"b":1, "a" : [1,2.50], "c": {"d": null}}', 'sad', '10.0.0.1/8', '<a>x</a>',
             '{1,2}', '{a,"b c"}'),
            (%d, false, -1, -2, -3, 3.4028235e38, 123456789.123456789, 0.0000000001, -0.5, -1, '', 'é', 'a', '0001-01-01',
             '1970-01-01 00:00:00', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.999', '1970-01-01 00:00:00+00',
             '2024-03-01 12:34:56.5+00', '2024-03-01 12:34:56.1+00', '00:00:00', '23:59:59', '00:00:00+00',
             '-1 year -2 mons +3 days -04:05:06.000001', '\\x', '00000000-0000-0000-0000-000000000000', 'null', '[]',
             'happy', '::1', '', '{}', '{}'),
            (%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""";
    /** NaN and the infinities, which expressions cannot take as JSON. */
    private static final String SPECIALS = """
            (%d, 'NaN', 'Infinity', 'NaN', 'Infinity', 'infinity'), (%d, '-Infinity', '-Infinity', 12.5, '-Infinity', '-infinity'),
            (%d, 1.17549435e-38, 1e-300, -0.0, 'NaN', '2024-01-01 00:00:00.5+00')""";

    @RegisterExtension
    final Migration migration = new Migration("verify_cmd");
    private final PostgresServer pg = migration.pg();

    @Test
    void verifyAgreesWithThePipelineOnEveryTypeThenNamesTheValueThatDiffers(@TempDir Path dir) throws Exception {
        String v1 = migration.v1();
        String v2 = migration.v2();
        Map<String, String> columns = new LinkedHashMap<>();
        for (String column : TYPES.replaceAll("\\s+", " ").strip().split(", ")) {
            columns.put(column.substring(0, column.indexOf(' ')), column.substring(column.indexOf(' ') + 1));
        }
        pg.execute(v1, "CREATE TYPE mood AS ENUM ('happy', 'sad');"
                + "CREATE TABLE wire (id int PRIMARY KEY, " + TYPES + ");"
                + "CREATE TABLE specials (id int PRIMARY KEY, f4 float4, f8 float8, n numeric, ni numeric, tz timestamptz);"
                + "INSERT INTO wire VALUES " + VALUES.formatted(1, 2, 3) + ";"
                + "INSERT INTO specials VALUES " + SPECIALS.formatted(1, 2, 3));
        StringBuilder v2Wire = new StringBuilder("CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE TABLE wire (id int PRIMARY KEY, everything jsonb");
        StringBuilder spec = new StringBuilder("""
                  wire:
                    columns:
                      id: { from: id }
                      everything: { expr: "row" }
                """);
        for (String column : columns.keySet()) {
            v2Wire.append(", ").append(column).append("_text text");
            spec.append("      ").append(column).append("_text: { from: ").append(column).append(" }\n");
            if (TYPED.contains(column)) {
                v2Wire.append(", ").append(column).append(' ').append(columns.get(column));
                spec.append("      ").append(column).append(": { from: ").append(column).append(" }\n");
            }
        }
        pg.execute(v2, v2Wire + ");" + """
                CREATE TABLE specials (id int PRIMARY KEY, f4 float4, f8 float8, n numeric, tz timestamptz,
                                       f4_text text, f8_text text, n_text text, ni_text text, tz_text text);
                """);
        spec.append("""
                  specials:
                    columns:
                      id: { from: id }
                      f4: { from: f4 }
                      f8: { from: f8 }
                      n: { from: n }
                      tz: { from: tz }
                      f4_text: { from: f4 }
                      f8_text: { from: f8 }
                      n_text: { from: n }
                      ni_text: { from: ni }
                      tz_text: { from: tz }
                """);
        Path specFile = migration.writeSpec(dir, "", "tables:\n" + spec);
        migration.start();

        awaitRows(v2, 3, 3);
        // Streamed this time: the same values, and an update.
        pg.execute(v1, "INSERT INTO wire VALUES " + VALUES.formatted(4, 5, 6) + "; INSERT INTO specials VALUES " + SPECIALS.formatted(4, 5, 6)
                + "; UPDATE wire SET tz = tz + interval '1 microsecond', t = 'changed' WHERE id = 1");
        awaitRows(v2, 6, 6);
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200))
                .until(() -> pg.rows(v2, "SELECT t FROM wire WHERE id = 1").equals(List.of(List.of("changed"))));

        CliRun clean = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(clean.exit()).as("%s", clean).isZero();
        assertThat(clean.lines()).containsExactly(
                "specials <- specials: 6 rows in v1, 6 in v2, 1 range: identical",
                "wire <- wire: 6 rows in v1, 6 in v2, 1 range: identical",
                "verify: every table matches");

        // The wire text exactly, not just the same value: a timestamp that parses alike but reads otherwise differs.
        pg.execute(v2, "UPDATE wire SET tz_text = '2024-03-01T10:34:56Z' WHERE id = 4");
        CliRun changed = CliRun.of("verify", "--spec", specFile.toString(), "--tables", "wire", "--json");
        assertThat(changed.exit()).as("%s", changed).isEqualTo(ExitCodes.DIFFERENCES);
        JsonNode result = Json.MAPPER.readTree(changed.out());
        assertThat(result.get("matches").asBoolean()).isFalse();
        assertThat(result.get("tables")).hasSize(1);
        JsonNode wire = result.get("tables").get(0);
        assertThat(wire.get("v2Table").asText()).isEqualTo("wire");
        assertThat(wire.get("different").toString()).isEqualTo("[\"id=4 [tz_text]\"]");
        assertThat(wire.get("differentRows").asLong()).isEqualTo(1);
        assertThat(wire.get("missingRows").asLong() + wire.get("extraRows").asLong() + wire.get("rejectedRows").asLong()).isZero();

        CliRun text = CliRun.of("verify", "--spec", specFile.toString(), "--parallelism", "1");
        assertThat(text.exit()).as("%s", text).isEqualTo(ExitCodes.DIFFERENCES);
        assertThat(text.lines()).containsExactly(
                "specials <- specials: 6 rows in v1, 6 in v2, 1 range: identical",
                "wire <- wire: 6 rows in v1, 6 in v2, 1 range: 0 missing, 0 extra, 1 different, 0 rejected (in 1 range)",
                "  different:     id=4 [tz_text]",
                "verify: 1 of 2 tables differ");

        CliRun unknown = CliRun.of("verify", "--spec", specFile.toString(), "--tables", "wire,nope");
        assertThat(unknown.exit()).as("%s", unknown).isEqualTo(2);
        assertThat(unknown.err()).contains("the spec maps no table nope (v1 tables: specials, wire; v2 tables: specials, wire)");
    }

    private void awaitRows(String v2, int wire, int specials) {
        migration.awaitAsserted(Duration.ofMinutes(2), () ->
                assertThat(pg.rows(v2, "SELECT (SELECT count(*) FROM wire), (SELECT count(*) FROM specials)"))
                        .containsExactly(List.of(String.valueOf(wire), String.valueOf(specials))));
    }
}
