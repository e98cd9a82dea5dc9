package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every refusal that {@code migrator run} makes once it has started (with {@code --no-check}, so that nothing but
 * the stages themselves can refuse), {@code migrator check} reports beforehand as an ERROR with the same reason: real
 * PostgreSQL v1 and v2, the embedded Kafka broker.
 */
class CheckRefusesWhatRunRefusesIT {

    private static final String V1 = """
            CREATE TABLE users (id bigint PRIMARY KEY, filler text);
            CREATE TABLE events (id bigint, happened_at timestamptz, kind text, PRIMARY KEY (id, happened_at))
                PARTITION BY RANGE (happened_at);
            CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            INSERT INTO users VALUES (1, ' a '), (2, NULL);
            INSERT INTO events VALUES (1, '2025-03-01', 'x'), (2, '2026-03-01', 'y');
            """;
    private static final String V2 = """
            CREATE TABLE users (id bigint PRIMARY KEY, filler text);
            CREATE TABLE events (id bigint, happened_at timestamptz, kind text, PRIMARY KEY (id, happened_at));
            CREATE TABLE events_2025 (id bigint, happened_at timestamptz, kind text, PRIMARY KEY (id, happened_at));
            CREATE TABLE notes (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
            """;
    private static final String USERS = """
              users:
                columns:
                  id: { from: id }
                  filler: { from: filler }
            """;
    private static final String EVENTS = """
              events:
                columns:
                  id: { from: id }
                  happened_at: { from: happened_at }
                  kind: { from: kind }
            """;

    private final PostgresServer pg = TestPostgres.shared();

    /** A v1 and v2 as given, then a spec: what capture, the copy backfill, the transform or the sink refuses. */
    record Case(String name, String v1Sql, String v2Sql, String specExtra, String tables, String phrase) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                new Case("an expression that does not type-check", "", "", "", """
                          users:
                            columns:
                              id: { from: id }
                              filler: { expr: "row.filler == null ? null : row.filler.trim()" }
                        """, "tables.users.columns.filler.expr"),
                new Case("a publication that reports partitions under their own names",
                        "CREATE PUBLICATION %p FOR TABLE users, events WITH (publish_via_partition_root = false);", "", "",
                        USERS + EVENTS, "has publish_via_partition_root = false"),
                new Case("a partition read next to its partitioned table", "", "", "", USERS + EVENTS + """
                          events_2025:
                            columns:
                              id: { from: id }
                              happened_at: { from: happened_at }
                              kind: { from: kind }
                        """, "events_2025: is a partition of public.events"),
                new Case("a publication FOR ALL TABLES", "CREATE PUBLICATION %p FOR ALL TABLES;", "", "", USERS,
                        "exists FOR ALL TABLES"),
                new Case("a publication without deletes",
                        "CREATE PUBLICATION %p FOR TABLE users WITH (publish = 'insert, update');", "", "", USERS,
                        "does not publish delete"),
                new Case("target.triggers naming a trigger v2 does not have", "", "", "", USERS,
                        "spec target.triggers: names users.stamp"),
                new Case("a v2 table with a foreign key the migrator's user does not own", "",
                        "CREATE ROLE %p_owner; ALTER TABLE notes OWNER TO %p_owner;"
                                + " CREATE ROLE %p_sink LOGIN; GRANT CREATE ON DATABASE %d TO %p_sink;"
                                + " GRANT USAGE, CREATE ON SCHEMA public TO %p_sink;"
                                + " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %p_sink;",
                        "", USERS, "notes: user %p_sink does not own it (%p_owner does)"),
                new Case("a trigger planted on the heartbeat table",
                        "CREATE TABLE %p_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text);"
                                + " CREATE FUNCTION %p_steal() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
                                + " CREATE TRIGGER steal BEFORE UPDATE ON %p_heartbeat FOR EACH ROW EXECUTE FUNCTION %p_steal();"
                                // Marked, as its owner may: the trigger is refused even so.
                                + " COMMENT ON TABLE %p_heartbeat IS 'cdc-migrator migration %p';",
                        "", "", USERS, "%p_heartbeat: has trigger steal, which the migrator did not make"),
                new Case("a heartbeat table the migrator did not make",
                        "CREATE TABLE %p_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text);", "", "",
                        USERS, "v1 table public.%p_heartbeat: was not made by the migrator (it has no comment"),
                new Case("a state schema of another migration", "",
                        "CREATE SCHEMA migrator_state; COMMENT ON SCHEMA migrator_state IS 'cdc-migrator migration other';",
                        "", USERS, "v2 schema migrator_state: belongs to migration other"),
                new Case("a rule planted on the sink's offsets table", "",
                        "CREATE SCHEMA migrator_state; CREATE TABLE migrator_state.sink_offsets (consumer_group text NOT NULL,"
                                + " topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,"
                                + " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer_group, topic, partition));"
                                + " CREATE TABLE %p_copied (LIKE migrator_state.sink_offsets);"
                                + " CREATE RULE copy AS ON INSERT TO migrator_state.sink_offsets DO ALSO"
                                + " INSERT INTO %p_copied SELECT NEW.*;"
                                + " COMMENT ON SCHEMA migrator_state IS 'cdc-migrator migration %p';",
                        "", USERS, "sink_offsets: has rule copy, which the migrator did not make"))
                .map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void checkReportsTheRefusalThatRunMakesOnceStarted(Case c, @TempDir Path dir) throws Exception {
        String prefix = "refuse_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        String v1 = pg.createDatabase("refuse_v1");
        String v2 = pg.createDatabase("refuse_v2");
        pg.execute(v1, V1 + c.v1Sql().replace("%p", prefix));
        pg.execute(v2, V2 + c.v2Sql().replace("%p", prefix).replace("%d", v2));
        boolean ownCase = c.v2Sql().contains("%p_sink");
        String targetUser = ownCase ? prefix + "_sink" : pg.user();
        String triggers = c.name().startsWith("target.triggers") ? ", triggers: [users.stamp]" : "";
        Path spec = dir.resolve("spec.yaml");
        Files.writeString(spec, """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s"%s }
                kafka: { topicPrefix: %s }
                %stables:
                %s""".formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), targetUser, pg.password(),
                triggers, prefix, c.specExtra(), c.tables()));
        String phrase = c.phrase().replace("%p", prefix);

        CliRun check = CliRun.of("check", "--spec", spec.toString());

        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.FAILED);
        List<String> errors = check.lines().stream().filter(l -> l.startsWith("ERROR   ") && l.contains(phrase)).toList();
        assertThat(errors).as(check.toString()).hasSize(1);
        String refusal = errors.get(0).substring("ERROR   ".length());
        if (refusal.startsWith("spec tables.")) {
            // The transform's refusal is the spec's: its path and reason, without check's fix.
            refusal = refusal.substring("spec ".length(), refusal.indexOf("; fix: "));
        }

        CliRun run = CliRun.of("run", "--no-check", "--spec", spec.toString(), "--data-dir", dir.resolve("data").toString(),
                "--http-port", "0", "--stop-timeout", "PT20S");

        assertThat(run.exit()).as(run.toString()).isNotZero();
        // check prints one line per finding; run prints a compiler's message as it comes, lines and all.
        assertThat(run.err().replaceAll("\\s*\\R\\s*", " ")).as(run.toString()).contains(refusal);
    }
}
