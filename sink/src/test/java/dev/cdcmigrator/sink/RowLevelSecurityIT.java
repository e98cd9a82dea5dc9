package dev.cdcmigrator.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code tenancy.rowLevelSecurity}: the sink, started as the (non-superuser) owner of the v2 tables, puts the tenant
 * policy on exactly the tables with a tenant dimension; a start again changes nothing; a changed setting replaces the
 * policy; the owner still writes every tenant's rows; and a separate role sees and writes only the rows of the tenant
 * its session names.
 */
class RowLevelSecurityIT {

    private static final PostgresServer PG = TestPostgres.shared();
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    private static final String PASSWORD = "rls-it";
    /** Tables with a tenant dimension: users (into accounts, column org), tasks, messages (split into two). */
    private static final List<String> TENANT_TABLES = List.of("accounts", "chat_archive", "chat_messages", "tasks");

    private final String bootstrap = TestKafka.bootstrapServers();
    private final List<Sink> sinks = new ArrayList<>();
    private String db;
    private String owner;
    private String reader;

    @BeforeEach
    void createTargetAndRoles() {
        db = PG.createDatabase("rls_it");
        String suffix = db.substring(db.lastIndexOf('_') + 1);
        owner = "rls_owner_" + suffix;
        reader = "rls_reader_" + suffix;
        PG.execute("postgres", "CREATE ROLE " + owner + " LOGIN PASSWORD '" + PASSWORD + "';"
                + " CREATE ROLE " + reader + " LOGIN PASSWORD '" + PASSWORD + "';"
                // The sink creates its state schema.
                + " GRANT CREATE ON DATABASE " + db + " TO " + owner);
        PG.execute(db, """
                CREATE TABLE accounts (org text NOT NULL, id bigint PRIMARY KEY, name text);
                CREATE TABLE tasks (tenant_id text NOT NULL, id bigint, title text, PRIMARY KEY (tenant_id, id));
                CREATE TABLE chat_messages (tenant_id text NOT NULL, id bigint, content text, PRIMARY KEY (tenant_id, id));
                CREATE TABLE chat_archive (tenant_id text NOT NULL, id bigint, content text, PRIMARY KEY (tenant_id, id));
                CREATE TABLE agents (id bigint PRIMARY KEY, name text);
                ALTER TABLE accounts OWNER TO %1$s;
                ALTER TABLE tasks OWNER TO %1$s;
                ALTER TABLE chat_messages OWNER TO %1$s;
                ALTER TABLE chat_archive OWNER TO %1$s;
                ALTER TABLE agents OWNER TO %1$s;
                GRANT SELECT ON ALL TABLES IN SCHEMA public TO %2$s;
                GRANT INSERT ON tasks TO %2$s;
                """.formatted(owner, reader));
    }

    @AfterEach
    void dropRoles() {
        stopSinks();
        // Roles are server-wide: drop them, with what they own and were granted here.
        PG.execute(db, "DROP OWNED BY " + owner + ", " + reader);
        PG.execute("postgres", "DROP ROLE " + owner + "; DROP ROLE " + reader);
    }

    @Test
    void eachTenantSeesOnlyItsRowsWhileTheOwningSinkWritesThemAll() throws SQLException {
        Spec spec = spec(owner, "app.tenant_id");
        provisionTopics(spec);

        Sink first = startAndAwaitRunning(spec);
        assertThat(PG.rows(db, "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
                + " WHERE relname IN ('accounts', 'agents', 'chat_archive', 'chat_messages', 'tasks') ORDER BY relname"))
                .containsExactly(List.of("accounts", "t", "f"), List.of("agents", "f", "f"), List.of("chat_archive", "t", "f"),
                        List.of("chat_messages", "t", "f"), List.of("tasks", "t", "f"));
        assertThat(PG.rows(db, "SELECT tablename, policyname, permissive, cmd, roles::text FROM pg_policies ORDER BY tablename"))
                .containsExactlyElementsOf(TENANT_TABLES.stream()
                        .map(t -> List.of(t, "migrator_tenant_isolation", "PERMISSIVE", "ALL", "{public}")).toList());
        assertThat(PG.rows(db, "SELECT qual = with_check, qual FROM pg_policies WHERE tablename = 'accounts'"))
                .containsExactly(List.of("t", "(org = current_setting('app.tenant_id'::text, true))"));
        List<List<String>> policies = policyOids();

        // A second start finds everything in place and touches nothing (no drop and create: the same policies).
        stopSinks();
        assertThat(first.failure()).isNull();
        startAndAwaitRunning(spec);
        assertThat(policyOids()).isEqualTo(policies);

        // The owner, with no tenant set, writes every tenant's rows as the sink does (upserts, deletes).
        try (Connection c = connect(owner); Statement st = c.createStatement()) {
            st.execute("""
                    INSERT INTO accounts VALUES ('a', 1, 'ann'), ('b', 2, 'bob'), ('b', 3, 'bea');
                    INSERT INTO tasks VALUES ('a', 10, 'a1'), ('a', 11, 'a2'), ('b', 10, 'b1'), ('b', 12, 'b2'), ('c', 13, 'c1')
                        ON CONFLICT (tenant_id, id) DO UPDATE SET title = EXCLUDED.title;
                    INSERT INTO tasks VALUES ('b', 12, 'b2 again') ON CONFLICT (tenant_id, id) DO UPDATE SET title = EXCLUDED.title;
                    DELETE FROM tasks WHERE tenant_id = 'c' AND id = 13;
                    INSERT INTO chat_messages VALUES ('a', 100, 'hi a'), ('b', 101, 'hi b');
                    INSERT INTO chat_archive VALUES ('a', 100, 'hi a'), ('b', 101, 'hi b');
                    INSERT INTO agents VALUES (1, 'shared agent'), (2, 'another');
                    """);
            assertThat(rows(c, "SELECT tenant_id, id, title FROM tasks ORDER BY tenant_id, id"))
                    .containsExactly(List.of("a", "10", "a1"), List.of("a", "11", "a2"), List.of("b", "10", "b1"), List.of("b", "12", "b2 again"));
        }

        try (Connection c = connect(reader)) {
            assertThat(visible(c)).as("no tenant set").containsExactly(
                    List.of("accounts", ""), List.of("tasks", ""), List.of("chat_messages", ""), List.of("chat_archive", ""),
                    List.of("agents", "1,2"));
            setTenant(c, "app.tenant_id", "a");
            assertThat(visible(c)).as("tenant a").containsExactly(
                    List.of("accounts", "a:1"), List.of("tasks", "a:10,a:11"), List.of("chat_messages", "a:100"),
                    List.of("chat_archive", "a:100"), List.of("agents", "1,2"));
            setTenant(c, "app.tenant_id", "b");
            assertThat(visible(c)).as("tenant b").containsExactly(
                    List.of("accounts", "b:2,b:3"), List.of("tasks", "b:10,b:12"), List.of("chat_messages", "b:101"),
                    List.of("chat_archive", "b:101"), List.of("agents", "1,2"));

            // WITH CHECK: a session of tenant b may write b's rows only.
            try (Statement st = c.createStatement()) {
                st.execute("INSERT INTO tasks VALUES ('b', 14, 'written by b')");
                assertThatThrownBy(() -> st.execute("INSERT INTO tasks VALUES ('a', 15, 'written by b for a')"))
                        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"))
                        .hasMessageContaining("new row violates row-level security policy for table \"tasks\"");
            }
        }
        assertThat(PG.rows(db, "SELECT tenant_id, id FROM tasks WHERE id >= 14")).containsExactly(List.of("b", "14"));

        // Another setting in the spec replaces the policies on the next start.
        stopSinks();
        startAndAwaitRunning(spec(owner, "app.org"));
        assertThat(policyOids()).hasSize(TENANT_TABLES.size()).doesNotContainAnyElementsOf(policies);
        try (Connection c = connect(reader)) {
            setTenant(c, "app.tenant_id", "a");
            assertThat(visible(c)).as("the old setting names no tenant any more").containsExactly(
                    List.of("accounts", ""), List.of("tasks", ""), List.of("chat_messages", ""), List.of("chat_archive", ""),
                    List.of("agents", "1,2"));
            setTenant(c, "app.org", "a");
            assertThat(visible(c)).as("tenant a under the new setting").containsExactly(
                    List.of("accounts", "a:1"), List.of("tasks", "a:10,a:11"), List.of("chat_messages", "a:100"),
                    List.of("chat_archive", "a:100"), List.of("agents", "1,2"));
        }
    }

    @Test
    void aSinkUserThatDoesNotOwnATenantTableStopsNamingTheTable() {
        PG.execute(db, "ALTER TABLE chat_messages OWNER TO " + PG.user());
        Spec spec = spec(owner, "app.tenant_id");
        provisionTopics(spec);

        Sink sink = Sink.start(spec, bootstrap, new SimpleMeterRegistry(), Map.of());
        sinks.add(sink);

        await().atMost(DEADLINE).until(() -> sink.failure() != null);
        assertThat(sink.failure()).hasMessageContaining("row-level security on \"public\".\"chat_messages\"")
                .hasMessageContaining("must be owner of table chat_messages");
        assertThat(sink.running()).isFalse();
        assertThat(PG.rows(db, "SELECT count(*) FROM pg_policies WHERE tablename = 'chat_messages'")).containsExactly(List.of("0"));
    }

    // ---------------------------------------------------------------------------------------------------------------

    private Spec spec(String user, String setting) {
        String prefix = "rlsit_" + db.substring(db.lastIndexOf('_') + 1);
        return new SpecParser().parse("""
                version: 1
                source: { url: "%s", user: unused }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 1 }
                tenancy: { rowLevelSecurity: %s }
                tables:
                  users:
                    into: accounts
                    dimensions: { tenant: { from: org, column: org } }
                    columns: { id: { from: id }, name: { from: name } }
                  tasks:
                    key: [tenant_id, id]
                    dimensions: { tenant: { lookup: { table: users, key: user_id, column: org } } }
                    columns: { id: { from: id }, title: { from: title } }
                  messages:
                    dimensions: { tenant: { lookup: { table: users, key: user_id, column: org } } }
                    split:
                      - { into: chat_messages, key: [tenant_id, id], columns: { id: { from: id }, content: { from: content } } }
                      - { into: chat_archive, key: [tenant_id, id], columns: { id: { from: id }, content: { from: content } } }
                  agents:
                    columns: { id: { from: id }, name: { from: name } }
                """.formatted(PG.jdbcUrl("unused_v1"), PG.jdbcUrl(db), user, PASSWORD, bootstrap, prefix, setting), "rls.yaml");
    }

    private void provisionTopics(Spec spec) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            TopicProvisioner.createMissing(admin, spec);
        }
    }

    /** Starts a sink; it is running once it has set up the target (state schema, policies) and subscribed. */
    private Sink startAndAwaitRunning(Spec spec) {
        Sink sink = Sink.start(spec, bootstrap, new SimpleMeterRegistry(), Map.of());
        sinks.add(sink);
        await().atMost(DEADLINE).until(() -> sink.failure() != null || sink.running());
        assertThat(sink.failure()).isNull();
        return sink;
    }

    private void stopSinks() {
        sinks.forEach(s -> s.close(Duration.ofSeconds(15)));
        sinks.clear();
    }

    private List<List<String>> policyOids() {
        return PG.rows(db, "SELECT c.relname, p.oid FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid ORDER BY c.relname");
    }

    /** Per table, the rows the session sees: tenant:id for the tenant tables, id for agents. */
    private static List<List<String>> visible(Connection c) throws SQLException {
        List<List<String>> visible = new ArrayList<>();
        for (String query : List.of(
                "SELECT 'accounts', string_agg(org || ':' || id, ',' ORDER BY org, id) FROM accounts",
                "SELECT 'tasks', string_agg(tenant_id || ':' || id, ',' ORDER BY tenant_id, id) FROM tasks",
                "SELECT 'chat_messages', string_agg(tenant_id || ':' || id, ',' ORDER BY tenant_id, id) FROM chat_messages",
                "SELECT 'chat_archive', string_agg(tenant_id || ':' || id, ',' ORDER BY tenant_id, id) FROM chat_archive",
                "SELECT 'agents', string_agg(id::text, ',' ORDER BY id) FROM agents")) {
            List<String> row = rows(c, query).get(0);
            visible.add(List.of(row.get(0), row.get(1) == null ? "" : row.get(1)));
        }
        return visible;
    }

    private static void setTenant(Connection c, String setting, String tenant) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET " + setting + " = '" + tenant + "'");
        }
    }

    private Connection connect(String role) throws SQLException {
        return DriverManager.getConnection(PG.jdbcUrl(db), role, PASSWORD);
    }

    private static List<List<String>> rows(Connection c, String query) throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            int columns = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(columns);
                for (int i = 1; i <= columns; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
        }
        return rows;
    }
}
