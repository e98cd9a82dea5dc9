package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.api.SoftAssertions;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tenant tagging end to end (issue 4) on the MaiBot example: its single-tenant v1 schema and sample, its multi-tenant
 * v2 schema by Flyway, its spec unchanged but for where the databases and Kafka are. While the pipeline backfills
 * and streams, concurrent writers on v1 insert users together with their agents, tasks and messages in one
 * transaction, add work for existing users, update rows (also their agent, chat stream and platform), delete rows
 * (also users and agents, whose rows go with them by cascade), rename users and move users to another organisation
 * (the tenant), some of it in the same transaction. After {@code cutover wait}, with no further waiting: v2 holds
 * exactly v1's rows, each under the organisation its user has on v1 now and with its agent, chat stream and platform;
 * no row is left under a tenant it no longer has; nothing was dead-lettered.
 */
class MultiTenantIT {

    private static final List<String> TABLES = List.of("users", "agents", "tasks", "chat_messages");

    /**
     * Per v2 table, what v2 must hold, as SQL over v1 written independently of the spec (id first): the tenant is the
     * organisation of the row's user now, agent-scoped rows carry their agent (an agent its own id), a message its
     * chat stream (sender:receiver) and platform (the sender's prefix).
     */
    private static final Map<String, String> EXPECTED = Map.of(
            "users", "SELECT id, org, name FROM users ORDER BY id",
            "agents", """
                    SELECT a.id, u.org, a.id, a.owner_id, a.name, a.config
                    FROM agents a JOIN users u ON u.id = a.owner_id ORDER BY a.id""",
            "tasks", """
                    SELECT t.id, u.org, t.agent_id, t.user_id, t.title, t.status
                    FROM tasks t JOIN users u ON u.id = t.user_id ORDER BY t.id""",
            "chat_messages", """
                    SELECT m.id, u.org, m.agent_id, m.sender || ':' || m.receiver, split_part(m.sender, ':', 1),
                           m.user_id, m.sender, m.receiver, m.content, m.created_at
                    FROM chat_messages m JOIN users u ON u.id = m.user_id ORDER BY m.id""");
    private static final Map<String, String> ACTUAL = Map.of(
            "users", "SELECT id, tenant_id, name FROM users ORDER BY id, tenant_id",
            "agents", "SELECT id, tenant_id, agent_id, owner_id, name, config FROM agents ORDER BY id, tenant_id",
            "tasks", "SELECT id, tenant_id, agent_id, user_id, title, status FROM tasks ORDER BY id, tenant_id",
            "chat_messages", """
                    SELECT id, tenant_id, agent_id, chat_stream, platform, user_id, sender, receiver, content, created_at
                    FROM chat_messages ORDER BY id, tenant_id""");

    private static final int WRITERS = 3;
    private static final int TRANSACTIONS_PER_WRITER = 200;
    /** Mean pause between two transactions of a writer: paces the load so that it spans backfill and streaming. */
    private static final long PAUSE_MILLIS = 10;

    private final PostgresServer pg = TestPostgres.shared();
    private Pipeline pipeline;

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    /** Both backfills: the copy's rows must be re-keyed when their user moves, as Debezium's snapshot rows are. */
    @ParameterizedTest(name = "backfill.mode: {0}")
    @ValueSource(strings = {"debezium", "copy"})
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void everyRowEndsUnderTheTenantOfItsUserOnV1WhileUsersMoveBetweenTenants(String backfill, @TempDir Path dir)
            throws Exception {
        String v1 = pg.createDatabase("maibot_v1");
        String v2 = pg.createDatabase("maibot_v2");
        String prefix = "maibot_" + v1.substring(v1.lastIndexOf('_') + 1);
        pg.execute(v1, "SET maibot.tasks = 2000; SET maibot.messages = 4000;\n" + resource("v1/schema.sql") + resource("v1/seed.sql"));
        Flyway.configure().dataSource(pg.jdbcUrl(v2), pg.user(), pg.password()).locations("classpath:examples/maibot/v2").load().migrate();
        Path specFile = specFile(dir, v1, v2, prefix, backfill);
        Spec spec = new SpecParser().parse(specFile);

        pipeline = Pipeline.start(spec, dir.resolve("data"), 0, new SimpleMeterRegistry());
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                .until(() -> pipeline.failure().isPresent() || pipeline.running());
        assertThat(pipeline.failure()).isEmpty();

        Writers writers = new Writers(pg.jdbcUrl(v1), pg.user(), pg.password(), Long.getLong("tenant.seed", 4004));
        writers.run();
        log("writes stopped: " + writers.summary());
        assertThat(writers.count("new users with work in one transaction")).as(writers.summary()).isPositive();
        assertThat(writers.count("tenant moves of users with rows")).as(writers.summary()).isPositive();
        assertThat(writers.count("tenant moves with new work in the same transaction")).as(writers.summary()).isPositive();
        assertThat(writers.count("deletes of tasks") + writers.count("deletes of chat_messages")).as(writers.summary()).isPositive();

        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");
        log("cutover wait: " + wait);
        assertThat(pipeline.failure()).isEmpty();
        assertThat(wait.exit()).as("cutover wait: %s", wait).isZero();

        // No awaiting from here on: cutover wait's exit is the guarantee.
        SoftAssertions softly = new SoftAssertions();
        for (String table : TABLES) {
            List<List<String>> expected = pg.rows(v1, EXPECTED.get(table));
            List<List<String>> actual = pg.rows(v2, ACTUAL.get(table));
            Set<List<String>> expectedKeys = new HashSet<>(keys(expected));
            List<List<String>> leftBehind = keys(actual).stream().filter(k -> !expectedKeys.contains(k)).toList();
            softly.assertThat(leftBehind).as("%s: v2 rows (id, tenant_id) that v1 does not have now (left under an old tenant,"
                    + " or not deleted)", table).isEmpty();
            softly.assertThat(ids(actual)).as("%s: the ids in v2 against those in v1", table).isEqualTo(ids(expected));
            softly.assertThat(actual).as("%s: v2 rows (id, tenant and the other dimensions, the copied columns) against v1",
                    table).containsExactlyElementsOf(expected);
        }
        softly.assertThat(pg.rows(v2, "SELECT tablename, policyname FROM pg_policies ORDER BY tablename"))
                .as("row-level security (tenancy.rowLevelSecurity in the spec)")
                .containsExactly(List.of("agents", "migrator_tenant_isolation"), List.of("chat_messages", "migrator_tenant_isolation"),
                        List.of("tasks", "migrator_tenant_isolation"), List.of("users", "migrator_tenant_isolation"));
        CliRun dlq = CliRun.of("dlq", "list", "--spec", specFile.toString());
        softly.assertThat(dlq.exit()).as(dlq.toString()).isZero();
        softly.assertThat(dlq.out()).as("dead letters").startsWith("0 dead letters in " + prefix + ".dlq");
        softly.assertAll();

        // verify resolves the dimensions the same way, lookups included, and sees a row under the wrong tenant.
        CliRun verify = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(verify.exit()).as(verify.toString()).isZero();
        List<String> moved = pg.rows(v2, "SELECT id, tenant_id FROM tasks ORDER BY id LIMIT 1").get(0);
        pg.execute(v2, "UPDATE tasks SET tenant_id = 'nobody' WHERE id = " + moved.get(0));
        CliRun corrupted = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(corrupted.exit()).as(corrupted.toString()).isEqualTo(ExitCodes.DIFFERENCES);
        assertThat(corrupted.out()).contains("missing in v2: tenant_id=" + moved.get(1) + ",id=" + moved.get(0),
                "extra in v2:   tenant_id=nobody,id=" + moved.get(0));
    }

    /**
     * The example's spec with the databases and Kafka of this test written in, under a topic prefix of its own, and the
     * backfill mode.
     */
    private Path specFile(Path dir, String v1, String v2, String prefix, String backfill) throws IOException {
        Map<String, String> env = Map.of("MAIBOT_V1_URL", pg.jdbcUrl(v1), "MAIBOT_V1_USER", pg.user(), "MAIBOT_V1_PASSWORD", pg.password(),
                "MAIBOT_V2_URL", pg.jdbcUrl(v2), "MAIBOT_V2_USER", pg.user(), "MAIBOT_V2_PASSWORD", pg.password(),
                "MAIBOT_KAFKA_BOOTSTRAP", TestKafka.bootstrapServers());
        // Written in rather than resolved by the parser: the migrator commands run here read the process environment.
        String yaml = resource("spec.yaml").replace("topicPrefix: maibot", "topicPrefix: " + prefix)
                .replace("\ntenancy:", "\nbackfill: { mode: " + backfill + " }\ntenancy:");
        for (Map.Entry<String, String> e : env.entrySet()) {
            yaml = yaml.replace("${env:" + e.getKey() + "}", "\"" + e.getValue() + "\"");
        }
        return Files.writeString(dir.resolve("spec.yaml"), yaml);
    }

    /** (id, tenant) of each row. */
    private static List<List<String>> keys(List<List<String>> rows) {
        return rows.stream().map(r -> List.of(r.get(0), r.get(1))).toList();
    }

    private static List<String> ids(List<List<String>> rows) {
        return rows.stream().map(r -> r.get(0)).toList();
    }

    private static String resource(String path) {
        try (InputStream in = MultiTenantIT.class.getResourceAsStream("/examples/maibot/" + path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void log(String message) {
        System.out.printf("%tT.%<tL [MultiTenantIT] %s%n", System.currentTimeMillis(), message);
    }

    /**
     * {@value #WRITERS} threads, each with its own connection, committing {@value #TRANSACTIONS_PER_WRITER}
     * transactions of one to three random operations on v1. Rows are picked at random on v1 itself, so the writers
     * need no model of their own; a transaction that collides with another writer's (deadlock, a user deleted
     * meanwhile) is rolled back and counted, and never reaches v2.
     */
    private static final class Writers {

        /** Deadlock, serialization failure, foreign key violation (the picked user or agent was deleted meanwhile). */
        private static final Set<String> COLLISIONS = Set.of("40P01", "40001", "23503");
        private static final String[] PLATFORMS = {"qq", "discord", "telegram"};
        private static final String[] STATUSES = {"created", "running", "done", "failed"};

        private final String url;
        private final String user;
        private final String password;
        private final long seed;
        /** Ids of new rows, above the sample's, shared by every table and writer. */
        private final AtomicLong nextId = new AtomicLong(1_000_000);
        private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

        Writers(String url, String user, String password, long seed) {
            this.url = url;
            this.user = user;
            this.password = password;
            this.seed = seed;
        }

        /** Runs the writers to the end; rethrows what failed one. */
        void run() throws Exception {
            log("writers: seed " + seed + " (-Dtenant.seed=N repeats the operations chosen; the rows picked and the interleaving differ)");
            ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
            try {
                List<Future<?>> writers = new ArrayList<>();
                for (int i = 0; i < WRITERS; i++) {
                    Random random = new Random(seed * 31 + i);
                    writers.add(pool.submit(() -> {
                        write(random);
                        return null;
                    }));
                }
                for (Future<?> writer : writers) {
                    writer.get(3, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
            }
        }

        long count(String what) {
            AtomicLong n = counts.get(what);
            return n == null ? 0 : n.get();
        }

        String summary() {
            return "seed " + seed + ": " + new TreeMap<>(counts);
        }

        private void write(Random random) throws SQLException, InterruptedException {
            try (Connection c = DriverManager.getConnection(url, user, password)) {
                c.setAutoCommit(false);
                int committed = 0;
                for (int attempt = 0; committed < TRANSACTIONS_PER_WRITER; attempt++) {
                    if (attempt > 3 * TRANSACTIONS_PER_WRITER) {
                        throw new IllegalStateException("too many collisions: " + summary());
                    }
                    List<String> done = new ArrayList<>();
                    try {
                        for (int op = 1 + random.nextInt(3); op > 0; op--) {
                            done.add(operation(c, random));
                        }
                        c.commit();
                        committed++;
                        done.forEach(this::record);
                        record("transactions committed");
                    } catch (SQLException e) {
                        c.rollback();
                        if (!COLLISIONS.contains(e.getSQLState())) {
                            throw e;
                        }
                        record("transactions rolled back after a collision (" + e.getSQLState() + ")");
                    }
                    TimeUnit.MILLISECONDS.sleep(random.nextInt((int) (2 * PAUSE_MILLIS) + 1));
                }
            }
        }

        private void record(String what) {
            counts.computeIfAbsent(what, k -> new AtomicLong()).incrementAndGet();
        }

        /** One random operation in the open transaction; what it did. */
        private String operation(Connection c, Random random) throws SQLException {
            int kind = random.nextInt(100);
            if (kind < 12) {
                return newUserWithWork(c, random);
            } else if (kind < 30) {
                return addWork(c, random);
            } else if (kind < 46) {
                return moveUser(c, random);
            } else if (kind < 58) {
                return updateTask(c, random);
            } else if (kind < 68) {
                return updateMessage(c, random);
            } else if (kind < 77) {
                return deleteOne(c, "tasks");
            } else if (kind < 86) {
                return deleteOne(c, "chat_messages");
            } else if (kind < 96) {
                update(c, "UPDATE users SET name = ? WHERE id = (SELECT id FROM users ORDER BY random() LIMIT 1)",
                        "renamed " + random.nextInt(1000));
                return "renames of users (no tenant change)";
            } else if (kind < 98) {
                return deleteOne(c, "agents");
            }
            return deleteOne(c, "users");
        }

        /** A user with an agent, tasks and messages, all in this transaction; sometimes moved to another tenant too. */
        private String newUserWithWork(Connection c, Random random) throws SQLException {
            long newUser = nextId.incrementAndGet();
            long agent = nextId.incrementAndGet();
            String org = org(random, null);
            update(c, "INSERT INTO users (id, name, org) VALUES (?, ?, ?)", newUser, "new user " + newUser, org);
            update(c, "INSERT INTO agents (id, owner_id, name, config) VALUES (?, ?, ?, ?::jsonb)", agent, newUser,
                    "agent " + agent, "{\"model\": \"mai-small\", \"persona\": \"newcomer\"}");
            for (int i = 1 + random.nextInt(3); i > 0; i--) {
                insertTask(c, random, newUser, agent);
                insertMessage(c, random, newUser, agent);
            }
            if (random.nextInt(3) == 0) {
                update(c, "UPDATE users SET org = ? WHERE id = ?", org(random, org), newUser);
                return "new users with work, moved to another tenant in the same transaction";
            }
            return "new users with work in one transaction";
        }

        /** A task or a message for the owner of a random agent. */
        private String addWork(Connection c, Random random) throws SQLException {
            List<Long> agent = row(c, "SELECT id, owner_id FROM agents ORDER BY random() LIMIT 1");
            if (agent == null) {
                return "nothing to pick";
            }
            if (random.nextBoolean()) {
                insertTask(c, random, agent.get(1), agent.get(0));
                return "new tasks";
            }
            insertMessage(c, random, agent.get(1), agent.get(0));
            return "new chat_messages";
        }

        /** A random user to another organisation; sometimes twice, or with new work for them, in this transaction. */
        private String moveUser(Connection c, Random random) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("""
                    SELECT u.id, u.org, (SELECT count(*) FROM agents WHERE owner_id = u.id)
                           + (SELECT count(*) FROM tasks WHERE user_id = u.id)
                           + (SELECT count(*) FROM chat_messages WHERE user_id = u.id)
                    FROM users u ORDER BY random() LIMIT 1""");
                    ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return "nothing to pick";
                }
                long id = rs.getLong(1);
                String org = org(random, rs.getString(2));
                long dependents = rs.getLong(3);
                update(c, "UPDATE users SET org = ? WHERE id = ?", org, id);
                int also = random.nextInt(6);
                if (also == 0) {
                    update(c, "UPDATE users SET org = ? WHERE id = ?", org(random, org), id);
                    return "tenant moves twice in one transaction";
                }
                if (also == 1) {
                    List<Long> agent = row(c, "SELECT id, owner_id FROM agents WHERE owner_id = " + id + " LIMIT 1");
                    if (agent != null) {
                        insertTask(c, random, id, agent.get(0));
                        insertMessage(c, random, id, agent.get(0));
                        return "tenant moves with new work in the same transaction";
                    }
                }
                return dependents > 0 ? "tenant moves of users with rows" : "tenant moves of users without rows";
            }
        }

        /** A status change; sometimes another agent of the same user (the agent dimension changes). */
        private String updateTask(Connection c, Random random) throws SQLException {
            String status = STATUSES[random.nextInt(STATUSES.length)];
            if (random.nextInt(3) == 0) {
                update(c, """
                        UPDATE tasks t SET status = ?, agent_id = coalesce((SELECT a.id FROM agents a
                            WHERE a.owner_id = t.user_id AND a.id <> t.agent_id ORDER BY random() LIMIT 1), t.agent_id)
                        WHERE id = (SELECT id FROM tasks ORDER BY random() LIMIT 1)""", status);
                return "updates of tasks with another agent";
            }
            update(c, "UPDATE tasks SET status = ?, title = ? WHERE id = (SELECT id FROM tasks ORDER BY random() LIMIT 1)",
                    status, "edited " + random.nextInt(1000));
            return "updates of tasks";
        }

        /** New content; sometimes another platform (the chat stream and platform dimensions change). */
        private String updateMessage(Connection c, Random random) throws SQLException {
            if (random.nextInt(3) == 0) {
                String platform = PLATFORMS[random.nextInt(PLATFORMS.length)];
                update(c, """
                        UPDATE chat_messages SET sender = ? || ':' || split_part(sender, ':', 2),
                                                 receiver = ? || ':' || split_part(receiver, ':', 2)
                        WHERE id = (SELECT id FROM chat_messages ORDER BY random() LIMIT 1)""", platform, platform);
                return "updates of chat_messages to another platform";
            }
            update(c, "UPDATE chat_messages SET content = ? WHERE id = (SELECT id FROM chat_messages ORDER BY random() LIMIT 1)",
                    "edited " + random.nextInt(1000));
            return "updates of chat_messages";
        }

        /** A random row; a user or an agent takes its rows with it (ON DELETE CASCADE). */
        private String deleteOne(Connection c, String table) throws SQLException {
            update(c, "DELETE FROM " + table + " WHERE id = (SELECT id FROM " + table + " ORDER BY random() LIMIT 1)");
            return "deletes of " + table;
        }

        private void insertTask(Connection c, Random random, long userId, long agentId) throws SQLException {
            long id = nextId.incrementAndGet();
            update(c, "INSERT INTO tasks (id, user_id, agent_id, title, status) VALUES (?, ?, ?, ?, ?)", id, userId, agentId,
                    "task " + id, STATUSES[random.nextInt(STATUSES.length)]);
        }

        private void insertMessage(Connection c, Random random, long userId, long agentId) throws SQLException {
            long id = nextId.incrementAndGet();
            String platform = PLATFORMS[random.nextInt(PLATFORMS.length)];
            update(c, "INSERT INTO chat_messages (id, user_id, agent_id, sender, receiver, content) VALUES (?, ?, ?, ?, ?, ?)",
                    id, userId, agentId, platform + ":" + (10000 + userId), platform + ":" + (90000 + agentId), "message " + id);
        }

        /** One of the sample's organisations, or now and then a new one; never {@code not}. */
        private static String org(Random random, String not) {
            String org;
            do {
                org = random.nextInt(10) == 0 ? "org-new-" + random.nextInt(5) : "org-" + (1 + random.nextInt(3));
            } while (org.equals(not));
            return org;
        }

        private static void update(Connection c, String sql, Object... parameters) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < parameters.length; i++) {
                    ps.setObject(i + 1, parameters[i]);
                }
                ps.executeUpdate();
            }
        }

        /** The first row of a query of bigint columns, or null. */
        private static List<Long> row(Connection c, String query) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(query); ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                List<Long> row = new ArrayList<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.add(rs.getLong(i));
                }
                return row;
            }
        }
    }
}
