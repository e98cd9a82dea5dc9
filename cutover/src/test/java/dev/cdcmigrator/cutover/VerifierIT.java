package dev.cdcmigrator.cutover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The verifier against a real PostgreSQL: v1 and v2 are separate databases, v2 tables live in a non-default schema and
 * are renamed, their columns renamed, and one table is keyed by an explicit composite key.
 */
class VerifierIT {

    private static final int ROWS = 10_000;

    /** Same rows on both sides: some NULLs, two-decimal numerics, microsecond timestamps. */
    private static final String USERS_DATA = """
            SELECT g,
                   CASE WHEN g %% 7 = 0 THEN NULL ELSE 'user ' || g END,
                   round(g * 1.37, 2),
                   CASE WHEN g %% 11 = 0 THEN NULL
                        ELSE timestamptz '2024-01-02 03:04:05.123456+00' + g * interval '1 minute 0.000001 second' END
            FROM generate_series(1, %d) g""".formatted(ROWS);
    private static final String ITEMS_DATA = """
            SELECT 1 + g %% 50, g / 50, g %% 1000, CASE WHEN g %% 13 = 0 THEN NULL ELSE 'note ' || g END
            FROM generate_series(0, %d) g""".formatted(2 * ROWS - 1);
    private static final String TAGS_DATA = "SELECT g, 'tag ' || g FROM generate_series(1, 500) g";

    private final PostgresServer pg = TestPostgres.shared();
    private Connection v1;
    private Connection v2;
    private Spec spec;

    @BeforeEach
    void createDatabases() throws SQLException {
        String v1Db = pg.createDatabase("verifier_v1");
        String v2Db = pg.createDatabase("verifier_v2");
        v1 = DriverManager.getConnection(pg.jdbcUrl(v1Db), pg.user(), pg.password());
        v2 = DriverManager.getConnection(pg.jdbcUrl(v2Db), pg.user(), pg.password());
        execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text, score numeric(8,2), seen timestamptz,
                                    legacy_flag boolean DEFAULT true);
                CREATE TABLE order_items (order_no int NOT NULL, line_no int NOT NULL, qty int, note text,
                                          PRIMARY KEY (order_no, line_no));
                CREATE TABLE tags (id int PRIMARY KEY, label text);
                CREATE TABLE events (at timestamptz, what text);
                INSERT INTO users (id, name, score, seen) %s;
                INSERT INTO order_items %s;
                INSERT INTO tags %s;
                INSERT INTO events VALUES (timestamptz '2024-05-06 07:08:09+00', 'boot'), (timestamptz '2024-05-06 07:09:00+00', 'login');
                """.formatted(USERS_DATA, ITEMS_DATA, TAGS_DATA));
        execute(v2, """
                CREATE SCHEMA app;
                CREATE TABLE app.accounts (account_id bigint PRIMARY KEY, display_name text, score numeric(8,2), seen timestamptz);
                CREATE TABLE app.order_lines (tenant int NOT NULL, line int NOT NULL, quantity int, note text,
                                              PRIMARY KEY (tenant, line));
                CREATE TABLE app.tags (id int PRIMARY KEY, label text);
                CREATE TABLE app.events (at timestamptz, what text);
                INSERT INTO app.accounts %s;
                INSERT INTO app.order_lines %s;
                INSERT INTO app.tags %s;
                INSERT INTO app.events VALUES (timestamptz '2024-05-06 07:08:09+00', 'boot'), (timestamptz '2024-05-06 07:09:00+00', 'login');
                """.formatted(USERS_DATA, ITEMS_DATA, TAGS_DATA));
        spec = spec(v1Db, v2Db, """
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      score: { from: score }
                      seen: { from: seen }
                  order_items:
                    into: order_lines
                    key: [tenant, line]
                    columns:
                      tenant: { from: order_no }
                      line: { from: line_no }
                      quantity: { from: qty }
                      note: { from: note }
                  tags:
                    columns:
                      id: { from: id }
                      label: { from: label }
                """);
    }

    @AfterEach
    void close() throws SQLException {
        if (v1 != null) {
            v1.close();
        }
        if (v2 != null) {
            v2.close();
        }
    }

    @Test
    void identicalDataMatchesEveryTable() throws SQLException {
        List<TableComparison> results = Verifier.verify(spec, v1, v2);

        assertThat(results).extracting(TableComparison::v1Table).containsExactly("order_items", "tags", "users");
        assertThat(results).containsExactly(
                new TableComparison("order_items", "order_lines", 2L * ROWS, 2L * ROWS, List.of(), List.of(), List.of(), List.of()),
                new TableComparison("tags", "tags", 500, 500, List.of(), List.of(), List.of(), List.of()),
                new TableComparison("users", "accounts", ROWS, ROWS, List.of(), List.of(), List.of(), List.of()));
        assertThat(results).allMatch(TableComparison::matches);
    }

    @Test
    void corruptedV2ListsExactlyTheMissingExtraAndDifferentKeys() throws SQLException {
        execute(v2, """
                DELETE FROM app.accounts WHERE account_id = 500;
                INSERT INTO app.accounts VALUES (10001, 'intruder', 1.00, now());
                UPDATE app.accounts SET display_name = 'renamed' WHERE account_id = 43;
                UPDATE app.accounts SET display_name = 'was null' WHERE account_id = 77;
                UPDATE app.accounts SET score = score + 0.01, seen = seen + interval '1 microsecond' WHERE account_id = 7000;
                DELETE FROM app.order_lines WHERE tenant = 3 AND line = 17;
                UPDATE app.order_lines SET note = NULL WHERE tenant = 12 AND line = 99;
                """);

        Map<String, TableComparison> results = byV1Table(Verifier.verify(spec, v1, v2));

        TableComparison users = results.get("users");
        assertThat(users.v2Table()).isEqualTo("accounts");
        assertThat(users.v1Rows()).isEqualTo(ROWS);
        assertThat(users.v2Rows()).isEqualTo(ROWS);
        assertThat(users.missing()).containsExactly("account_id=500");
        assertThat(users.extra()).containsExactly("account_id=10001");
        // Sorted as text, columns in v2 spec order.
        assertThat(users.different()).containsExactly(
                "account_id=43 [display_name]",
                "account_id=7000 [score, seen]",
                "account_id=77 [display_name]");
        assertThat(users.matches()).isFalse();

        TableComparison items = results.get("order_items");
        assertThat(items.v2Table()).isEqualTo("order_lines");
        assertThat(items.v1Rows()).isEqualTo(2L * ROWS);
        assertThat(items.v2Rows()).isEqualTo(2L * ROWS - 1);
        assertThat(items.missing()).containsExactly("tenant=3,line=17");
        assertThat(items.extra()).isEmpty();
        assertThat(items.different()).containsExactly("tenant=12,line=99 [note]");
        assertThat(items.matches()).isFalse();

        assertThat(results.get("tags")).isEqualTo(new TableComparison("tags", "tags", 500, 500, List.of(), List.of(), List.of(), List.of()));
        assertThat(results.get("tags").matches()).isTrue();
    }

    @Test
    void listsAtMostTenKeysPerKindOfDifferenceButCountsAllRows() throws SQLException {
        execute(v2, "DELETE FROM app.accounts WHERE account_id BETWEEN 101 AND 125");

        TableComparison users = byV1Table(Verifier.verify(spec, v1, v2)).get("users");

        assertThat(users.v1Rows()).isEqualTo(ROWS);
        assertThat(users.v2Rows()).isEqualTo(ROWS - 25);
        assertThat(users.missing()).hasSize(Verifier.MAX_KEYS_LISTED)
                .containsExactly("account_id=101", "account_id=102", "account_id=103", "account_id=104", "account_id=105",
                        "account_id=106", "account_id=107", "account_id=108", "account_id=109", "account_id=110");
        assertThat(users.extra()).isEmpty();
        assertThat(users.different()).isEmpty();
        assertThat(users.matches()).isFalse();
    }

    @Test
    void v1TableWithoutPrimaryKeyAndNoExplicitKeyIsAnErrorNamingTheTable() {
        Spec noKey = spec("unused_v1", "unused_v2", """
                  events:
                    columns:
                      at: { from: at }
                      what: { from: what }
                """);

        assertThatThrownBy(() -> Verifier.verify(noKey, v1, v2))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("public.events")
                .hasMessageContaining("no primary key")
                .hasMessageContaining("key:");
    }

    @Test
    void v1TableWithoutPrimaryKeyComparesByAnExplicitKey() throws SQLException {
        Spec withKey = spec("unused_v1", "unused_v2", """
                  events:
                    key: [at]
                    columns:
                      at: { from: at }
                      what: { from: what }
                """);
        assertThat(Verifier.verify(withKey, v1, v2)).singleElement().satisfies(c -> {
            assertThat(c.matches()).isTrue();
            assertThat(c.v1Rows()).isEqualTo(2);
            assertThat(c.v2Rows()).isEqualTo(2);
        });

        execute(v2, "UPDATE app.events SET what = 'logout' WHERE what = 'login'");
        String key = "at=" + text(v1, "SELECT (timestamptz '2024-05-06 07:09:00+00')::text");
        assertThat(Verifier.verify(withKey, v1, v2)).singleElement()
                .satisfies(c -> assertThat(c.different()).containsExactly(key + " [what]"));
    }

    @Test
    void nonDeterministicAndComputedColumnsAreLeftOutAndNamed() throws SQLException {
        execute(v2, "UPDATE app.events SET what = 'rewritten at migration time'");
        Spec spec = spec("unused_v1", "unused_v2", """
                  events:
                    key: [at]
                    columns:
                      at: { from: at }
                      what: { from: what, nonDeterministic: true }
                      source: { value: v1 }
                """);

        assertThat(Verifier.verify(spec, v1, v2)).singleElement().satisfies(c -> {
            assertThat(c.matches()).isTrue();
            assertThat(c.notCompared()).containsExactly("what", "source");
        });
    }

    @Test
    void aKeyThatDoesNotIdentifyV1RowsIsAnErrorNamingTableAndKey() throws SQLException {
        execute(v1, "INSERT INTO events VALUES (timestamptz '2024-05-06 07:08:09+00', 'boot again')");
        Spec withKey = spec("unused_v1", "unused_v2", """
                  events:
                    key: [at]
                    columns:
                      at: { from: at }
                      what: { from: what }
                """);

        assertThatThrownBy(() -> Verifier.verify(withKey, v1, v2))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("public.events has more than one row with key at=")
                .hasMessageContaining("the v2 key [at] must identify one row");
    }

    private Spec spec(String v1Db, String v2Db, String tables) {
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", schema: app }
                tables:
                %s""".formatted(pg.jdbcUrl(v1Db), pg.user(), pg.password(), pg.jdbcUrl(v2Db), pg.user(), pg.password(), tables);
        return new SpecParser(name -> null).parse(yaml, "verifier-it.yaml");
    }

    private static Map<String, TableComparison> byV1Table(List<TableComparison> results) {
        return results.stream().collect(Collectors.toMap(TableComparison::v1Table, Function.identity()));
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static String text(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); var rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
