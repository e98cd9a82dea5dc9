package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The migrator as a role that is no superuser and owns none of the v1 tables (the application's role does), with only
 * REPLICATION and SELECT on v1: {@code check} says what the tables' owner must do, and once the owner did exactly
 * that, {@code check} is clean and {@code run} migrates (check and run agree). Also with a schema and table whose names
 * need quoting everywhere, so that every statement {@code check} hands the owner is one PostgreSQL runs as it is.
 */
class LeastPrivilegeIT {

    private final PostgresServer pg = TestPostgres.shared();
    private final String id = UUID.randomUUID().toString().replace("-", "").substring(0, 8);
    private final String owner = "app_" + id;
    private final String migrator = "migrator_" + id;
    private String v1;
    private String v2;
    private Path specFile;
    private Pipeline pipeline;

    private String items;

    private void roles(Path dir, String schema, String table) throws Exception {
        v1 = pg.createDatabase("lp_v1");
        v2 = pg.createDatabase("lp_v2");
        String shop = SqlText.quote(schema);
        items = shop + "." + SqlText.quote(table);
        pg.execute(v1, """
                CREATE ROLE %1$s NOLOGIN;
                CREATE ROLE %2$s LOGIN REPLICATION PASSWORD 'secret';
                GRANT CREATE ON DATABASE %3$s TO %1$s;
                CREATE SCHEMA %4$s AUTHORIZATION %1$s;
                SET ROLE %1$s;
                CREATE TABLE %5$s (id bigint PRIMARY KEY, name text NOT NULL);
                INSERT INTO %5$s SELECT g, 'item ' || g FROM generate_series(1, 20) g;
                GRANT USAGE ON SCHEMA %4$s TO %2$s;
                GRANT SELECT ON %5$s TO %2$s;
                RESET ROLE;
                """.formatted(owner, migrator, v1, shop, items));
        // v2 as the ForeignKeysIT role: it owns the v2 tables (it suspends their triggers) and may create its state schema.
        pg.execute(v2, """
                GRANT CREATE ON DATABASE %2$s TO %1$s;
                CREATE SCHEMA app AUTHORIZATION %1$s;
                SET ROLE %1$s;
                CREATE TABLE app.items (id bigint PRIMARY KEY, name text NOT NULL);
                RESET ROLE;
                """.formatted(migrator, v2));
        specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: %s, password: secret, schema: '%s' }
                target: { url: "%s", user: %s, password: secret, schema: app }
                kafka: { bootstrap: "%s", topicPrefix: lp_%s }
                tables:
                  '%s': { into: items, columns: { id: { from: id }, name: { from: name } } }
                """.formatted(pg.jdbcUrl(v1), migrator, schema.replace("'", "''"), pg.jdbcUrl(v2), migrator,
                TestKafka.bootstrapServers(), id, table.replace("'", "''")));
    }

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    static List<Arguments> names() {
        return List.of(Arguments.of("shop", "items"), Arguments.of("Shop Floor", "x\"; DROP TABLE y; --'"));
    }

    @ParameterizedTest(name = "{0}.{1}")
    @MethodSource("names")
    void whatCheckAsksOfTheOwnerIsEnoughForRun(String schema, String table, @TempDir Path dir) throws Exception {
        roles(dir, schema, table);
        CliRun first = CliRun.of("check", "--spec", specFile.toString());

        assertThat(first.exit()).as(first.toString()).isEqualTo(ExitCodes.FAILED);
        String heartbeat = fix(first, "may not create capture's heartbeat table", ", or create it: ");
        String publication = fix(first, "does not exist, and user " + migrator + " may not create it",
                ", or have the tables' owner (with CREATE on database " + v1 + ") run ");
        // What an operator would do: hand the owner's part of each fix to the tables' owner, as it is.
        pg.execute(v1, "SET ROLE " + owner + "; " + heartbeat + "; " + publication + "; RESET ROLE");

        CliRun second = CliRun.of("check", "--spec", specFile.toString());
        assertThat(second.exit()).as(second.toString()).isZero();
        assertThat(second.lines()).noneMatch(l -> l.startsWith("ERROR")).noneMatch(l -> l.contains("is a superuser"));

        Spec spec = new SpecParser().parse(Files.readString(specFile), specFile.toString());
        pipeline = Pipeline.start(spec, specFile.getParent().resolve("data"), 0, new SimpleMeterRegistry());
        awaitV2EqualsV1("the snapshot");
        pg.execute(v1, "SET ROLE " + owner + "; INSERT INTO " + items + " VALUES (21, 'streamed');"
                + " UPDATE " + items + " SET name = 'renamed' WHERE id = 1; DELETE FROM " + items + " WHERE id = 2; RESET ROLE");
        awaitV2EqualsV1("the streamed changes");
        assertThat(pg.rows(v2, "SELECT name FROM app.items WHERE id IN (1, 21) ORDER BY id"))
                .containsExactly(List.of("renamed"), List.of("streamed"));
    }

    /** The part of the fix of the ERROR line that contains {@code finding} after {@code marker}. */
    private static String fix(CliRun check, String finding, String marker) {
        String line = check.lines().stream().filter(l -> l.startsWith("ERROR") && l.contains(finding)).findFirst()
                .orElseThrow(() -> new AssertionError("no ERROR with '" + finding + "' in\n" + check));
        String fix = line.substring(line.indexOf("; fix: ") + "; fix: ".length());
        assertThat(fix).as(line).contains(marker);
        return fix.substring(fix.indexOf(marker) + marker.length());
    }

    private void awaitV2EqualsV1(String what) {
        await(what).atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, "SELECT id, name FROM app.items ORDER BY id")).isEqualTo(pg.rows(v1, "SELECT id, name FROM " + items + " ORDER BY id"));
        });
    }
}
