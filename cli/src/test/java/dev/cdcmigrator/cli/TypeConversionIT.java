package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conversions between v1 and v2 column types happen in PostgreSQL (the sink binds text, the v2 column's input function
 * parses it): text into enum, uuid, timestamptz, numeric and jsonb, and typed values back into text, without losing
 * precision.
 */
class TypeConversionIT {

    @RegisterExtension
    final Migration migration = new Migration("conv");
    private final PostgresServer pg = migration.pg();

    @Test
    void valuesConvertIntoTheV2TypesAndBackWithoutLoss(@TempDir Path dir) throws Exception {
        String v1 = migration.v1();
        String v2 = migration.v2();
        pg.execute(v1, """
                CREATE TYPE mood AS ENUM ('happy', 'sad');
                CREATE TABLE conv (id int PRIMARY KEY,
                    t_status text, t_uuid text, t_ts text, t_num text, t_json text,
                    e_mood mood, u uuid, ts timestamptz, n numeric, n_scaled numeric(30, 10), j jsonb);
                INSERT INTO conv VALUES
                  (1, 'completed', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2024-03-01 12:34:56.123456+02', '12345678901234567890.123456789012345',
                      '{"b": [1, 2.50], "a": null}',
                      'happy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-03-01 12:34:56.000001+00', 98765432109876543210.0123456789,
                      12345678901234567890.0123456789, '{"z": 1, "a": [true, "x"]}'),
                  (2, 'pending', '00000000-0000-0000-0000-000000000000', 'infinity', 'NaN', '[]',
                      'sad', NULL, '-infinity', 'NaN', 0.0000000001, 'null'),
                  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL, NULL, NULL);
                """);
        pg.execute(v2, """
                CREATE TYPE task_status AS ENUM ('pending', 'completed');
                CREATE TABLE conv (id int PRIMARY KEY,
                    status task_status, uid uuid, at timestamptz, amount numeric, doc jsonb,
                    mood_text text, u_text text, ts timestamptz, ts_text text, n numeric, n_text text, n_scaled numeric(30, 10), j jsonb, j_text text);
                """);
        migration.writeSpec(dir, "", """
                tables:
                  conv:
                    columns:
                      id: { from: id }
                      status: { from: t_status }
                      uid: { from: t_uuid }
                      at: { from: t_ts }
                      amount: { from: t_num }
                      doc: { from: t_json }
                      mood_text: { from: e_mood }
                      u_text: { from: u }
                      ts: { from: ts }
                      ts_text: { from: ts }
                      n: { from: n }
                      n_text: { from: n }
                      n_scaled: { from: n_scaled }
                      j: { from: j }
                      j_text: { from: j }
                """);
        migration.start();

        migration.awaitAsserted(Duration.ofMinutes(2), () ->
                assertThat(pg.rows(v2, "SELECT count(*) FROM conv")).containsExactly(List.of("3")));
        // Typed v2 values equal PostgreSQL's own cast of the v1 text; typed v1 values arrive unchanged.
        assertThat(pg.rows(v2, """
                SELECT id, status::text, uid::text, at::text, amount::text, doc::text, ts::text, n::text, n_scaled::text, j::text
                FROM conv ORDER BY id""")).isEqualTo(pg.rows(v1, """
                SELECT id, t_status, t_uuid::uuid::text, t_ts::timestamptz::text, t_num::numeric::text, t_json::jsonb::text,
                       ts::text, n::text, n_scaled::text, j::text
                FROM conv ORDER BY id"""));
        // Typed v1 values into v2 text columns: every digit and microsecond kept, in the form the change stream carries.
        assertThat(pg.rows(v2, "SELECT id, mood_text, u_text, ts_text, n_text, j_text FROM conv ORDER BY id")).containsExactly(
                List.of("1", "happy", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2024-03-01T12:34:56.000001Z",
                        "98765432109876543210.0123456789", "{\"a\": [true, \"x\"], \"z\": 1}"),
                // Debezium spells a numeric NaN "NAN"; a numeric column parses it, a text column keeps that spelling.
                List.of("2", "sad", "null", "-infinity", "NAN", "null"),
                List.of("3", "null", "null", "infinity", "null", "null"));
    }
}
