package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.CopiedColumns;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17's whole schema at once, with {@code backfill.mode: copy} under a concurrent write load that runs from
 * before the copy until after capture streams: a table with quoted mixed-case names (an identity key, a reserved
 * word, a non-ASCII column) restructured into v2; a range-partitioned table keyed by {@code (bigint, timestamptz)}
 * whose rows move between partitions; a keyless append-only audit log ({@code append: true}); a keyless table under
 * {@code REPLICA IDENTITY FULL} holding identical rows, one of which is updated or deleted at a time; and 20
 * tables with identity keys declared in one line. v2 then equals v1 row by row (as multisets for the keyless
 * tables), {@code verify} agrees, and after {@code cutover sync-sequences} v2 hands out identities above v1's.
 */
class MixedSchemaIT {

    private static final int IDENTITY_TABLES = 20;
    private static final List<String> NUMBERED = IntStream.rangeClosed(1, IDENTITY_TABLES)
            .mapToObj(i -> String.format("t%02d", i)).toList();

    private final PostgresServer pg = TestPostgres.shared();
    private Pipeline pipeline;
    private Load load;
    private String v1;
    private String slot;

    @AfterEach
    void stop() throws Exception {
        if (load != null) {
            load.close();
        }
        if (pipeline != null) {
            pipeline.close();
        }
        if (slot != null) {
            pg.dropSlotOnceReleased(v1, slot);
        }
    }

    private static String schema(boolean v2) {
        StringBuilder sql = new StringBuilder(v2
                ? "CREATE TABLE order_lines (line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, choice text, size int NOT NULL);\n"
                : "CREATE TABLE \"Order Lines\" (\"Line Id\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \"select\" text,"
                        + " \"Größe\" int NOT NULL);\n");
        sql.append("""
                CREATE TABLE events (id bigint, happened_at timestamptz, kind text, PRIMARY KEY (id, happened_at))
                    PARTITION BY RANGE (happened_at);
                CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01 00:00+00') TO ('2026-01-01 00:00+00');
                CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2027-01-01 00:00+00');
                CREATE TABLE audit_log (at timestamptz NOT NULL, who text, what text);
                CREATE TABLE pairs (a int, b text);
                """);
        for (String table : NUMBERED) {
            sql.append("CREATE TABLE ").append(table).append(" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, n int);\n");
        }
        return sql.toString();
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void everyKindOfTableIsMigratedExactlyUnderLoad(@TempDir Path dir) throws Exception {
        v1 = pg.createDatabase("mixed_v1");
        String v2 = pg.createDatabase("mixed_v2");
        StringBuilder rows = new StringBuilder(schema(false)).append("""
                ALTER TABLE pairs REPLICA IDENTITY FULL;
                INSERT INTO "Order Lines" ("select", "Größe") SELECT 'pick ' || g, g FROM generate_series(1, 300) g;
                INSERT INTO events SELECT g, timestamptz '2025-06-01 00:00+00' + g * interval '1 hour 0.000001 second', 'seed'
                    FROM generate_series(1, 400) g;
                INSERT INTO audit_log SELECT timestamptz '2025-01-01 00:00+00' + g * interval '1 minute', 'u' || g % 5, 'seed'
                    FROM generate_series(1, 250) g;
                INSERT INTO pairs SELECT g % 40, 'same' FROM generate_series(1, 200) g;
                """);
        for (String table : NUMBERED) {
            rows.append("INSERT INTO ").append(table).append(" (name, n) SELECT 'r' || g, g FROM generate_series(1, 60) g;\n");
        }
        pg.execute(v1, rows.toString());
        pg.execute(v2, schema(true));
        String prefix = "mixed_" + v1.substring(v1.lastIndexOf('_') + 1);
        Path file = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 3 }
                backfill: { mode: copy, chunkRows: 40, parallelism: 2 }
                otherTables: copy
                tables:
                  "Order Lines":
                    into: order_lines
                    columns:
                      line_id: { from: "Line Id" }
                      choice: { from: select }
                      size: { from: "Größe" }
                  audit_log: { copy: all, append: true }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix));

        CliRun check = CliRun.of("check", "--spec", file.toString());
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);
        for (String table : List.of("events", "pairs", "t01", "t20")) {
            assertThat(check.out()).as(check.toString()).contains("otherTables: maps v1 public." + table + " as copy: all");
        }

        Spec spec = CopiedColumns.resolve(new SpecParser().parse(file)).spec();
        slot = new Topics(spec).slot();
        load = new Load(pg.connect(v1));
        await().atMost(Duration.ofSeconds(30)).until(() -> load.transactions.get() >= 20);
        pipeline = Pipeline.start(spec, dir.resolve("data"), 0, new SimpleMeterRegistry());
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(load.failure.get()).isNull();
            return pipeline.running();
        });
        long atStreaming = load.transactions.get();
        await().atMost(Duration.ofMinutes(1)).until(() -> load.transactions.get() >= atStreaming + 150);
        load.close();
        assertThat(load.failure.get()).isNull();

        List<String[]> compared = new ArrayList<>(List.of(
                new String[] {"SELECT \"Line Id\", \"select\", \"Größe\" FROM \"Order Lines\" ORDER BY 1", "SELECT line_id, choice, size FROM order_lines ORDER BY 1"},
                new String[] {"SELECT id, happened_at, kind, tableoid::regclass FROM events ORDER BY 1, 2", null},
                new String[] {"SELECT at, who, what FROM audit_log ORDER BY 1, 2, 3", null},
                new String[] {"SELECT a, b, count(*) FROM pairs GROUP BY a, b ORDER BY 1, 2", null}));
        NUMBERED.forEach(table -> compared.add(new String[] {"SELECT id, name, n FROM " + table + " ORDER BY id", null}));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            for (String[] query : compared) {
                assertThat(pg.rows(v2, query[1] != null ? query[1] : query[0])).as(query[0]).isEqualTo(pg.rows(v1, query[0]));
            }
        });
        assertThat(pg.rows(v1, "SELECT count(*) FROM pairs GROUP BY a, b HAVING count(*) > 1").size())
                .as("groups of identical rows in pairs").isGreaterThan(10);
        assertThat(pg.rows(v1, "SELECT count(*) FROM events_2026").get(0).get(0)).as("events moved to 2026").isNotEqualTo("0");

        CliRun verify = CliRun.of("verify", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        pipeline.close();
        pipeline = null;
        CliRun sync = CliRun.of("cutover", "sync-sequences", "--spec", file.toString());
        assertThat(sync.exit()).as(sync.toString()).isEqualTo(ExitCodes.OK);
        for (String table : List.of("t01", "t20", "order_lines")) {
            String column = table.equals("order_lines") ? "line_id" : "id";
            String extra = table.equals("order_lines") ? "(choice, size) VALUES ('new', 1)" : "(name, n) VALUES ('new', 1)";
            List<List<String>> inserted = pg.rows(v2, "INSERT INTO " + table + " " + extra + " RETURNING " + column
                    + " > (SELECT max(" + column + ") FROM " + table + ")");
            assertThat(inserted).as("v2 identity of %s after sync-sequences", table).isEqualTo(List.of(List.of("t")));
        }
    }

    /**
     * Transactions of a few changes each across every kind of table, on their own thread, until closed: inserts,
     * updates, deletes, partition moves, and one of two identical rows updated or deleted.
     */
    private static final class Load implements AutoCloseable {

        final AtomicLong transactions = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final AtomicBoolean stopping = new AtomicBoolean();
        private final Connection connection;
        private final Thread thread;

        Load(Connection connection) throws SQLException {
            this.connection = connection;
            connection.setAutoCommit(false);
            thread = new Thread(this::run, "mixed-schema-load");
            thread.start();
        }

        private void run() {
            Random random = new Random(17);
            try (Statement st = connection.createStatement()) {
                long next = 1_000;
                while (!stopping.get()) {
                    String table = NUMBERED.get(random.nextInt(NUMBERED.size()));
                    int id = 1 + random.nextInt(80);
                    st.execute("INSERT INTO " + table + " (name, n) VALUES ('load', " + id + ")");
                    st.execute("UPDATE " + table + " SET n = n + 1, name = name || '+' WHERE id = " + id);
                    if (random.nextInt(4) == 0) {
                        st.execute("DELETE FROM " + table + " WHERE id = " + (1 + random.nextInt(80)));
                    }
                    st.execute("INSERT INTO \"Order Lines\" (\"select\", \"Größe\") VALUES ('load', " + id + ")");
                    st.execute("UPDATE \"Order Lines\" SET \"Größe\" = \"Größe\" + 1 WHERE \"Line Id\" = " + (1 + random.nextInt(320)));
                    if (random.nextInt(5) == 0) {
                        st.execute("DELETE FROM \"Order Lines\" WHERE \"Line Id\" = " + (1 + random.nextInt(320)));
                    }
                    long event = next++;
                    st.execute("INSERT INTO events VALUES (" + event + ", timestamptz '2025-03-01 00:00+00' + " + event
                            + " * interval '1 minute', 'load')");
                    // A new happened_at in the other year moves the row to the other partition.
                    st.execute("UPDATE events SET happened_at = happened_at + interval '300 days', kind = 'moved'"
                            + " WHERE id = " + (1 + random.nextInt(400)) + " AND happened_at < '2026-01-01 00:00+00'");
                    st.execute("UPDATE events SET kind = kind || '+' WHERE id = " + (1 + random.nextInt(400)));
                    st.execute("INSERT INTO audit_log VALUES (clock_timestamp(), 'load', 'tx " + event + "')");
                    int a = random.nextInt(40);
                    st.execute("INSERT INTO pairs VALUES (" + a + ", 'same')");
                    String one = "ctid = (SELECT ctid FROM pairs WHERE a = " + random.nextInt(40) + " LIMIT 1)";
                    st.execute(random.nextBoolean() ? "UPDATE pairs SET b = b || '+' WHERE " + one : "DELETE FROM pairs WHERE " + one);
                    connection.commit();
                    transactions.incrementAndGet();
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        }

        @Override
        public void close() throws Exception {
            stopping.set(true);
            thread.join(TimeUnit.SECONDS.toMillis(30));
            connection.close();
        }
    }
}
