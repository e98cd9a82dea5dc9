package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
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
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One v1 transaction of a million rows, committed while the pipeline streams (issue 5): PostgreSQL decodes it only
 * at its commit and then sends it whole, so capture, the transform and the sink see a million changes at once, in one
 * v1 transaction. The same transaction also updates and deletes some of its own rows and of the rows before it, and
 * changes some primary keys; a small transaction after it touches its rows again and must win.
 *
 * <p>v2 must end with exactly v1's rows: the same count and the same order-independent checksum (the sum of
 * {@code hashtext} of each row's text; both tables have the same column types in the same order, so a row's text is
 * the same on both sides), and no dead letters. How long each stage took after the commit is logged (the stages run
 * concurrently, so a stage's time includes waiting for the one before it), with the backlog of each stage every 10 s.
 */
class LargeTransactionIT {

    private static final int INITIAL_ROWS = 1_000;
    private static final int BIG_ROWS = 1_000_000;
    private static final String V1_CHECKSUM = "SELECT count(*), coalesce(sum(hashtext(i::text)::bigint), 0) FROM items i";
    private static final String V2_CHECKSUM = "SELECT count(*), coalesce(sum(hashtext(l::text)::bigint), 0) FROM line_items l";
    /** Per 10,000 ids, to name where v1 and v2 differ when the checksums do. */
    private static final String V1_BUCKETS =
            "SELECT id / 10000, count(*), sum(hashtext(i::text)::bigint) FROM items i GROUP BY 1 ORDER BY 1";
    private static final String V2_BUCKETS =
            "SELECT item_id / 10000, count(*), sum(hashtext(l::text)::bigint) FROM line_items l GROUP BY 1 ORDER BY 1";

    private final PostgresServer pg = TestPostgres.shared();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ScheduledExecutorService progress = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "large-transaction-progress");
        t.setDaemon(true);
        return t;
    });
    private String v1;
    private String v2;
    private Spec spec;
    private Pipeline pipeline;

    @AfterEach
    void stop() {
        progress.shutdownNow();
        if (pipeline != null) {
            pipeline.close();
        }
        if (spec != null) {
            // The slot would otherwise keep the million rows' WAL on the shared server for the rest of the run.
            String slot = new Topics(spec).slot();
            pg.dropSlotOnceReleased(v1, slot);
        }
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void aMillionRowTransactionThatAlsoUpdatesAndDeletesItsRowsReachesV2Whole(@TempDir Path dir) throws Exception {
        v1 = pg.createDatabase("large_tx_v1");
        v2 = pg.createDatabase("large_tx_v2");
        pg.execute(v1, """
                CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL, label text);
                INSERT INTO items SELECT g, g %% 1000, 'item ' || g FROM generate_series(1, %d) g;
                """.formatted(INITIAL_ROWS));
        pg.execute(v2, "CREATE TABLE line_items (item_id bigint PRIMARY KEY, quantity integer NOT NULL, label text)");
        String prefix = "large_tx_" + v1.substring(v1.lastIndexOf('_') + 1);
        Path specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 3 }
                tables:
                  items:
                    into: line_items
                    columns:
                      item_id: { from: id }
                      quantity: { from: qty }
                      label: { from: label }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix));
        spec = new SpecParser().parse(specFile);
        Topics topics = new Topics(spec);
        String bootstrap = TestKafka.bootstrapServers();
        String raw = topics.raw("items");

        pipeline = Pipeline.start(spec, dir.resolve("data"), 0, registry);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pg.rows(v2, "SELECT count(*) FROM line_items").get(0).get(0).equals(Integer.toString(INITIAL_ROWS));
        });
        // The snapshot is applied; one streamed change applied shows that capture streams.
        pg.execute(v1, "UPDATE items SET label = 'streamed' WHERE id = 1");
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200)).until(() ->
                pg.rows(v2, "SELECT label FROM line_items WHERE item_id = 1").equals(List.of(List.of("streamed"))));
        double publishedBefore = captured();

        long committing = System.nanoTime();
        long changes = 0;
        try (Connection c = pg.connect(v1)) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                changes += st.executeUpdate("INSERT INTO items SELECT g, g % 1000, 'item ' || g FROM generate_series("
                        + (INITIAL_ROWS + 1) + ", " + (INITIAL_ROWS + BIG_ROWS) + ") g");
                // Rows from before the transaction and rows of its own, in the same transaction.
                changes += st.executeUpdate("UPDATE items SET qty = qty + 1, label = label || ' updated' WHERE id % 100 = 0");
                // Some just inserted, some just updated (id % 9700 = 0), some from before.
                changes += st.executeUpdate("DELETE FROM items WHERE id % 97 = 0");
                // A primary-key change is a delete and a create in the change stream.
                changes += 2L * st.executeUpdate("UPDATE items SET id = id + 10000000 WHERE id % 50000 = 7");
            }
            c.commit();
        }
        long committed = System.nanoTime();
        log("v1 transaction of " + changes + " row changes committed in " + seconds(committing, committed));
        // After the big transaction, on some of its rows (one of them moved by the key change): these must win.
        pg.execute(v1, "UPDATE items SET label = 'after the big one' WHERE id IN (500001, 999999, 10500007)");
        long expectedPublished = (long) publishedBefore + changes + 3;

        progress.scheduleAtFixedRate(() -> log(backlog(raw, topics, bootstrap, committed)), 10, 10, TimeUnit.SECONDS);

        // The stages run concurrently: each one's time includes waiting for the one before it.
        await().atMost(Duration.ofMinutes(15)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return captured() >= expectedPublished;
        });
        long captureDone = System.nanoTime();
        log("capture published every change " + seconds(committed, captureDone) + " after the commit");
        long rawEnd = FaultDiagnosis.endOffsets(bootstrap, raw);
        await().atMost(Duration.ofMinutes(15)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return FaultDiagnosis.committedOffsets(bootstrap, topics.transformApplicationId(), raw) >= rawEnd;
        });
        long transformDone = System.nanoTime();
        log("transform committed every change " + seconds(committed, transformDone) + " after the commit");
        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT15M");
        long sinkDone = System.nanoTime();
        assertThat(wait.exit()).as("cutover wait: %s", wait).isZero();
        log("sink applied every change " + seconds(committed, sinkDone) + " after the commit (cutover wait exited 0)");
        log("the million-row transaction took " + seconds(committing, sinkDone) + " from its first statement to v2:"
                + " commit " + seconds(committing, committed) + ", then capture " + seconds(committed, captureDone)
                + ", transform +" + seconds(captureDone, transformDone) + ", sink +" + seconds(transformDone, sinkDone));
        progress.shutdownNow();

        List<List<String>> expected = pg.rows(v1, V1_CHECKSUM);
        List<List<String>> actual = pg.rows(v2, V2_CHECKSUM);
        if (!actual.equals(expected)) {
            log("v2 differs from v1 in these ranges of 10,000 ids [bucket, count, checksum]: "
                    + differingBuckets(pg.rows(v1, V1_BUCKETS), pg.rows(v2, V2_BUCKETS)));
        }
        assertThat(actual).as("[count, checksum] of v2 against v1").isEqualTo(expected);
        assertThat(Long.parseLong(expected.get(0).get(0))).as("rows in v1")
                .isEqualTo(INITIAL_ROWS + BIG_ROWS - (INITIAL_ROWS + BIG_ROWS) / 97);
        assertThat(pg.rows(v2, "SELECT item_id, label FROM line_items WHERE label = 'after the big one' ORDER BY 1"))
                .containsExactly(List.of("500001", "after the big one"), List.of("999999", "after the big one"),
                        List.of("10500007", "after the big one"));
        log("v2 equals v1: " + expected.get(0).get(0) + " rows, checksum " + expected.get(0).get(1));

        CliRun dlq = CliRun.of("dlq", "list", "--spec", specFile.toString());
        assertThat(dlq.exit()).as(dlq.toString()).isZero();
        assertThat(dlq.out()).as("dead letters").startsWith("0 dead letters in " + topics.deadLetters());
    }

    /** What capture has published of v1 table items so far (snapshot reads included). */
    private double captured() {
        return registry.find("migrator.capture.changes").tag("table", "public.items").tag("outcome", "published")
                .counters().stream().mapToDouble(c -> c.count()).sum();
    }

    /** Where the changes are: published by capture, committed by the transform, stored as applied by the sink. */
    private String backlog(String raw, Topics topics, String bootstrap, long since) {
        try {
            String v2Topic = topics.v2("line_items");
            long rawEnd = FaultDiagnosis.endOffsets(bootstrap, raw);
            long transformed = FaultDiagnosis.committedOffsets(bootstrap, topics.transformApplicationId(), raw);
            long v2End = FaultDiagnosis.endOffsets(bootstrap, v2Topic);
            String applied = pg.rows(v2, "SELECT coalesce(sum(next_offset), 0) FROM " + spec.target().stateSchema()
                    + ".sink_offsets WHERE topic = '" + v2Topic + "'").get(0).get(0);
            return String.format("[%s after the commit] raw topic %,d records; transform committed %,d (%,d behind);"
                            + " v2 topic %,d; sink stored %,d (%,d behind)", seconds(since, System.nanoTime()), rawEnd,
                    transformed, rawEnd - transformed, v2End, Long.parseLong(applied), v2End - Long.parseLong(applied));
        } catch (RuntimeException e) {
            return "progress unknown: " + e;
        }
    }

    private static List<String> differingBuckets(List<List<String>> v1, List<List<String>> v2) {
        Map<String, List<String>> expected = new TreeMap<>();
        v1.forEach(r -> expected.put(r.get(0), r));
        Map<String, List<String>> actual = new TreeMap<>();
        v2.forEach(r -> actual.put(r.get(0), r));
        List<String> differing = new ArrayList<>();
        expected.forEach((bucket, row) -> {
            if (!row.equals(actual.get(bucket))) {
                differing.add("v1 " + row + " v2 " + actual.get(bucket));
            }
        });
        actual.keySet().stream().filter(b -> !expected.containsKey(b)).forEach(b -> differing.add("v1 none v2 " + actual.get(b)));
        return differing.subList(0, Math.min(20, differing.size()));
    }

    private static String seconds(long fromNanos, long toNanos) {
        return String.format("%.1f s", (toNanos - fromNanos) / 1e9);
    }

    private static void log(String message) {
        System.out.printf("%tT.%<tL [LargeTransactionIT] %s%n", System.currentTimeMillis(), message);
    }
}
