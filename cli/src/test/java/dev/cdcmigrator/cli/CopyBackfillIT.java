package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backfill.mode: copy} (issue 9's fast path, issue 7's resumable backfill): the rows already in v1 reach v2
 * through COPY from the slot's exported snapshot, not through the sink; the transform still holds their images, so
 * that later updates which leave a TOASTed value unchanged (Debezium's placeholder) are filled from the copy; and a
 * pipeline stopped in the middle of the copy resumes without copying a chunk twice, skipping exactly the streamed
 * changes that the chunks copied after the restart already hold (no v2 row goes back in time, none appears that v1
 * never held at the end of a transaction the copy did not see).
 */
class CopyBackfillIT {

    private static final String V1_ROWS = "SELECT id, version, title, status, md5(body), octet_length(body) FROM docs ORDER BY id";
    private static final String V2_ROWS = "SELECT doc_id, version, heading, state, md5(content), octet_length(content) FROM documents ORDER BY doc_id";

    @RegisterExtension
    final Migration migration = new Migration("copy");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private Pipeline pipeline;

    private void setUp(Path dir, int rows, int chunkRows, String v2Extra) throws Exception {
        // Every 50th body is 40 KB of md5 text: incompressible enough to be stored out of line (TOASTed).
        pg.execute(v1, """
                CREATE TABLE docs (id bigint PRIMARY KEY, version int NOT NULL, title text, status text, body text);
                INSERT INTO docs SELECT g, 1, 'doc ' || g, 'draft',
                  CASE WHEN g %% 50 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 1250) i)
                       ELSE 'short ' || g END
                FROM generate_series(1, %d) g;
                """.formatted(rows));
        pg.execute(v2, """
                CREATE TABLE documents (doc_id bigint PRIMARY KEY, version int NOT NULL, heading text, state text, content text);
                CREATE TABLE inserted (doc_id bigint NOT NULL, version int NOT NULL, app text);
                CREATE TABLE regressions (doc_id bigint NOT NULL, old_version int, new_version int);
                CREATE FUNCTION watch() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN
                    INSERT INTO inserted VALUES (NEW.doc_id, NEW.version, current_setting('application_name'));
                  ELSIF NEW.version < OLD.version THEN
                    INSERT INTO regressions VALUES (NEW.doc_id, OLD.version, NEW.version);
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER watch AFTER INSERT OR UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION watch();
                """ + v2Extra);
        // The test's own triggers watch what the migration writes: they fire on applied rows.
        String triggers = v2Extra.contains("slow_copy") ? "documents.watch, documents.slow_copy" : "documents.watch";
        migration.writeSpec(dir, "", "triggers: [" + triggers + "]", "partitions: 3", """
                backfill: { mode: copy, chunkRows: %d, parallelism: 2 }
                tables:
                  docs:
                    into: documents
                    columns:
                      doc_id: { from: id }
                      version: { from: version }
                      heading: { from: title }
                      state: { from: status, map: { draft: DRAFT, published: PUBLISHED }, otherwise: OTHER }
                      content: { from: body }
                """.formatted(chunkRows));
    }

    private List<List<String>> expectedV2() {
        return pg.rows(v1, V1_ROWS).stream().map(r -> List.of(r.get(0), r.get(1), r.get(2),
                switch (r.get(3)) { case "draft" -> "DRAFT"; case "published" -> "PUBLISHED"; default -> "OTHER"; },
                r.get(4), r.get(5))).toList();
    }

    /** v2 holds exactly v1's rows, mapped; else names up to 10 missing and 10 extra rows. */
    private void assertSameRows() {
        List<List<String>> expected = expectedV2();
        List<List<String>> actual = pg.rows(v2, V2_ROWS);
        java.util.Set<List<String>> missing = new java.util.LinkedHashSet<>(expected);
        actual.forEach(missing::remove);
        java.util.Set<List<String>> extra = new java.util.LinkedHashSet<>(actual);
        expected.forEach(extra::remove);
        assertThat(missing.size() + extra.size()).as("v2 differs from v1: %d rows missing, e.g. %s; %d extra, e.g. %s",
                missing.size(), missing.stream().limit(10).toList(), extra.size(), extra.stream().limit(10).toList()).isZero();
    }

    private int chunksCopied() {
        if (pg.rows(v2, "SELECT to_regclass('migrator_state.backfill_chunks') IS NULL").get(0).get(0).equals("t")) {
            return 0;
        }
        return Integer.parseInt(pg.rows(v2, "SELECT count(copied_at) FROM migrator_state.backfill_chunks").get(0).get(0));
    }

    private double sinkApplied() {
        return registry.find("migrator.sink.rows.applied").counters().stream().mapToDouble(c -> c.count()).sum();
    }

    /**
     * A transaction left open anywhere on v1's server holds up the creation of the slot (PostgreSQL's rule); the
     * pipeline says so, naming it, where an operator looks ({@code /ready}, status), and copies once it ends.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aTransactionLeftOpenOnTheServerIsNamedWhileTheSlotWaitsForIt(@TempDir Path dir) throws Exception {
        setUp(dir, 500, 100, "CREATE TABLE scratch (n int);");
        try (Connection holder = DriverManager.getConnection(pg.jdbcUrl(v2), pg.user(), pg.password())) {
            holder.setAutoCommit(false);
            long holderPid;
            try (Statement st = holder.createStatement()) {
                // In v2's database, not v1's: the slot waits for every database's transactions.
                st.execute("INSERT INTO scratch VALUES (1)");
                try (ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
                    rs.next();
                    holderPid = rs.getLong(1);
                }
            }
            pipeline = migration.start(registry);
            String reported = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                assertThat(pipeline.failure()).isEmpty();
                return pipeline.notReady().orElse("");
            }, ready -> ready.contains("pid " + holderPid + " (database " + v2));
            assertThat(reported).contains("waits for the transactions open on the v1 server to end", "1 open");
            assertThat(pg.rows(v2, "SELECT count(*) FROM documents")).isEqualTo(List.of(List.of("0")));
            holder.rollback();
        }
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
        assertSameRows();
        assertThat(pipeline.notReady()).isEmpty();
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theCopyWritesV2ItselfAndLaterUpdatesFillTheirUnchangedToastedValuesFromIt(@TempDir Path dir) throws Exception {
        setUp(dir, 5_000, 700, "");
        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
        assertSameRows();
        assertThat(sinkApplied()).as("rows the sink applied during the copy").isZero();
        assertThat(pg.rows(v2, "SELECT count(*), count(DISTINCT doc_id), min(app), max(app) FROM inserted"))
                .isEqualTo(List.of(List.of("5000", "5000", "migrator-backfill-copy", "migrator-backfill-copy")));
        assertThat(registry.get("migrator.backfill.rows").tag("table", "docs").tag("outcome", "copied").counter().count()).isEqualTo(5000);
        assertThat(pg.rows(v2, "SELECT count(*), count(copied_at) FROM migrator_state.backfill_chunks")).isEqualTo(List.of(List.of("8", "8")));

        // Updates that leave the TOASTed bodies unchanged reach capture with Debezium's placeholder for them; the
        // transform fills them from the images the copy sent. Also deletes, inserts and key changes (of rows without
        // a TOASTed value: the new key's row has no image, see docs/guarantees.md).
        pg.execute(v1, """
                UPDATE docs SET status = 'published', version = version + 1 WHERE id % 50 = 0 OR id % 7 = 0;
                DELETE FROM docs WHERE id % 11 = 0;
                INSERT INTO docs SELECT g, 1, 'new ' || g, 'draft', 'new body' FROM generate_series(5001, 5100) g;
                UPDATE docs SET id = id + 100000, version = version + 1 WHERE id IN (101, 201);
                """);
        migration.awaitAsserted(Duration.ofMinutes(1), this::assertSameRows);
        assertThat(pg.rows(v2, "SELECT count(*) FROM regressions")).isEqualTo(List.of(List.of("0")));
        assertThat(registry.find("migrator.transform.records").tag("outcome", "dead_lettered").counters().stream()
                .mapToDouble(c -> c.count()).sum()).isZero();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aPipelineStoppedInTheMiddleOfTheCopyResumesWithoutCopyingAChunkTwice(@TempDir Path dir) throws Exception {
        // Each COPY of the backfill takes at least 0.3 s, so that the stop lands in the middle.
        setUp(dir, 6_000, 300, """
                CREATE FUNCTION slow_copy() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF current_setting('application_name') = 'migrator-backfill-copy' THEN PERFORM pg_sleep(0.3); END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER slow_copy AFTER INSERT ON documents FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();
                """);
        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return chunksCopied() >= 4;
        });
        migration.stop();
        List<List<String>> doneBefore = pg.rows(v2, "SELECT chunk, copied_at FROM migrator_state.backfill_chunks"
                + " WHERE copied_at IS NOT NULL ORDER BY chunk");
        assertThat(doneBefore.size()).as("chunks copied before the stop").isBetween(4, 19);

        // While it is stopped: changes to rows of copied chunks and of chunks still to copy, each row updated twice
        // (a replay of the first over the second would lower its version), deletes, and rows inserted then deleted
        // (a replay would make them appear in v2).
        pg.execute(v1, """
                UPDATE docs SET version = version + 1, status = 'published' WHERE id % 13 = 0;
                UPDATE docs SET version = version + 1, title = 'twice' WHERE id % 13 = 0;
                DELETE FROM docs WHERE id % 17 = 0;
                INSERT INTO docs SELECT g, 1, 'phantom', 'draft', 'gone soon' FROM generate_series(1000001, 1000050) g;
                DELETE FROM docs WHERE id > 1000000;
                INSERT INTO docs SELECT g, 1, 'late', 'draft', 'late body' FROM generate_series(6001, 6100) g;
                """);

        pipeline = migration.start(registry);
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> {
            assertThat(pipeline.failure()).isEmpty();
            return pipeline.running();
        });
        // Streamed after the resumed copy: more changes of both kinds of rows.
        pg.execute(v1, "UPDATE docs SET version = version + 1 WHERE id % 19 = 0");
        migration.awaitAsserted(Duration.ofMinutes(1), this::assertSameRows);
        assertThat(pg.rows(v2, "SELECT chunk, copied_at FROM migrator_state.backfill_chunks WHERE chunk <= "
                + doneBefore.get(doneBefore.size() - 1).get(0) + " AND snapshot_xmin IS NULL ORDER BY chunk"))
                .as("the chunks copied before the stop, untouched").containsAll(doneBefore);
        assertThat(pg.rows(v2, "SELECT count(*) FROM migrator_state.backfill_chunks WHERE snapshot_xmin IS NOT NULL").get(0).get(0))
                .as("chunks copied from the resumed run's snapshot").isNotEqualTo("0");
        assertThat(pg.rows(v2, "SELECT doc_id, count(*) FROM inserted GROUP BY doc_id HAVING count(*) > 1")).as("rows inserted twice").isEmpty();
        assertThat(pg.rows(v2, "SELECT count(*) FROM inserted WHERE doc_id > 1000000")).as("phantoms").isEqualTo(List.of(List.of("0")));
        assertThat(pg.rows(v2, "SELECT * FROM regressions")).as("rows gone back in time").isEmpty();
        assertThat(sinkApplied()).as("the sink applied only streamed changes").isLessThan(2000);
    }
}
