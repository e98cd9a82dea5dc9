package dev.cdcmigrator.cutover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The verifier against a real PostgreSQL: v1 and v2 are separate databases, the v2 tables live in a non-default schema
 * and are renamed, and the spec computes columns (defaults, value maps, expressions over jsonb, constants), filters
 * rows, marks a column non-deterministic and names a composite key. v2 is written here by SQL that says what the spec
 * says, so that a correct migration is known without running the pipeline (the pipeline's own output is verified in
 * the cli module).
 */
class VerifierIT {

    private static final int USERS = 100_000;

    /** 100,000 v1 users: some NULL names, five levels, two-decimal scores, microsecond timestamps, jsonb flags. */
    private static final String V1_USERS = """
            INSERT INTO users (id, name, level, score, seen, prefs)
            SELECT g,
                   CASE WHEN g %% 7 = 0 THEN NULL ELSE 'user ' || g END,
                   g %% 5,
                   round(g * 1.37, 2),
                   CASE WHEN g %% 11 = 0 THEN NULL
                        ELSE timestamptz '2024-01-02 03:04:05.123456+00' + g * interval '1 minute 0.000001 second' END,
                   CASE g %% 3 WHEN 0 THEN '{"vip": true, "theme": "dark"}' WHEN 1 THEN '{}' ELSE '{"vip": false}' END::jsonb
            FROM generate_series(1, %d) g""".formatted(USERS);
    /** What the spec makes of them: level 0 filtered out, names defaulted, levels mapped, flags computed. */
    private static final String V2_ACCOUNTS = """
            INSERT INTO app.accounts
            SELECT g,
                   CASE WHEN g %% 7 = 0 THEN 'anonymous' ELSE 'user ' || g END,
                   CASE g %% 5 WHEN 1 THEN 'bronze' WHEN 2 THEN 'silver' WHEN 3 THEN 'gold' ELSE 'none' END,
                   round(g * 1.37, 2),
                   CASE WHEN g %% 11 = 0 THEN NULL
                        ELSE timestamptz '2024-01-02 03:04:05.123456+00' + g * interval '1 minute 0.000001 second' END,
                   g %% 3 = 0,
                   jsonb_build_object('source', 'v1', 'theme', CASE WHEN g %% 3 = 0 THEN 'dark' ELSE 'light' END),
                   'v1',
                   now()
            FROM generate_series(1, %d) g WHERE g %% 5 <> 0""".formatted(USERS);
    private static final String USERS_SPEC = """
              users:
                into: accounts
                where: "row.level != 0"
                columns:
                  account_id: { from: id }
                  display_name: { from: name, default: "'anonymous'" }
                  tier: { from: level, map: { "1": bronze, "2": silver, "3": gold }, otherwise: none }
                  score: { from: score }
                  seen: { from: seen }
                  vip: { expr: "row.prefs.?vip.orValue(false)" }
                  settings: { expr: "{'theme': row.prefs.?theme.orValue('light'), 'source': 'v1'}" }
                  origin: { value: v1 }
                  migrated_at: { value: "2024-01-01T00:00:00Z", nonDeterministic: true }
            """;
    private static final String ITEMS_SPEC = """
              order_items:
                into: order_lines
                key: [tenant, line]
                columns:
                  tenant: { from: order_no }
                  line: { from: line_no }
                  quantity: { from: qty }
                  note: { from: note }
            """;

    private final PostgresServer pg = TestPostgres.shared();
    private String v1;
    private String v2;

    @BeforeEach
    void createDatabases() {
        v1 = pg.createDatabase("verifier_v1");
        v2 = pg.createDatabase("verifier_v2");
        pg.execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text, level int NOT NULL, score numeric(8,2),
                                    seen timestamptz, prefs jsonb NOT NULL, legacy_flag boolean DEFAULT true);
                CREATE TABLE order_items (order_no int NOT NULL, line_no int NOT NULL, qty int, note text,
                                          PRIMARY KEY (order_no, line_no));
                INSERT INTO order_items
                SELECT 1 + g % 50, g / 50, g % 1000, CASE WHEN g % 13 = 0 THEN NULL ELSE 'note ' || g END
                FROM generate_series(0, 19999) g;
                """);
        pg.execute(v2, """
                CREATE SCHEMA app;
                CREATE TABLE app.accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL, tier text NOT NULL,
                                           score numeric(8,2), seen timestamptz, vip boolean NOT NULL,
                                           settings jsonb NOT NULL, origin text NOT NULL, migrated_at timestamptz NOT NULL);
                CREATE TABLE app.order_lines (tenant int NOT NULL, line int NOT NULL, quantity int, note text,
                                              PRIMARY KEY (tenant, line));
                INSERT INTO app.order_lines
                SELECT 1 + g % 50, g / 50, g % 1000, CASE WHEN g % 13 = 0 THEN NULL ELSE 'note ' || g END
                FROM generate_series(0, 19999) g;
                """);
    }

    @Test
    void aHundredThousandRowsMatchThenTheCorruptedKeysAndColumnsAreNamed() throws Exception {
        pg.execute(v1, V1_USERS);
        pg.execute(v2, V2_ACCOUNTS);
        Spec spec = spec(USERS_SPEC);

        long started = System.nanoTime();
        TableComparison clean = Verifier.verify(spec, Verifier.Options.defaults()).get(0);
        System.out.printf("verify of %,d v1 rows took %.2f s%n", USERS, (System.nanoTime() - started) / 1e9);

        assertThat(clean).isEqualTo(new TableComparison("accounts", List.of("users"), USERS, 80_000, 80_000, 11, 0,
                0, 0, 0, 0, List.of(), List.of(), List.of(), List.of(), List.of("migrated_at")));
        assertThat(clean.matches()).isTrue();

        pg.execute(v2, """
                DELETE FROM app.accounts WHERE account_id = 501;
                INSERT INTO app.accounts VALUES (100005, 'intruder', 'gold', 1.00, now(), false, '{}', 'v1', now());
                INSERT INTO app.accounts VALUES (100, 'filtered out in v1', 'none', 137.00, NULL, false,
                                                 '{"source": "v1", "theme": "light"}', 'v1', now());
                UPDATE app.accounts SET display_name = 'renamed' WHERE account_id = 43;
                UPDATE app.accounts SET tier = 'gold' WHERE account_id = 12;
                UPDATE app.accounts SET settings = '{"theme": "dark", "source": "v1"}' WHERE account_id = 77;
                UPDATE app.accounts SET score = score + 0.01, seen = seen + interval '1 microsecond' WHERE account_id = 57001;
                UPDATE app.accounts SET migrated_at = now() - interval '1 day' WHERE account_id = 13;
                """);
        started = System.nanoTime();
        TableComparison corrupted = Verifier.verify(spec, Verifier.Options.defaults()).get(0);
        System.out.printf("verify of %,d v1 rows, 3 chunks differing, took %.2f s%n", USERS, (System.nanoTime() - started) / 1e9);

        assertThat(corrupted.matches()).isFalse();
        assertThat(corrupted.missing()).containsExactly("account_id=501");
        assertThat(corrupted.extra()).containsExactly("account_id=100", "account_id=100005");
        assertThat(corrupted.different()).containsExactly(
                "account_id=12 [tier]",
                "account_id=43 [display_name]",
                "account_id=77 [settings]",
                "account_id=57001 [score, seen]");
        assertThat(corrupted.rejected()).isEmpty();
        assertThat(List.of(corrupted.missingRows(), corrupted.extraRows(), corrupted.differentRows(), corrupted.rejectedRows()))
                .containsExactly(1L, 2L, 4L, 0L);
        assertThat(List.of(corrupted.v1Rows(), corrupted.mappedRows(), corrupted.v2Rows())).containsExactly(100_000L, 80_000L, 80_001L);
        // Ids below 10,000, then 50,000 to 59,999, then past the last v1 key.
        assertThat(corrupted.chunks()).isEqualTo(11);
        assertThat(corrupted.differingChunks()).isEqualTo(3);
    }

    @Test
    void resultsDoNotDependOnParallelismOrChunkSize() throws Exception {
        pg.execute(v2, """
                DELETE FROM app.order_lines WHERE tenant = 3 AND line = 17;
                UPDATE app.order_lines SET note = NULL WHERE tenant = 12 AND line = 99;
                UPDATE app.order_lines SET quantity = -1 WHERE tenant = 50 AND line = 398;
                """);
        Spec spec = spec(ITEMS_SPEC);

        TableComparison oneWorker = Verifier.verify(spec, new Verifier.Options(Set.of(), 1, 10_000)).get(0);
        TableComparison manyChunks = Verifier.verify(spec, new Verifier.Options(Set.of(), 4, 777)).get(0);

        assertThat(oneWorker.missing()).containsExactly("tenant=3,line=17");
        assertThat(oneWorker.extra()).isEmpty();
        assertThat(oneWorker.different()).containsExactly("tenant=12,line=99 [note]", "tenant=50,line=398 [quantity]");
        assertThat(List.of(oneWorker.v1Rows(), oneWorker.mappedRows(), oneWorker.v2Rows())).containsExactly(20_000L, 20_000L, 19_999L);
        assertThat(oneWorker.chunks()).isEqualTo(3);
        assertThat(manyChunks.chunks()).isEqualTo(26);
        assertThat(manyChunks.differingChunks()).isEqualTo(3);
        assertThat(manyChunks).usingRecursiveComparison().ignoringFields("chunks", "differingChunks").isEqualTo(oneWorker);
    }

    @Test
    void listsAtMostTenKeysPerKindInKeyOrderButCountsEveryRow() throws Exception {
        pg.execute(v2, "DELETE FROM app.order_lines WHERE tenant = 7 AND line BETWEEN 101 AND 125");

        TableComparison items = Verifier.verify(spec(ITEMS_SPEC), new Verifier.Options(Set.of(), 2, 500)).get(0);

        assertThat(items.missingRows()).isEqualTo(25);
        assertThat(items.missing()).hasSize(Verifier.MAX_KEYS_LISTED).containsExactly(
                "tenant=7,line=101", "tenant=7,line=102", "tenant=7,line=103", "tenant=7,line=104", "tenant=7,line=105",
                "tenant=7,line=106", "tenant=7,line=107", "tenant=7,line=108", "tenant=7,line=109", "tenant=7,line=110");
        assertThat(items.v2Rows()).isEqualTo(20_000 - 25);
    }

    @Test
    void rowsTheSpecCannotMapOrV2RefusesAreRejectedNamingTheV1RowAndTheReason() throws Exception {
        pg.execute(v1, """
                CREATE TABLE codes (id int PRIMARY KEY, kind text, amount text);
                INSERT INTO codes SELECT g, CASE WHEN g = 5 THEN 'odd' ELSE 'even' END, CASE WHEN g = 9 THEN 'lots' ELSE g::text END
                FROM generate_series(1, 20) g;
                """);
        pg.execute(v2, """
                CREATE TABLE app.codes (id int PRIMARY KEY, kind text, amount int);
                INSERT INTO app.codes SELECT g, 'E', g FROM generate_series(1, 20) g WHERE g NOT IN (5, 9);
                """);
        Spec spec = spec("""
                  codes:
                    columns:
                      id: { from: id }
                      kind: { from: kind, map: { even: E } }
                      amount: { from: amount }
                """);

        TableComparison codes = Verifier.verify(spec, Verifier.Options.defaults()).get(0);

        assertThat(codes.rejectedRows()).isEqualTo(2);
        assertThat(codes.rejected()).satisfiesExactly(
                r -> assertThat(r).startsWith("codes id=5: ").contains("value 'odd'").contains("kind"),
                r -> assertThat(r).startsWith("codes id=9: v2 refuses codes.amount: ").contains("invalid input syntax for type integer"));
        assertThat(List.of(codes.missingRows(), codes.extraRows(), codes.differentRows())).containsExactly(0L, 0L, 0L);
        assertThat(List.of(codes.v1Rows(), codes.mappedRows(), codes.v2Rows())).containsExactly(20L, 18L, 18L);
        assertThat(codes.matches()).isFalse();
    }

    /** An expression's list into a domain over an array, which the sink writes as an array literal: so does verify. */
    @Test
    void aListIntoADomainOverAnArrayIsComparedAsTheSinkWritesIt() throws Exception {
        pg.execute(v1, """
                CREATE TABLE labels (id int PRIMARY KEY, name text NOT NULL);
                INSERT INTO labels SELECT g, 'label ' || g FROM generate_series(1, 50) g;
                """);
        pg.execute(v2, """
                CREATE DOMAIN app.tag_list AS text[] CHECK (cardinality(VALUE) > 0);
                CREATE TABLE app.labels (id int PRIMARY KEY, tags app.tag_list);
                INSERT INTO app.labels SELECT g, ARRAY['label ' || g, 'v1'] FROM generate_series(1, 50) g;
                UPDATE app.labels SET tags = ARRAY['other'] WHERE id = 7;
                """);
        Spec spec = spec("""
                  labels:
                    columns:
                      id: { from: id }
                      tags: { expr: "[row.name, 'v1']" }
                """);

        TableComparison labels = Verifier.verify(spec, Verifier.Options.defaults()).get(0);

        assertThat(labels.rejected()).isEmpty();
        assertThat(labels.different()).containsExactly("id=7 [tags]");
        assertThat(List.of(labels.v1Rows(), labels.mappedRows(), labels.v2Rows())).containsExactly(50L, 50L, 50L);
    }

    @Test
    void aMergeOfTwoV1TablesIsComparedAsOneV2Table() throws Exception {
        pg.execute(v1, """
                CREATE TABLE bots (id int PRIMARY KEY, name text);
                CREATE TABLE humans (id int PRIMARY KEY, name text);
                INSERT INTO bots SELECT g, 'bot ' || g FROM generate_series(1, 300) g;
                INSERT INTO humans SELECT g, 'human ' || g FROM generate_series(1, 500) g;
                """);
        pg.execute(v2, """
                CREATE TABLE app.actors (kind text NOT NULL, id int NOT NULL, name text, PRIMARY KEY (kind, id));
                INSERT INTO app.actors SELECT 'bot', g, 'bot ' || g FROM generate_series(1, 300) g;
                INSERT INTO app.actors SELECT 'human', g, 'human ' || g FROM generate_series(1, 500) g;
                UPDATE app.actors SET name = 'robot 7' WHERE kind = 'bot' AND id = 7;
                """);
        Spec spec = spec("""
                  bots:
                    into: actors
                    key: [kind, id]
                    columns: { kind: { value: bot }, id: { from: id }, name: { from: name } }
                  humans:
                    into: actors
                    key: [kind, id]
                    columns: { kind: { value: human }, id: { from: id }, name: { from: name } }
                """);

        TableComparison actors = Verifier.verify(spec, Verifier.Options.defaults()).get(0);

        assertThat(actors.v1Tables()).containsExactly("bots", "humans");
        assertThat(List.of(actors.v1Rows(), actors.mappedRows(), actors.v2Rows())).containsExactly(800L, 800L, 800L);
        // The key is not a copy of one v1 primary key, so the table is one chunk.
        assertThat(actors.chunks()).isEqualTo(1);
        assertThat(actors.different()).containsExactly("kind=bot,id=7 [name]");
        assertThat(actors.missingRows() + actors.extraRows() + actors.rejectedRows()).isZero();
    }

    @Test
    void aV1TableWithoutPrimaryKeyIsComparedAsAMultisetCountingCopies() throws Exception {
        pg.execute(v1, """
                CREATE TABLE events (at timestamptz, what text);
                INSERT INTO events VALUES (timestamptz '2024-05-06 07:08:09+00', 'boot'), (timestamptz '2024-05-06 07:09:00+00', 'login'),
                                          (timestamptz '2024-05-06 07:09:00+00', 'login'), (NULL, 'x'), (NULL, 'x');
                """);
        pg.execute(v2, """
                CREATE TABLE app.events (at timestamptz, what text);
                INSERT INTO app.events VALUES (timestamptz '2024-05-06 07:09:00+00', 'login'), (timestamptz '2024-05-06 07:09:00+00', 'login'),
                                              (NULL, 'x'), (timestamptz '2024-05-06 07:08:09+00', 'boot'), (NULL, 'x');
                """);
        Spec spec = spec("""
                  events:
                    columns: { at: { from: at }, what: { from: what } }
                """);
        assertThat(Verifier.verify(spec, Verifier.Options.defaults())).singleElement().satisfies(c -> {
            assertThat(c.chunks()).isEqualTo(1);
            assertThat(List.of(c.v1Rows(), c.v2Rows())).containsExactly(5L, 5L);
            assertThat(c.missingRows() + c.extraRows() + c.differentRows()).isZero();
        });

        // Same distinct rows, one copy more of one of them: found, with both counts.
        pg.execute(v2, "INSERT INTO app.events VALUES (NULL, 'x'); DELETE FROM app.events WHERE what = 'boot'");
        assertThat(Verifier.verify(spec, Verifier.Options.defaults())).singleElement().satisfies(c -> {
            assertThat(c.missing()).singleElement().asString().contains("boot").endsWith("(1 copy from v1, 0 copies in v2)");
            assertThat(c.different()).containsExactly("row [at, what]=(,x) (2 copies from v1, 3 copies in v2)");
            assertThat(c.extraRows()).isZero();
        });
    }

    @Test
    void aKeyThatDoesNotIdentifyV1RowsIsAnErrorNamingTheKey() {
        pg.execute(v1, """
                CREATE TABLE events (id int PRIMARY KEY, at timestamptz);
                INSERT INTO events VALUES (1, timestamptz '2024-05-06 07:08:09+00'), (2, timestamptz '2024-05-06 07:08:09+00');
                """);
        pg.execute(v2, "CREATE TABLE app.events (at timestamptz PRIMARY KEY, id int)");
        Spec spec = spec("""
                  events:
                    key: [at]
                    columns: { at: { from: at }, id: { from: id } }
                """);

        assertThatThrownBy(() -> Verifier.verify(spec, Verifier.Options.defaults()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("two v1 rows map to one row of events, key at=2024-05-06T07:08:09.000000Z")
                .hasMessageContaining("events id=2")
                .hasMessageContaining("the v2 key [at] must identify one row");
    }

    @Test
    void tablesCanBeChosenByV1OrV2NameAndUnknownNamesAreRefused() throws Exception {
        pg.execute(v1, V1_USERS.replace(String.valueOf(USERS), "100"));
        pg.execute(v2, V2_ACCOUNTS.replace(String.valueOf(USERS), "100"));
        Spec spec = spec(USERS_SPEC + ITEMS_SPEC);

        assertThat(Verifier.verify(spec, Verifier.Options.defaults())).extracting(TableComparison::v2Table)
                .containsExactly("accounts", "order_lines");
        assertThat(Verifier.verify(spec, new Verifier.Options(Set.of("order_items"), 2, 1000))).extracting(TableComparison::v2Table)
                .containsExactly("order_lines");
        assertThat(byTable(Verifier.verify(spec, new Verifier.Options(Set.of("accounts"), 2, 1000))).get("accounts").matches()).isTrue();
        assertThatThrownBy(() -> Verifier.verify(spec, new Verifier.Options(Set.of("accounts", "nope"), 2, 1000)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the spec maps no table nope (v1 tables: order_items, users; v2 tables: accounts, order_lines)");
    }

    private Spec spec(String tables) {
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", schema: app }
                tables:
                %s""".formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(), tables);
        return new SpecParser(name -> null).parse(yaml, "verifier-it.yaml");
    }

    private static Map<String, TableComparison> byTable(List<TableComparison> results) {
        return results.stream().collect(Collectors.toMap(TableComparison::v2Table, Function.identity()));
    }
}
