package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.Ports;
import dev.cdcmigrator.testkit.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code migrator check}: its output lines, summary and exit code. */
class CheckCommandIT {

    private final PostgresServer pg = TestPostgres.shared();
    private final String prefix = "chk_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    private String v1Db;
    private String v2Db;
    private Path specFile;

    @BeforeEach
    void setUp(@TempDir Path dir) throws IOException {
        v1Db = pg.createDatabase("check_v1");
        v2Db = pg.createDatabase("check_v2");
        pg.execute(v1Db, """
                CREATE TABLE users (id bigint PRIMARY KEY, name varchar(100));
                CREATE TABLE tasks (id int PRIMARY KEY, timeout int, params jsonb);
                """);
        pg.execute(v2Db, """
                CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name varchar(100));
                CREATE TABLE tasks (id bigint PRIMARY KEY, timeout_seconds int, parameters jsonb);
                """);
        specFile = dir.resolve("spec.yaml");
        Files.writeString(specFile, """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { topicPrefix: %s }
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                  tasks:
                    columns:
                      id: { from: id }
                      timeout_seconds: { from: timeout }
                      parameters: { from: params }
                """.formatted(pg.jdbcUrl(v1Db), pg.user(), pg.password(), pg.jdbcUrl(v2Db), pg.user(), pg.password(),
                prefix));
    }

    @Test
    void warningsAloneExitZero() {
        pg.execute(v1Db, "ALTER TABLE tasks ADD COLUMN notes text");

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isZero();
        // tasks.notes is neither mapped nor dropped: the one warning.
        assertThat(result.lines()).contains("WARNING v1 public.tasks: column notes is not carried to v2: no mapping reads"
                + " it and tables.tasks.drop does not list it; fix: map it, or list it in tables.tasks.drop");
        // tasks.params is jsonb under REPLICA IDENTITY DEFAULT: named, and nothing to do.
        assertThat(result.lines()).contains("OK      v1 public.tasks: primary key (id) keys its changes; "
                + "REPLICA IDENTITY DEFAULT with toastable columns params: an UPDATE that leaves a TOASTed value unchanged "
                + "does not carry it, and the transform fills it in from the row's previous image; with none (a row not"
                + " seen since the migration started, as on the way back) a plain copy of it is left as the target has"
                + " it, and a value computed from it is a dead letter");
        assertThat(result.lines()).anyMatch(l -> l.startsWith("OK      source: connected to " + pg.jdbcUrl(v1Db)));
        assertThat(result.lines()).contains("OK      source: wal_level is logical");
        // The two others: the test cluster's superuser is the spec's user on both sides.
        assertThat(result.lines()).anyMatch(l -> l.startsWith("WARNING source: user " + pg.user() + " is a superuser"))
                .anyMatch(l -> l.startsWith("WARNING target: user " + pg.user() + " is a superuser"));
        assertThat(result.lines().get(result.lines().size() - 1))
                .matches("check: 0 errors, 3 warnings, [0-9]+ ok: ready; read the warnings");
        assertThat(result.lines()).allMatch(l -> l.matches("(OK {6}|WARNING |ERROR {3}).*") || l.startsWith("check: "));
        assertThat(result.err()).isEmpty();
    }

    @Test
    void anErrorPrintsItsLineWithTheFixAndExitsOne() {
        pg.execute(v1Db, "ALTER TABLE tasks RENAME COLUMN timeout TO timeout_ms");

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(1);
        assertThat(result.lines()).contains("ERROR   v1 public.tasks.timeout: column does not exist "
                + "(spec tables.tasks.columns.timeout_seconds.from); fix: correct the spec or add the column");
        assertThat(result.lines().get(result.lines().size() - 1))
                .matches("check: 1 error, 3 warnings, [0-9]+ ok: fix every ERROR before migrator run");
    }

    @Test
    void anExpressionIsTypeCheckedAgainstTheV1ColumnsItReads() throws Exception {
        Files.writeString(specFile, Files.readString(specFile)
                .replace("display_name: { from: name }", "display_name: { expr: \"row.name + 1\" }")
                .replace("timeout_seconds: { from: timeout }", "timeout_seconds: { expr: \"row.timout * 60\" }"));

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(result.lines()).anySatisfy(line -> assertThat(line).startsWith("ERROR   spec tables.users.columns.display_name.expr:"
                + " the expression does not type-check against the columns of v1 table users: ").contains("'_+_'")
                .contains("(string, int)"));
        assertThat(result.lines()).anySatisfy(line -> assertThat(line).startsWith("ERROR   spec tables.tasks.columns.timeout_seconds.expr:"
                + " the expression does not type-check against the columns of v1 table tasks: ").contains("timout"));
        assertThat(result.lines()).as("the certain error replaces the approximate warning").noneMatch(l -> l.startsWith("WARNING v1 public.tasks.timout"));
    }

    @Test
    void whatAnExpressionOrConstantGivesIsCheckedAgainstTheV2ColumnItFills() throws Exception {
        pg.execute(v2Db, """
                CREATE TYPE task_state AS ENUM ('open', 'done');
                ALTER TABLE tasks ADD COLUMN state task_state, ADD COLUMN urgent boolean, ADD COLUMN note text;
                """);
        Files.writeString(specFile, Files.readString(specFile)
                .replace("timeout_seconds: { from: timeout }", "timeout_seconds: { expr: \"double(row.timeout) * 1.5\" }")
                .replace("parameters: { from: params }", """
                        parameters: { expr: "{'timeout': row.timeout}" }
                              state: { value: sleeping }
                              urgent: { expr: "row.timeout" }
                              note: { expr: "row.timeout > 10" }"""));

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(result.lines()).contains("ERROR   v2 public.tasks.timeout_seconds: never takes what spec"
                + " tables.tasks.columns.timeout_seconds.expr gives: integer takes no fractions, and a double is written"
                + " with one (2.0): convert with int() (every row would be dead-lettered); fix: correct"
                + " tables.tasks.columns.timeout_seconds.expr, or change the v2 column's type (integer)");
        assertThat(result.lines()).contains("ERROR   v2 public.tasks.state: v2 refuses the constant of spec"
                + " tables.tasks.columns.state.value: invalid input value for enum task_state: \"sleeping\"; fix: correct"
                + " tables.tasks.columns.state.value, or change the v2 column");
        assertThat(result.lines()).contains("WARNING v2 public.tasks.urgent: may refuse what spec"
                + " tables.tasks.columns.urgent.expr gives: of the ints, only 0 and 1 are booleans; fix: make sure every"
                + " value fits, or convert it in tables.tasks.columns.urgent.expr");
        assertThat(result.lines()).as("a map into jsonb and a bool into text fit")
                .noneMatch(l -> l.contains("public.tasks.parameters:") || l.contains("public.tasks.note:"));
        assertThat(result.lines().get(result.lines().size() - 1)).startsWith("check: 2 errors, ");
    }

    @Test
    void anUnreachableKafkaIsAnErrorNamingTheSettingAndTheAddress() throws Exception {
        int port = Ports.free();
        Files.writeString(specFile, Files.readString(specFile).replace("kafka: { topicPrefix:",
                "kafka: { bootstrap: \"127.0.0.1:" + port + "\", topicPrefix:"));

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(result.lines()).anySatisfy(line -> assertThat(line).startsWith("ERROR   kafka: kafka.bootstrap: cannot use"
                + " Kafka at 127.0.0.1:" + port + ": no broker accepts connections (127.0.0.1:" + port + ": Connection refused")
                .contains("; fix: check kafka.bootstrap and kafka.client (security.protocol, sasl.*, ssl.*) in the spec"));
    }

    @Test
    void aReachableKafkaIsReportedWithItsCluster() throws Exception {
        Files.writeString(specFile, Files.readString(specFile).replace("kafka: { topicPrefix:",
                "kafka: { bootstrap: \"" + dev.cdcmigrator.testkit.TestKafka.bootstrapServers() + "\", topicPrefix:"));

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.lines()).anySatisfy(line -> assertThat(line).matches("OK      kafka: connected to Kafka at "
                + java.util.regex.Pattern.quote(dev.cdcmigrator.testkit.TestKafka.bootstrapServers())
                + " with the spec's kafka.client settings \\(cluster \\S+, 1 brokers\\)"));
    }

    @Test
    void runWithoutItsChecksStillFailsWithinSecondsOnAnUnreachableKafka() throws Exception {
        int port = Ports.free();
        Files.writeString(specFile, Files.readString(specFile).replace("kafka: { topicPrefix:",
                "kafka: { bootstrap: \"127.0.0.1:" + port + "\", topicPrefix:"));
        long started = System.nanoTime();

        CliRun result = CliRun.of("run", "--no-check", "--http-port", "0", "--spec", specFile.toString(),
                "--data-dir", specFile.getParent().resolve("data").toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(result.err().lines().filter(l -> l.startsWith("migrator: ")).toList()).singleElement().asString()
                .startsWith("migrator: kafka.bootstrap: cannot use Kafka at 127.0.0.1:" + port + ": no broker accepts connections");
        // The probe gives up on a refused connection at once, not after the clients' minute of retries.
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - started)).isLessThan(java.time.Duration.ofSeconds(30));
    }


    @Test
    void runRunsTheSameChecksFirstAndDoesNotStartOnAnError() throws Exception {
        pg.execute(v1Db, "ALTER TABLE tasks RENAME COLUMN timeout TO timeout_ms");

        CliRun result = CliRun.of("run", "--spec", specFile.toString(), "--data-dir", specFile.getParent().resolve("data").toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(1);
        assertThat(result.err().lines()).contains("ERROR   v1 public.tasks.timeout: column does not exist "
                + "(spec tables.tasks.columns.timeout_seconds.from); fix: correct the spec or add the column");
        assertThat(result.err()).contains("run: not started; fix every ERROR above");
        assertThat(Files.exists(specFile.getParent().resolve("data"))).as("nothing started, nothing written").isFalse();
        try (var c = java.sql.DriverManager.getConnection(pg.jdbcUrl(v1Db), pg.user(), pg.password());
             var rs = c.createStatement().executeQuery("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + prefix + "'")) {
            rs.next();
            assertThat(rs.getInt(1)).as("no replication slot created").isZero();
        }
    }

    @Test
    void anInvalidSpecIsAUsageErrorNamingThePath() throws IOException {
        Files.writeString(specFile, Files.readString(specFile).replace("{ from: timeout }", "{ form: timeout }"));

        CliRun result = CliRun.of("check", "--spec", specFile.toString());

        assertThat(result.exit()).as(result.toString()).isEqualTo(2);
        assertThat(result.out()).isEmpty();
        assertThat(result.err()).contains("tables.tasks.columns.timeout_seconds.form");
    }
}
