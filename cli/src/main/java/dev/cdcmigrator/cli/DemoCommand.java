package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.HttpEndpoints;
import dev.cdcmigrator.cli.internal.LoadGenerator;
import dev.cdcmigrator.cli.internal.Logging;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.cli.internal.Shutdown;
import dev.cdcmigrator.cli.internal.StatusScreen;
import dev.cdcmigrator.cli.internal.PrometheusMetrics;
import dev.cdcmigrator.common.spec.KafkaSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.CaughtUp;
import dev.cdcmigrator.cutover.Finding;
import dev.cdcmigrator.cutover.ReverseCheck;
import dev.cdcmigrator.cutover.TableComparison;
import dev.cdcmigrator.cutover.Verifier;
import dev.cdcmigrator.embedded.LocalPostgres;
import dev.cdcmigrator.transform.Reversal;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.flywaydb.core.Flyway;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec.Target;

/** {@code migrator demo}: a live migration of the Keiko example that a new user can watch. */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
    "A live migration of the Keiko example you can watch.",
    "Starts throwaway v1 and v2 PostgreSQL databases, loads the v1 sample, migrates it while a load keeps writing to",
    "v1, then checks that v2 holds exactly what the spec makes of v1."})
final class DemoCommand implements Callable<Integer> {

    private static final String DATABASE = "keiko";
    /** A clean stop of the demo takes a few seconds; past this, the second-signal path stops it at once. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final String TABLE_COUNTS = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM agents), (SELECT count(*) FROM tasks)";

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--tasks", defaultValue = "200000", paramLabel = "N", description = "v1 tasks to load before the migration starts (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--load-seconds", defaultValue = "20", paramLabel = "S", description = "How long the load writes to v1 (default: ${DEFAULT-VALUE}).")
    int loadSeconds;

    @Option(names = "--rate", defaultValue = "200", paramLabel = "N", description = "Changes per second the load writes to v1 (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--keep", description = "Leave everything running at the end, until Ctrl-C.")
    boolean keep;

    @Option(names = "--rollback", description = "Then the way back: check --reverse, run --reverse, writes on v2 reaching"
            + " v1, cutover wait and verify in reverse (docs/runbook.md, Rolling back).")
    boolean rollback;

    @Option(names = "--http-port", defaultValue = "" + HttpEndpoints.DEFAULT_PORT, paramLabel = "PORT",
            description = "Port of /metrics, /health and /ready on 127.0.0.1 (default: ${DEFAULT-VALUE}, or any free port"
                    + " when that one is taken; 0 for any free port).")
    int httpPort;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = command.commandLine().getOut();
        Path work = Files.createTempDirectory("cdc-migrator-demo-");
        Thread main = Thread.currentThread();
        long[] stopRequested = {0};
        Shutdown.onSignals(STOP_TIMEOUT, () -> {
            stopRequested[0] = System.nanoTime();
            out.println();
            out.println("Stopping: the load, then the migrator (each stage commits its batch), then the throwaway databases;"
                    + " Ctrl-C again stops at once.");
            out.flush();
            main.interrupt();
        });
        try (LocalPostgres v1 = LocalPostgres.start(work.resolve("v1-postgres"));
             LocalPostgres v2 = LocalPostgres.start(work.resolve("v2-postgres"))) {
            out.printf("1. Throwaway PostgreSQL: v1 on %s:%d, v2 on %s:%d (wal_level=logical)%n", v1.host(), v1.port(), v2.host(), v2.port());
            out.flush();
            v1.createDatabase(DATABASE);
            v2.createDatabase(DATABASE);
            long started = System.nanoTime();
            execute(v1, "SET keiko.tasks = " + tasks + ";\n" + resource("v1/schema.sql") + resource("v1/seed.sql"));
            Flyway.configure().dataSource(v2.jdbcUrl(DATABASE), v2.user(), "").locations("classpath:examples/keiko/v2")
                    .load().migrate();
            long[] loaded = counts(v1);
            out.printf("2. Loaded Keiko v1: %,d users, %,d agents, %,d tasks in %.1f s; applied the v2 schema (Flyway)%n",
                    loaded[0], loaded[1], loaded[2], seconds(started));
            out.flush();

            Map<String, String> env = Map.of("KEIKO_V1_URL", v1.jdbcUrl(DATABASE), "KEIKO_V1_USER", v1.user(), "KEIKO_V1_PASSWORD", "",
                    "KEIKO_V2_URL", v2.jdbcUrl(DATABASE), "KEIKO_V2_USER", v2.user(), "KEIKO_V2_PASSWORD", "",
                    "KEIKO_KAFKA_BOOTSTRAP", KafkaSpec.EMBEDDED);
            Spec spec = new SpecParser(env::get).parse(resource("spec.yaml"), "examples/keiko/spec.yaml");
            PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
            AtomicReference<Pipeline> running = new AtomicReference<>();
            HttpEndpoints http = startHttp(registry, () -> running.get() == null
                    ? Optional.of("the pipeline is starting") : running.get().notReady());
            started = System.nanoTime();
            try (http; Pipeline pipeline = Pipeline.start(spec, work.resolve("migrator"), 0, registry)) {
                running.set(pipeline);
                out.printf("3. Migrating (capture, transform, sink embedded; Kafka on %s) while the load writes %d changes/s to v1 for %d s%n",
                        pipeline.bootstrapServers(), rate, loadSeconds);
                out.printf("   metrics: %s  (lag, latency, backfill progress; also /health and /ready)%n", http.url("/metrics"));
                Logging.file().ifPresent(file -> out.printf("   log:     %s  (the stages' own lines, and the client libraries')%n", file));
                out.flush();
                long loadStarted = System.nanoTime();
                // Redrawn in place on a terminal; as a block every 5 s in a log.
                StatusScreen screen = new StatusScreen(out, registry, System.console() != null, 5);
                try (LoadGenerator load = LoadGenerator.start(v1.jdbcUrl(DATABASE), v1.user(), "", rate)) {
                    while (seconds(loadStarted) < loadSeconds) {
                        Thread.sleep(1000);
                        progress(screen, started, v1, v2, pipeline, load.changes());
                    }
                    screen.release();
                    load.close();
                    out.printf("4. Load stopped after %,d changes; migrator cutover wait:%n", load.changes());
                    out.flush();
                }
                awaitCaughtUp(spec, pipeline, "v1", out);
                new StatusScreen(out, registry, false, 1).refresh(seconds(started), tableRows(v1, v2), -1,
                        pipeline.running() ? "caught up" : "not running: " + pipeline.notReady().orElse(""));
                List<TableComparison> result = Verifier.verify(spec, Verifier.Options.defaults());
                out.println("5. Verify (v1 through the spec's mapping against v2, in key ranges):");
                int exit = VerifyCommand.print(result, false, out);
                if (rollback && exit == ExitCodes.OK) {
                    Spec onTheBroker = new SpecParser(name -> name.equals("KEIKO_KAFKA_BOOTSTRAP") ? pipeline.bootstrapServers()
                            : env.get(name)).parse(resource("spec.yaml"), "examples/keiko/spec.yaml");
                    exit = wayBack(onTheBroker, v2, work.resolve("migrator-reverse"), out);
                }
                out.printf("%nLook next: the v2 rows with  psql -h %s -p %d -U %s %s  (while --keep runs)%n", v2.host(), v2.port(), v2.user(), DATABASE);
                out.printf("           metrics: %s  (while --keep runs; docs/metrics.md says what each one means)%n", http.url("/metrics"));
                out.println("           the spec that drove this: examples/keiko/spec.yaml; your own: ./migrator run --spec FILE");
                out.flush();
                if (keep) {
                    out.println("Everything keeps running (--keep); Ctrl-C stops and removes it.");
                    out.flush();
                    Thread.sleep(Long.MAX_VALUE);
                }
                return exit;
            } finally {
                registry.close();
            }
        } catch (InterruptedException e) {
            // Only Ctrl-C or SIGTERM interrupts this thread; by now the pipeline and the databases are closed.
            out.printf("Stopped and cleaned up in %.1f s.%n", seconds(stopRequested[0]));
            out.flush();
            return ExitCodes.OK;
        } finally {
            deleteQuietly(work);
        }
    }

    /**
     * The way back, as the runbook's rolling back does it: {@code check --reverse}, the reverse pipeline next to the
     * running one, writes on v2 (after the flip), then {@code cutover wait --reverse} and {@code verify --reverse}.
     */
    private int wayBack(Spec forward, LocalPostgres v2, Path dataDir, PrintWriter out) throws Exception {
        List<Finding> findings = ReverseCheck.check(forward);
        out.println("6. The way back (--rollback): migrator check --reverse");
        findings.stream().filter(f -> f.level() == Finding.Level.ERROR).forEach(f -> out.println("   " + f));
        long errors = findings.stream().filter(f -> f.level() == Finding.Level.ERROR).count();
        long warnings = findings.stream().filter(f -> f.level() == Finding.Level.WARNING).count();
        out.printf("   %d errors, %d warnings (lossy columns: a default-made value comes back as it is on v2)%n", errors, warnings);
        out.flush();
        if (errors > 0) {
            return ExitCodes.FAILED;
        }
        Spec back = Reversal.inverse(forward);
        try (Pipeline reverse = Pipeline.start(back, dataDir, 0, new SimpleMeterRegistry())) {
            long started = System.nanoTime();
            while (!reverse.running() && reverse.failure().isEmpty() && seconds(started) < 120) {
                Thread.sleep(100);
            }
            if (reverse.failure().isPresent() || !reverse.running()) {
                out.println("   the way back did not start: " + reverse.failure().orElse("still starting after 120 s"));
                return ExitCodes.FAILED;
            }
            execute(v2, WRITES_ON_V2);
            out.println("7. Writes flipped to v2 and the way back runs: on v2 a new user and task, 10 tasks completed,"
                    + " an agent's configuration edited, 5 tasks deleted; migrator cutover wait --reverse:");
            out.flush();
            awaitCaughtUp(back, reverse, "v2", out);
            out.println("8. Verify --reverse (v2 through the spec read backwards against v1):");
            return VerifyCommand.print(Verifier.verify(back, Verifier.Options.defaults()), true, out);
        }
    }

    /** {@code cutover wait} for {@code pipeline}, whose source is {@code source}, printed as the demo prints it. */
    private static void awaitCaughtUp(Spec spec, Pipeline pipeline, String source, PrintWriter out) throws Exception {
        try {
            new CaughtUp(spec, pipeline.bootstrapServers()).await(Duration.ofMinutes(3),
                    lsn -> out.printf("   %s WAL position %s; waiting for every commit up to it%n", source, lsn),
                    stage -> out.printf("   %-9s caught up in %6.2f s%n", stage.name(), stage.took().toNanos() / 1e9));
        } catch (CaughtUp.BehindException e) {
            out.println("   not caught up: " + e.getMessage() + pipeline.failure().map(f -> "; a stage failed: " + f).orElse(""));
        }
    }

    /** Writes the application makes on v2 after the flip, in every shape the way back takes back. */
    private static final String WRITES_ON_V2 = """
            INSERT INTO users (id, email, username, role, created_at, updated_at)
                VALUES ('00000000-0000-0000-0000-0000000000aa', 'new@keiko.example', 'made on v2', 'admin', now(), now());
            UPDATE agents SET configuration = '{"features": {"web": true}, "settings": {"temperature": 0.2}}' WHERE name = 'agent 5';
            UPDATE tasks SET status = 'completed', completed_at = now() WHERE id IN (SELECT id FROM tasks ORDER BY id LIMIT 10);
            INSERT INTO tasks (id, user_id, agent_id, task_type, parameters, status, priority, created_at)
                SELECT max(id) + 1000, min(user_id::text)::uuid, NULL, 'report', '{"urgent": true}', 'running', 'high', now() FROM tasks;
            DELETE FROM tasks WHERE id IN (SELECT id FROM tasks ORDER BY id DESC OFFSET 1 LIMIT 5);
            """;

    /** On {@code --http-port}; the default port, when taken, gives way to any free one (a demo must not fail on it). */
    private HttpEndpoints startHttp(PrometheusMeterRegistry registry, java.util.function.Supplier<Optional<String>> notReady)
            throws IOException {
        try {
            return HttpEndpoints.start(HttpEndpoints.DEFAULT_HOST, httpPort, registry, notReady);
        } catch (IOException e) {
            boolean explicit = command.commandLine().getParseResult().hasMatchedOption("--http-port");
            if (explicit || httpPort == 0) {
                throw new IOException("--http-port " + httpPort + ": cannot listen on " + HttpEndpoints.DEFAULT_HOST
                        + " (" + e.getMessage() + "); choose a free port, or 0 for any", e);
            }
            return HttpEndpoints.start(HttpEndpoints.DEFAULT_HOST, 0, registry, notReady);
        }
    }

    private static void progress(StatusScreen screen, long started, LocalPostgres v1, LocalPostgres v2, Pipeline pipeline,
                                 long loadChanges) throws SQLException {
        screen.refresh(seconds(started), tableRows(v1, v2), loadChanges,
                pipeline.running() ? "streaming" : pipeline.notReady().orElse("starting"));
    }

    private static List<StatusScreen.TableRows> tableRows(LocalPostgres v1, LocalPostgres v2) throws SQLException {
        long[] source = counts(v1);
        long[] target = counts(v2);
        return List.of(new StatusScreen.TableRows("users", source[0], target[0]),
                new StatusScreen.TableRows("agents", source[1], target[1]),
                new StatusScreen.TableRows("tasks", source[2], target[2]));
    }

    private static long[] counts(LocalPostgres pg) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(DATABASE), pg.user(), "");
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery(TABLE_COUNTS)) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3)};
        }
    }

    private static void execute(LocalPostgres pg, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(DATABASE), pg.user(), ""); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static String resource(String path) {
        try (InputStream in = DemoCommand.class.getResourceAsStream("/examples/keiko/" + path)) {
            if (in == null) {
                throw new IllegalStateException("examples/keiko/" + path + " is not packaged in the migrator jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static double seconds(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1e9;
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: it is a temp directory
        }
    }
}
