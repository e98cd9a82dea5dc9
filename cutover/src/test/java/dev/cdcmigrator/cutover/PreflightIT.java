package dev.cdcmigrator.cutover;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.Finding.Level;
import dev.cdcmigrator.embedded.LocalPostgres;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.Ports;
import dev.cdcmigrator.testkit.TestPostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preflight against a real PostgreSQL: each test starts from fresh v1 and v2 databases that pass every check, creates
 * one problem and asserts the finding that names it; the wal_level test uses a throwaway server of its own.
 */
class PreflightIT {

    private static final String GOOD_TABLES = """
              users:
                into: accounts
                columns:
                  account_id: { from: id }
                  display_name: { from: name }
                  score: { from: score }
                  seen: { from: seen }
              tasks:
                columns:
                  id: { from: id }
                  user_id: { from: user_id }
                  timeout_seconds: { from: timeout }
                  parameters: { from: params }
            """;

    private final PostgresServer pg = TestPostgres.shared();
    private final String prefix = "pf_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    private String v1Db;
    private String v2Db;

    @BeforeEach
    void createDatabases() throws SQLException {
        v1Db = pg.createDatabase("preflight_v1");
        v2Db = pg.createDatabase("preflight_v2");
        pg.execute(v1Db, """
                CREATE TABLE users (id bigint PRIMARY KEY, name varchar(100) NOT NULL, score numeric(8,2), seen timestamptz);
                CREATE TABLE tasks (id int PRIMARY KEY, user_id bigint NOT NULL, timeout int, params jsonb);
                ALTER TABLE tasks REPLICA IDENTITY FULL;
                """);
        pg.execute(v2Db, """
                CREATE SCHEMA app;
                CREATE TABLE app.accounts (account_id bigint PRIMARY KEY, display_name varchar(200) NOT NULL,
                                           score numeric(10,2), seen timestamptz,
                                           created_at timestamptz NOT NULL DEFAULT now());
                CREATE TABLE app.tasks (id bigint PRIMARY KEY, user_id bigint NOT NULL, timeout_seconds bigint,
                                        parameters jsonb);
                """);
    }

    @Test
    void walLevelOtherThanLogicalIsAnErrorWithTheFix(@TempDir Path dir) {
        try (LocalPostgres replicaOnly = LocalPostgres.start(dir.resolve("replica-only"))) {
            // postgresql.auto.conf (ALTER SYSTEM) wins over the settings LocalPostgres writes into postgresql.conf.
            executeOn(replicaOnly.jdbcUrl("postgres"), replicaOnly.user(), "ALTER SYSTEM SET wal_level = replica");
            replicaOnly.restart();
            createV1On(replicaOnly);

            List<Finding> findings = check(specWithV1On(replicaOnly, ""));

            assertThat(findings).as(render(findings)).contains(Finding.error("source", "wal_level is replica, but capture"
                    + " decodes the WAL logically and needs logical", "ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL"));
        }
    }

    @Test
    void unlimitedMaxSlotWalKeepSizeIsAWarningSayingWhatToSet(@TempDir Path dir) {
        try (LocalPostgres unlimited = LocalPostgres.start(dir.resolve("unlimited"))) {
            executeOn(unlimited.jdbcUrl("postgres"), unlimited.user(), "ALTER SYSTEM SET max_slot_wal_keep_size = -1");
            executeOn(unlimited.jdbcUrl("postgres"), unlimited.user(), "SELECT pg_reload_conf()");
            createV1On(unlimited);
            Spec spec = specWithV1On(unlimited, "");
            executeOn(unlimited.jdbcUrl("v1"), unlimited.user(), "SELECT pg_create_logical_replication_slot('" + prefix + "', 'pgoutput')");

            List<Finding> findings = check(spec);

            assertThat(only(findings, Level.WARNING)).as(render(findings)).anySatisfy(f -> {
                assertThat(f.subject()).isEqualTo("source");
                assertThat(f.message()).matches("max_slot_wal_keep_size is -1 \\(unlimited\\): a stopped or stuck migrator's"
                        + " replication slot keeps v1's WAL until the disk is full; replication slot " + prefix
                        + " is inactive, retaining [0-9]+ (bytes|kB) \\([0-9]+ bytes\\) of WAL");
                assertThat(f.fix()).isEqualTo("ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (a size well below the"
                        + " disk space v1 has free for WAL), then SELECT pg_reload_conf(); set source.slot.maxRetainedWal"
                        + " below it, so that capture stops first with instructions");
            });

            // capture's own limit at or above PostgreSQL's would never act.
            executeOn(unlimited.jdbcUrl("postgres"), unlimited.user(), "ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'");
            executeOn(unlimited.jdbcUrl("postgres"), unlimited.user(), "SELECT pg_reload_conf()");
            List<Finding> above = check(specWithV1On(unlimited, "slot: { maxRetainedWal: 2GB }"));
            assertThat(only(above, Level.WARNING)).as(render(above)).anySatisfy(f -> {
                assertThat(f.message()).startsWith("source.slot.maxRetainedWal 2GB is not below max_slot_wal_keep_size"
                        + " 1GB: PostgreSQL invalidates the slot before capture stops with instructions");
                assertThat(f.fix()).isEqualTo("set source.slot.maxRetainedWal below 1GB");
            });
        }
    }

    /** Creates database v1 with the good tables on {@code server}. */
    private static void createV1On(LocalPostgres server) {
        server.createDatabase("v1");
        executeOn(server.jdbcUrl("v1"), server.user(), """
                CREATE TABLE users (id bigint PRIMARY KEY, name varchar(100) NOT NULL, score numeric(8,2), seen timestamptz);
                CREATE TABLE tasks (id int PRIMARY KEY, user_id bigint NOT NULL, timeout int, params jsonb);
                """);
    }

    /** A spec of the good tables from database v1 of {@code server}; {@code sourceExtra} goes into source. */
    private Spec specWithV1On(LocalPostgres server, String sourceExtra) {
        return new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "%s", user: "%s" %s }
                target: { url: "%s", user: "%s", password: "%s", schema: app }
                kafka: { topicPrefix: %s }
                tables:
                %s""".formatted(server.jdbcUrl("v1"), server.user(), sourceExtra.isEmpty() ? "" : ", " + sourceExtra,
                pg.jdbcUrl(v2Db), pg.user(), pg.password(), prefix, GOOD_TABLES), "preflight-it.yaml");
    }

    private static void executeOn(String url, String user, String sql) {
        try (Connection c = DriverManager.getConnection(url, user, ""); Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void goodSetupHasNoErrorsAndNoWarnings() {
        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(findings).as(render(findings)).allSatisfy(f -> assertThat(f.level()).isEqualTo(Level.OK));
        assertThat(findings).extracting(Finding::subject).contains("source", "target", "v1 public.users",
                "v1 public.tasks", "v2 app.accounts", "v2 app.tasks");
        assertThat(findings).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.accounts");
            assertThat(f.message()).contains("key (account_id)", "v1 primary key (id)", "its primary key accounts_pkey");
        });
        assertThat(findings).anySatisfy(f -> assertThat(f.message()).contains("wal_level is logical"));
        assertThat(findings).anySatisfy(f -> assertThat(f.message()).contains("publication " + prefix + " does not exist yet"));
        assertThat(findings).anySatisfy(f -> assertThat(f.message()).contains("no replication slot " + prefix + " yet"));
    }

    @Test
    void aSuperuserIsAWarningOnEitherSide() {
        List<Finding> findings = Preflight.check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.WARNING)).as(render(findings)).containsExactlyInAnyOrder(
                Finding.warning("source", "user " + pg.user() + " is a superuser (a replication connection works): capture"
                        + " needs only REPLICATION and SELECT on the mapped tables, and the spec holds these credentials"
                        + " for the whole migration", "run it as a role with the grants of docs/security.md (Grants on v1)"),
                Finding.warning("target", "user " + pg.user() + " is a superuser: the sink needs only to own the v2 tables"
                        + " and to create its state schema, and the spec holds these credentials for the whole migration",
                        "run it as a role with the grants of docs/security.md (Grants on v2)"));
    }

    @Test
    void missingV1TableIsAnErrorNamingTheSpecTable() {
        pg.execute(v1Db, "DROP TABLE tasks");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.tasks");
            assertThat(f.message()).isEqualTo("table does not exist (spec tables.tasks)");
            assertThat(f.fix()).isEqualTo("correct the spec or create the table");
        });
    }

    @Test
    void missingV1ColumnIsAnErrorNamingTheSpecPath() {
        pg.execute(v1Db, "ALTER TABLE tasks RENAME COLUMN timeout TO timeout_ms");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.tasks.timeout");
            assertThat(f.message()).isEqualTo("column does not exist (spec tables.tasks.columns.timeout_seconds.from)");
            assertThat(f).hasToString("ERROR   v1 public.tasks.timeout: column does not exist "
                    + "(spec tables.tasks.columns.timeout_seconds.from); fix: correct the spec or add the column");
        });
        // The renamed column is now read by nothing.
        assertThat(only(findings, Level.WARNING)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.tasks");
            assertThat(f.message()).contains("timeout_ms is not carried to v2", "tables.tasks.drop");
        });
    }

    @Test
    void missingV2TableIsAnErrorNamingTheSpecTable() {
        pg.execute(v2Db, "DROP TABLE app.accounts");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.accounts");
            assertThat(f.message()).isEqualTo("table does not exist in schema app (spec tables.users.into)");
        });
    }

    @Test
    void missingV2ColumnIsAnErrorNamingTheSpecPath() {
        pg.execute(v2Db, "ALTER TABLE app.accounts DROP COLUMN display_name");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.accounts.display_name");
            assertThat(f.message()).isEqualTo("column does not exist (spec tables.users.columns.display_name)");
        });
    }

    @Test
    void v2KeyWithoutPrimaryKeyOrUniqueConstraintIsAnError() {
        pg.execute(v2Db, """
                ALTER TABLE app.tasks DROP CONSTRAINT tasks_pkey;
                CREATE INDEX tasks_id ON app.tasks (id);
                CREATE UNIQUE INDEX tasks_id_user ON app.tasks (id, user_id);
                """);

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.tasks");
            assertThat(f.message()).startsWith("key (id), from the v1 primary key (id) renamed through tables.tasks.columns, "
                    + "is not exactly the columns of a primary key or unique constraint")
                    .contains("ON CONFLICT (id)");
            assertThat(f.fix()).contains("ALTER TABLE app.tasks ADD PRIMARY KEY (id)");
        });

        // A unique index on exactly the key is enough for ON CONFLICT.
        pg.execute(v2Db, "CREATE UNIQUE INDEX tasks_id_unique ON app.tasks (id)");
        List<Finding> fixed = check(spec(GOOD_TABLES));
        assertThat(only(fixed, Level.ERROR)).isEmpty();
        assertThat(fixed).contains(Finding.ok("v2 app.tasks",
                "key (id), from the v1 primary key (id) renamed through tables.tasks.columns, is unique index tasks_id_unique"));
    }

    @Test
    void v1TableWithoutPrimaryKeyNeedsReplicaIdentityFullOrAppendAndCheckExplainsBoth() {
        pg.execute(v1Db, "CREATE TABLE events (at timestamptz NOT NULL, what text)");
        pg.execute(v2Db, "CREATE TABLE app.events (at timestamptz, what text)");
        String events = """
                  events:
                    columns:
                      at: { from: at }
                      what: { from: what }
                """;

        // REPLICA IDENTITY DEFAULT without a key: v1 would refuse updates and deletes, and nothing says which row.
        List<Finding> findings = check(spec(events));
        assertThat(only(findings, Level.ERROR)).as(render(findings)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.events");
            assertThat(f.message()).startsWith("has no primary key and REPLICA IDENTITY DEFAULT: once publication "
                    + prefix + " covers the table, UPDATE and DELETE on it fail in v1");
            assertThat(f.fix()).startsWith("ALTER TABLE public.events REPLICA IDENTITY FULL (its changes are applied by"
                    + " their values: an insert inserts, an update or delete acts on one v2 row holding exactly its old"
                    + " values (two identical rows stay two rows; a delete removes one)")
                    .contains("or, if the table only ever gets inserts (an audit log), set tables.events.append: true"
                            + " (needs no replica identity change; v1 then refuses its updates and deletes)");
        });

        // append: true takes the inserts as they are, and check says plainly what happens to v1's updates.
        List<Finding> append = check(spec(events.replace("    columns:", "    append: true\n    columns:")));
        assertThat(only(append, Level.ERROR)).as(render(append)).isEmpty();
        assertThat(only(append, Level.WARNING)).as(render(append)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.events");
            assertThat(f.message()).startsWith("has no primary key and is declared append: true (tables.events.append):"
                    + " its inserts stream as they are, with REPLICA IDENTITY DEFAULT; once publication " + prefix
                    + " covers the table, UPDATE and DELETE on it fail in v1")
                    .contains("the application must not update or delete its rows");
            assertThat(f.fix()).startsWith("if the application ever updates or deletes its rows: ALTER TABLE"
                    + " public.events REPLICA IDENTITY FULL and set tables.events.append to false");
        });

        // NOTHING is as DEFAULT without a key: the same two options.
        pg.execute(v1Db, "ALTER TABLE events REPLICA IDENTITY NOTHING");
        List<Finding> nothing = check(spec(events));
        assertThat(only(nothing, Level.ERROR)).as(render(nothing)).singleElement().satisfies(f -> {
            assertThat(f.message()).startsWith("has no primary key and REPLICA IDENTITY NOTHING: once publication");
            assertThat(f.fix()).contains("REPLICA IDENTITY FULL", "tables.events.append: true");
        });
        List<Finding> nothingAppend = check(spec(events.replace("    columns:", "    append: true\n    columns:")));
        assertThat(only(nothingAppend, Level.ERROR)).as(render(nothingAppend)).isEmpty();

        // REPLICA IDENTITY FULL: applied by their values; a v2 key would not be used, and a shared v2 table is refused.
        pg.execute(v1Db, "ALTER TABLE events REPLICA IDENTITY FULL");
        List<Finding> full = check(spec(events));
        assertThat(only(full, Level.ERROR)).as(render(full)).isEmpty();
        assertThat(full).as(render(full)).contains(
                Finding.ok("v1 public.events", "has no primary key; REPLICA IDENTITY FULL: its changes are applied by"
                        + " their values: an insert inserts, an update or delete acts on one v2 row holding exactly its"
                        + " old values (two identical rows stay two rows; a delete removes one), and verify compares the"
                        + " table as a multiset"),
                Finding.ok("v2 app.events", "needs no key: the rows of v1 table events (no primary key) are inserted"
                        + " and matched by their values"));
        List<Finding> keyed = check(spec(events.replace("    columns:", "    key: [at]\n    columns:")));
        assertThat(only(keyed, Level.ERROR)).as(render(keyed)).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("tables.events.key");
            assertThat(f.fix()).isEqualTo("remove tables.events.key (or add a primary key to the v1 table)");
        });
        List<Finding> shared = check(spec("""
                  events:
                    split:
                      - { into: events, columns: { at: { from: at }, what: { from: what } } }
                      - { into: events, where: "row.what == 'x'", columns: { at: { from: at }, what: { value: "copy" } } }
                """));
        assertThat(only(shared, Level.ERROR)).as(render(shared)).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.events");
            assertThat(f.message()).startsWith("is fed by v1 table events, which has no primary key, and by other mappings");
        });
    }

    @Test
    void replicaIdentityNothingIsAnError() {
        pg.execute(v1Db, "ALTER TABLE users REPLICA IDENTITY NOTHING");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.users");
            assertThat(f.message()).startsWith("REPLICA IDENTITY NOTHING: once publication " + prefix
                    + " covers the table, UPDATE and DELETE on it fail in v1");
            assertThat(f.fix()).isEqualTo("ALTER TABLE public.users REPLICA IDENTITY DEFAULT (its primary key) or FULL");
        });
    }

    @Test
    void toastableColumnsUnderReplicaIdentityDefaultAreNamedAndNeedNothing() {
        pg.execute(v1Db, "ALTER TABLE tasks REPLICA IDENTITY DEFAULT");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).isEmpty();
        assertThat(only(findings, Level.WARNING)).isEmpty();
        assertThat(findings).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.tasks");
            assertThat(f.level()).isEqualTo(Level.OK);
            assertThat(f.message()).isEqualTo("primary key (id) keys its changes; REPLICA IDENTITY DEFAULT with toastable"
                    + " columns params: an UPDATE that leaves a TOASTed value unchanged does not carry it, and the"
                    + " transform fills it in from the row's previous image; with none (a row not seen since the migration"
                    + " started, as on the way back) a plain copy of it is left as the target has it, and a value"
                    + " computed from it is a dead letter");
        });
        assertThat(findings).noneSatisfy(f -> assertThat(f.toString()).contains("TOAST issue"));
        // users: varchar(100) is too small to be TOASTed.
        assertThat(findings).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("v1 public.users");
            assertThat(f.message()).isEqualTo("primary key (id) keys its changes; REPLICA IDENTITY DEFAULT, and no "
                    + "column the spec reads is toastable");
        });
    }

    @Test
    void notNullV2ColumnWithoutDefaultThatTheSpecDoesNotMapIsAnError() {
        pg.execute(v2Db, "ALTER TABLE app.accounts ADD COLUMN email text NOT NULL");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.accounts.email");
            assertThat(f.message()).isEqualTo("is NOT NULL without a default, and the spec does not map it "
                    + "(tables.users.columns): every insert would fail");
        });
    }

    @Test
    void captureNeedsToCreateOrWriteItsHeartbeatTable() {
        String role = prefix + "_capture";
        pg.execute(v1Db, "CREATE ROLE " + role + " LOGIN REPLICATION; GRANT SELECT ON users, tasks TO " + role);

        List<Finding> findings = check(spec(GOOD_TABLES, role));

        assertThat(only(findings, Level.ERROR)).anySatisfy(f -> {
            assertThat(f.message()).isEqualTo("user " + role + " may not create capture's heartbeat table public." + prefix
                    + "_heartbeat (no CREATE on schema public); capture writes it every 10 s so that the slot follows an idle"
                    + " v1, and cutover wait commits its marker there");
            assertThat(f.fix()).startsWith("GRANT CREATE ON SCHEMA public TO " + role + ", or create it: CREATE TABLE public."
                    + prefix + "_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text)");
        });

        pg.execute(v1Db, "GRANT CREATE ON SCHEMA public TO " + role);
        assertThat(check(spec(GOOD_TABLES, role)))
                .contains(Finding.ok("source", "capture will create its heartbeat table public." + prefix + "_heartbeat"));

        pg.execute(v1Db, "CREATE TABLE " + prefix + "_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text);"
                + " REVOKE CREATE ON SCHEMA public FROM " + role);
        assertThat(only(check(spec(GOOD_TABLES, role)), Level.ERROR)).anySatisfy(f ->
                assertThat(f.message()).isEqualTo("user " + role + " may not write the heartbeat table public." + prefix + "_heartbeat"));
    }

    @Test
    void sourceUserWithoutReplicationIsAnError() {
        String role = prefix + "_reader";
        pg.execute(v1Db, "CREATE ROLE " + role + " LOGIN; GRANT SELECT ON users, tasks TO " + role);

        List<Finding> findings = check(spec(GOOD_TABLES, role));

        assertThat(only(findings, Level.ERROR)).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("source");
            assertThat(f.message()).isEqualTo("user " + role + " has neither REPLICATION nor superuser: capture cannot "
                    + "open its replication connection (spec source.user)");
            assertThat(f.fix()).isEqualTo("ALTER ROLE " + role + " WITH REPLICATION");
        });
        // Neither may it create the publication; SELECT was granted, so the tables themselves are fine.
        assertThat(only(findings, Level.ERROR)).anySatisfy(f -> {
            assertThat(f.subject()).isEqualTo("source");
            assertThat(f.message()).startsWith("publication " + prefix + " does not exist, and user " + role
                    + " may not create it (no CREATE on database " + v1Db + ")");
        });
        assertThat(only(findings, Level.ERROR)).extracting(Finding::subject).containsOnly("source");
    }

    @Test
    void typeThatCanFailIsAWarningNamingTheSpecPath() {
        pg.execute(v1Db, "ALTER TABLE tasks ALTER COLUMN timeout TYPE text");
        pg.execute(v2Db, "ALTER TABLE app.accounts ALTER COLUMN seen TYPE timestamp");

        List<Finding> findings = check(spec(GOOD_TABLES));

        assertThat(only(findings, Level.ERROR)).isEmpty();
        assertThat(only(findings, Level.WARNING)).containsExactlyInAnyOrder(
                Finding.warning("v2 app.accounts.seen", "v1 timestamp with time zone -> v2 timestamp without time zone: "
                        + "the time zone is dropped: values are converted to the sink session's time zone "
                        + "(spec tables.users.columns.seen.from: seen)",
                        "make the v2 type at least as wide, or make sure every v1 value converts"),
                Finding.warning("v2 app.tasks.timeout_seconds", "v1 text -> v2 bigint: text that does not parse as "
                        + "bigint fails (spec tables.tasks.columns.timeout_seconds.from: timeout)",
                        "make the v2 type at least as wide, or make sure every v1 value converts"));
    }

    @Test
    void inactiveExistingSlotIsAWarning() {
        pg.execute(v1Db, "SELECT pg_create_logical_replication_slot('" + prefix + "', 'pgoutput')");
        try {
            List<Finding> findings = check(spec(GOOD_TABLES));

            assertThat(only(findings, Level.ERROR)).isEmpty();
            assertThat(findings).anySatisfy(f -> {
                assertThat(f.level()).isEqualTo(Level.OK);
                assertThat(f.message()).matches("max_slot_wal_keep_size is 10GB: PostgreSQL invalidates the replication"
                        + " slot rather than keep more WAL for it; replication slot " + prefix + " is inactive, retaining"
                        + " [0-9]+ (bytes|kB|MB) \\([0-9]+ bytes\\) of WAL");
            });
            assertThat(only(findings, Level.WARNING)).singleElement().satisfies(f -> {
                assertThat(f.subject()).isEqualTo("source");
                assertThat(f.message()).startsWith("replication slot " + prefix + " exists and is inactive, holding ")
                        .contains("a previous run you intend to resume");
                assertThat(f.fix()).isEqualTo("if that run is abandoned: SELECT pg_drop_replication_slot('" + prefix + "')");
            });
        } finally {
            pg.execute(v1Db, "SELECT pg_drop_replication_slot('" + prefix + "')");
        }
    }

    @Test
    void existingPublicationForAllTablesIsAnErrorAndOneMissingATableAWarning() {
        String mark = "; " + Marks.commentStatement(Marks.Subject.publication(prefix), prefix);
        pg.execute(v1Db, "CREATE PUBLICATION " + prefix + " FOR ALL TABLES" + mark);
        assertThat(only(check(spec(GOOD_TABLES)), Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("source");
            assertThat(f.message()).startsWith("publication " + prefix + " exists FOR ALL TABLES");
        });

        // The superuser owns it and the tables, so capture narrows it itself.
        pg.execute(v1Db, "DROP PUBLICATION " + prefix + "; CREATE PUBLICATION " + prefix + " FOR TABLE users" + mark);
        List<Finding> findings = check(spec(GOOD_TABLES));
        assertThat(only(findings, Level.ERROR)).isEmpty();
        assertThat(only(findings, Level.WARNING)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("source");
            assertThat(f.message()).isEqualTo("publication " + prefix + " exists without public.tasks, public." + prefix
                    + "_heartbeat; capture runs ALTER PUBLICATION " + prefix + " SET TABLE public.tasks, public.users, public."
                    + prefix + "_heartbeat");
        });
    }

    @Test
    void targetUserWithoutCreateOnTheDatabaseCannotSetUpTheSinkState() {
        String role = prefix + "_writer";
        pg.execute(v2Db, "CREATE ROLE " + role + " LOGIN; GRANT USAGE ON SCHEMA app TO " + role
                + "; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO " + role);

        List<Finding> findings = check(spec(GOOD_TABLES, pg.user(), role));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("target");
            assertThat(f.message()).isEqualTo("user " + role + " cannot set up the sink's state (spec target.stateSchema):"
                    + " the sink creates schema migrator_state, which needs CREATE on database " + v2Db);
            assertThat(f.fix()).isEqualTo("GRANT CREATE ON DATABASE " + v2Db + " TO " + role);
        });

        // Made for the migration by someone who may: the sink needs no CREATE on the database then.
        pg.execute(v2Db, "CREATE SCHEMA migrator_state; GRANT USAGE, CREATE ON SCHEMA migrator_state TO " + role + "; "
                + Marks.commentStatement(Marks.Subject.schema("migrator_state"), prefix));
        assertThat(only(check(spec(GOOD_TABLES, pg.user(), role)), Level.ERROR)).isEmpty();
    }

    @Test
    void findingsOfASplitNameTheMappingAndComputedColumnsAreNotTypeChecked() {
        pg.execute(v2Db, "CREATE TABLE app.profiles (user_id bigint PRIMARY KEY, kind text NOT NULL)");
        String split = """
                  users:
                    split:
                      - into: accounts
                        columns:
                          account_id: { from: id }
                          display_name: { from: name }
                          score: { from: score }
                          seen: { from: seen }
                      - into: profiles
                        columns:
                          user_id: { from: id }
                          kind: { value: "person" }
                          last_seen: { expr: "row.seen" }
                """;

        List<Finding> findings = check(spec(split));

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("v2 app.profiles.last_seen");
            assertThat(f.message()).isEqualTo("column does not exist (spec tables.users.split[1].columns.last_seen)");
        });
        assertThat(findings).contains(Finding.ok("v2 app.profiles",
                "key (user_id), from the v1 primary key (id) renamed through tables.users.split[1].columns, is its "
                        + "primary key profiles_pkey"));
        assertThat(findings).contains(Finding.ok("v2 app.profiles", "types of the 1 copied column are equal or wider than in v1"));
        assertThat(only(findings, Level.WARNING)).isEmpty();
    }

    @Test
    void unreachableSourceIsOneErrorNamingTheUrlAndSkipsTheV1Checks() throws IOException {
        int closedPort = Ports.free();
        String url = "jdbc:postgresql://127.0.0.1:" + closedPort + "/nowhere";
        Spec spec = new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", schema: app }
                kafka: { topicPrefix: %s }
                tables:
                %s""".formatted(url, pg.user(), pg.password(), pg.jdbcUrl(v2Db), pg.user(), pg.password(), prefix,
                GOOD_TABLES), "preflight-it.yaml");

        List<Finding> findings = check(spec);

        assertThat(only(findings, Level.ERROR)).singleElement().satisfies(f -> {
            assertThat(f.subject()).isEqualTo("source");
            assertThat(f.message()).startsWith("cannot connect to " + url + " as " + pg.user() + ": ");
            assertThat(f.fix()).contains("source.url, source.user and source.password");
        });
        assertThat(findings).extracting(Finding::subject).noneMatch(s -> s.startsWith("v1 "));
        assertThat(findings).extracting(Finding::subject).contains("v2 app.accounts", "v2 app.tasks");
    }

    @Test
    void withAvroV2TopicsTwoColumnsThatBecomeOneAvroFieldAreAnError() {
        Spec spec = spec("""
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      "display name": { from: name }
                """, pg.user(), pg.user(), ", v2Format: avro, schemaRegistry: { url: \"http://127.0.0.1:9\" }");

        assertThat(check(spec)).as(render(check(spec))).anySatisfy(f -> assertThat(f.toString()).isEqualTo(
                "ERROR   v2 app.accounts: columns \"display name\" and \"display_name\" of table accounts both become the"
                        + " Avro field display_name; rename one of them (kafka.v2Format: avro); fix: rename one of the v2"
                        + " columns, or use kafka.v2Format: json"));
    }

    private Spec spec(String tables) {
        return spec(tables, pg.user());
    }

    private Spec spec(String tables, String sourceUser) {
        return spec(tables, sourceUser, pg.user());
    }

    private Spec spec(String tables, String sourceUser, String targetUser) {
        return spec(tables, sourceUser, targetUser, "");
    }

    /** @param kafka more of {@code kafka}'s settings, each after a comma */
    private Spec spec(String tables, String sourceUser, String targetUser, String kafka) {
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", schema: app }
                kafka: { topicPrefix: %s%s }
                tables:
                %s""".formatted(pg.jdbcUrl(v1Db), sourceUser, pg.password(), pg.jdbcUrl(v2Db), targetUser,
                pg.password(), prefix, kafka, tables);
        return new SpecParser(name -> null).parse(yaml, "preflight-it.yaml");
    }

    /**
     * {@link Preflight#check}, less the warnings that a user of the spec is a superuser: these tests connect as the
     * test cluster's superuser, and {@link #aSuperuserIsAWarningOnEitherSide} checks those warnings.
     */
    private List<Finding> check(Spec spec) {
        return Preflight.check(spec).stream().filter(f -> !(f.level() == Level.WARNING
                && f.message().startsWith("user " + pg.user() + " is a superuser"))).toList();
    }

    private static List<Finding> only(List<Finding> findings, Level level) {
        return findings.stream().filter(f -> f.level() == level).toList();
    }

    private static String render(List<Finding> findings) {
        StringBuilder out = new StringBuilder("findings:");
        findings.forEach(f -> out.append(System.lineSeparator()).append(f));
        return out.toString();
    }
}
