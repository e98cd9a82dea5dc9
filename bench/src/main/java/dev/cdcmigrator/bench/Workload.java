package dev.cdcmigrator.bench;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The issue's workload: the v1 tasks table with N rows, the markers table, and the pgbench mix. */
final class Workload {

    /** The v1 table of the issue; the native target gets the same shape. */
    static final String V1_TASKS = """
            CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint, agent_id bigint, type text, params jsonb,
                                status text, timeout int, retries int, created_at timestamptz, updated_at timestamptz);
            """;

    static final String MARKERS = "CREATE TABLE markers (id serial PRIMARY KEY, at timestamptz NOT NULL);\n";

    /**
     * Where the target records when a marker row arrived: a deferred constraint trigger fires at the commit of the
     * applying transaction, and ENABLE ALWAYS makes it fire under logical replication's apply worker too (which runs
     * with session_replication_role = replica).
     */
    static final String MARKER_APPLIED = """
            CREATE TABLE marker_applied (id int PRIMARY KEY, at timestamptz NOT NULL, applied_at timestamptz NOT NULL);
            CREATE FUNCTION record_marker() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO public.marker_applied VALUES (NEW.id, NEW.at, clock_timestamp()) ON CONFLICT (id) DO NOTHING;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER marker_applied AFTER INSERT OR UPDATE ON markers
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION record_marker();
            ALTER TABLE markers ENABLE ALWAYS TRIGGER marker_applied;
            """;

    /** The v2 table of the pipeline run: Keiko-style renames, a mapped status, a derived priority, a tenant. */
    static final String V2_TASKS = """
            CREATE TABLE tasks (id bigint PRIMARY KEY, tenant_id text NOT NULL, user_id bigint, agent_id bigint,
                                task_type text NOT NULL, parameters jsonb, status text NOT NULL, priority text NOT NULL,
                                timeout_seconds int NOT NULL, retry_count int NOT NULL,
                                created_at timestamptz, updated_at timestamptz);
            CREATE TABLE markers (id int PRIMARY KEY, at timestamptz NOT NULL);
            """;

    /** 60% update of status/updated_at of a random id, 30% insert (ids from a sequence), 10% delete of a random id. */
    static final String PGBENCH_SCRIPT = """
            \\set r random(1, 100)
            \\set id random(1, :nrows)
            \\set s random(0, 4)
            \\if :r <= 60
            UPDATE tasks SET status = (CASE CAST(:s AS int) WHEN 0 THEN 'created' WHEN 1 THEN 'queued' WHEN 2 THEN 'running' WHEN 3 THEN 'finished' ELSE 'failed' END), updated_at = clock_timestamp() WHERE id = :id;
            \\elif :r <= 90
            INSERT INTO tasks (id, user_id, agent_id, type, params, status, timeout, retries, created_at, updated_at) VALUES (nextval('tasks_id_seq'), 1 + CAST(:id AS bigint) % 1000, 1 + CAST(:id AS bigint) % 200, 'text_processing', '{"prompt": "Summarize the live document", "model": "m-2", "max_tokens": 512, "urgent": false, "background": true}', 'created', 300, 0, clock_timestamp(), clock_timestamp());
            \\else
            DELETE FROM tasks WHERE id = :id;
            \\endif
            """;

    private Workload() {
    }

    /**
     * LocalPostgres runs with fsync=off and synchronous_commit=off (throwaway data). The WAL senders (native
     * replication's and Debezium's) only send WAL that has been flushed, which with synchronous_commit=off waits for
     * the WAL writer (wal_writer_delay, 200 ms): every change would arrive up to 200 ms late on both paths. Commits
     * flush again here, as on a production server; with fsync=off a flush costs a write, not a disk sync.
     */
    static void productionLikeCommits(Connection c) throws SQLException {
        Db.exec(c, "ALTER SYSTEM SET synchronous_commit = on");
        Db.exec(c, "SELECT pg_reload_conf()");
    }

    /** Creates tasks (N rows, generate_series), its id sequence and markers on v1; returns seconds taken. */
    static double loadSource(Connection c, long rows) throws SQLException {
        long started = System.nanoTime();
        Db.exec(c, V1_TASKS + MARKERS + "CREATE SEQUENCE tasks_id_seq;");
        Db.exec(c, """
                INSERT INTO tasks
                SELECT g, 1 + g % 1000, 1 + g % 200,
                       (ARRAY['text_processing', 'image_generation', 'data_analysis', 'generic'])[1 + g % 4],
                       jsonb_build_object('prompt', 'Summarize document ' || g, 'model', 'm-' || (g % 3),
                                          'max_tokens', 256 + g % 768, 'urgent', g % 10 = 0, 'background', g % 7 = 0),
                       (ARRAY['created', 'queued', 'running', 'finished', 'failed'])[1 + g % 5],
                       60 + g % 600, g % 4,
                       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
                       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' + interval '5 minutes'
                FROM generate_series(1, ROWS) g
                """.replace("ROWS", Long.toString(rows)));
        Db.exec(c, "SELECT setval('tasks_id_seq', " + rows + ")");
        Db.exec(c, "VACUUM ANALYZE tasks");
        return (System.nanoTime() - started) / 1e9;
    }

    /** Inserted, updated and deleted tasks rows on this server so far (flushed statistics). */
    static long tupleChanges(Connection c) throws SQLException, InterruptedException {
        // Backends flush their counters at most once a second and when they exit: wait until the figure is stable.
        long previous = -1;
        for (int i = 0; i < 50; i++) {
            long now = Db.queryLong(c, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'tasks'");
            if (now == previous) {
                return now;
            }
            previous = now;
            Thread.sleep(300);
        }
        return previous;
    }

    /** What one pgbench run did. */
    record PgbenchResult(double seconds, long transactions, double tps, long endedAtMillis, String output) {
    }

    /**
     * Runs the pgbench mix against {@code pg} for {@code seconds} with {@code clients} clients, at full speed
     * ({@code rate} 0) or at {@code rate} transactions/s.
     */
    static PgbenchResult pgbench(LocalPostgres pg, Path workDir, long rows, int clients, int seconds, int rate)
            throws IOException, InterruptedException {
        Path script = workDir.resolve("tasks-mix.pgbench");
        Files.writeString(script, PGBENCH_SCRIPT);
        Path pgbench = LocalPostgres.findBinDir().orElseThrow().resolve("pgbench");
        List<String> command = new ArrayList<>(List.of(pgbench.toString(), "-h", pg.host(), "-p", Integer.toString(pg.port()),
                "-U", pg.user(), "-n", "-M", "prepared", "-c", Integer.toString(clients), "-j", Integer.toString(clients),
                "-T", Integer.toString(seconds), "-D", "nrows=" + rows, "-f", script.toString()));
        if (rate > 0) {
            command.addAll(List.of("-R", Integer.toString(rate)));
        }
        command.add(Db.DATABASE);
        Path out = workDir.resolve("pgbench-" + System.nanoTime() + ".out");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("PG"));
        long started = System.nanoTime();
        Process process = builder.start();
        if (!process.waitFor(seconds + 120L, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("pgbench did not finish; output in " + out);
        }
        long endedAt = System.currentTimeMillis();
        double took = (System.nanoTime() - started) / 1e9;
        String text = Files.readString(out);
        if (process.exitValue() != 0) {
            throw new IllegalStateException("pgbench exited with " + process.exitValue() + ":\n" + text);
        }
        return new PgbenchResult(took, find(text, "number of transactions actually processed: (\\d+)").longValue(),
                find(text, "tps = ([0-9.]+)").doubleValue(), endedAt, text);
    }

    private static Double find(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("pgbench output lacks /" + regex + "/:\n" + text);
        }
        return Double.valueOf(m.group(1));
    }
}
