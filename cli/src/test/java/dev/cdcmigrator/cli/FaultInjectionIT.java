package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;
import dev.cdcmigrator.embedded.LocalPostgres;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection under a concurrent random workload on v1 (issue 5): the whole pipeline killed hard and restarted,
 * the Kafka broker stopped and restarted, the target database restarted. Each test then stops the workload, waits
 * with {@code migrator cutover wait} until v2 reflects every v1 commit, and checks that v2 equals v1 row by row
 * (every column; the large bodies by md5 and length), that no v2 row ever went back in time (a trigger on v2 records
 * every write that lowers a row's {@code version} below the highest it had, also across a delete and re-insert), and
 * that nothing was dead-lettered.
 *
 * <p>The workload's seed is fixed per test and printed; {@code -Dfault.seed=N} replaces it (e.g. to reproduce a
 * failure or to explore other seeds). The child processes' logs stay in {@code target/fault-injection/}. When v2
 * diverges, the test prints the history of some diverging keys: what the workload committed on v1 (with an upper bound
 * of the commit LSN), what capture published to the raw topic, what the transform committed to the v2 topic, and
 * capture's committed offsets.
 *
 * <p>After each kill the test removes the dead process's members from the transform's and the sink's consumer groups,
 * which the group coordinator would do by itself after the session timeout (45 s); it only shortens the test.
 */
class FaultInjectionIT {

    private static final String V1_ROWS =
            "SELECT id, version, title, md5(body), octet_length(body), tags::text FROM docs ORDER BY id";
    private static final String V2_ROWS =
            "SELECT doc_id, version, heading, md5(content), octet_length(content), labels::text FROM documents ORDER BY doc_id";
    private static final List<String> COLUMNS = List.of("id", "version", "title", "md5(body)", "length(body)", "tags");

    private static final String V2_SCHEMA = """
            CREATE TABLE documents (doc_id bigint PRIMARY KEY, version bigint NOT NULL, heading text, content text, labels jsonb);
            -- The no-regression check: every write that sets a row's version below the highest it ever had (also a
            -- re-insert after a delete; the workload never lowers a version, not even then) is recorded here.
            CREATE TABLE version_high_water (doc_id bigint PRIMARY KEY, version bigint NOT NULL);
            CREATE TABLE version_regressions (doc_id bigint NOT NULL, op text NOT NULL, high_water bigint NOT NULL,
                                              new_version bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE FUNCTION watch_version() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE seen bigint;
            BEGIN
              SELECT version INTO seen FROM version_high_water WHERE doc_id = NEW.doc_id;
              IF seen IS NOT NULL AND NEW.version < seen THEN
                INSERT INTO version_regressions (doc_id, op, high_water, new_version) VALUES (NEW.doc_id, TG_OP, seen, NEW.version);
              END IF;
              INSERT INTO version_high_water VALUES (NEW.doc_id, NEW.version)
                ON CONFLICT (doc_id) DO UPDATE SET version = greatest(version_high_water.version, EXCLUDED.version);
              RETURN NULL;
            END $$;
            CREATE TRIGGER watch_version AFTER INSERT OR UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION watch_version();
            """;

    private static final int ROWS = 2000;
    private static final int LARGE_ROWS = 8;
    private static final int MAX_LARGE_BYTES = 3 * 1024 * 1024;
    /** Mean pause between two v1 transactions: about 100 transactions a second. */
    private static final long PAUSE_MICROS = 10_000;

    private final PostgresServer pg = TestPostgres.shared();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    /** Closed in reverse order after each test. */
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @TempDir
    Path dir;

    private String name;
    private String v1;
    private String prefix;
    private String bootstrap;
    private Path specFile;
    private RandomWorkload workload;
    private Random faults;

    @BeforeAll
    static void copyClasspathEarly() throws IOException {
        ChildClasspath.get();
    }

    @AfterEach
    void cleanUp() throws Exception {
        Exception first = null;
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            try {
                cleanup.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * The whole pipeline ({@code migrator run} in a child JVM: capture, transform and sink at once) killed with SIGKILL
     * three times while it streams, each time 0.5-2.5 s after capture committed an offset of a streamed change, and
     * restarted on the same data dir.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theWholePipelineKilledHardThreeTimesWhileStreaming(TestInfo test) throws Exception {
        killAndRestart(test, 1001, List.of(KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING));
    }

    /**
     * The whole pipeline killed with SIGKILL during the initial snapshot, then again just after the snapshot that
     * the restart takes (streamed changes published, their offsets not yet committed by capture), then once more
     * while streaming; each time restarted on the same data dir. Each restart makes capture take the snapshot again,
     * which must supersede what the killed run published (rows deleted in between included).
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theWholePipelineKilledHardDuringAndJustAfterTheInitialSnapshot(TestInfo test) throws Exception {
        killAndRestart(test, 1004, List.of(KillPoint.DURING_SNAPSHOT, KillPoint.JUST_AFTER_SNAPSHOT, KillPoint.WHILE_STREAMING));
    }

    /** When a kill of the whole pipeline hits. */
    private enum KillPoint {
        /** As soon as capture has published snapshot reads: a restart takes the snapshot again. */
        DURING_SNAPSHOT,
        /**
         * Once the newest record of some raw partition is a streamed change, before capture committed the offset of
         * one: a restart takes the snapshot again although the transform may have applied streamed changes.
         */
        JUST_AFTER_SNAPSHOT,
        /** 0.5-2.5 s after capture committed the offset of a streamed change. */
        WHILE_STREAMING
    }

    private void killAndRestart(TestInfo test, long seed, List<KillPoint> kills) throws Exception {
        long started = System.nanoTime();
        Target v2 = sharedTarget();
        setUp(test, seed, v2, TestKafka.bootstrapServers());
        Path data = dir.resolve("data");
        Path logs = Files.createDirectories(Path.of("target", "fault-injection"));
        List<Child> children = new ArrayList<>();
        cleanup.add(() -> children.forEach(Child::stop));
        String raw = prefix + ".raw.public.docs";

        workload.start();
        Child child = Child.start(specFile, data, logs.resolve(name + "-run0.log"));
        children.add(child);
        for (int kill = 1; kill <= kills.size(); kill++) {
            Child running = child;
            String when;
            switch (kills.get(kill - 1)) {
                case DURING_SNAPSHOT -> {
                    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
                        running.checkAlive();
                        return FaultDiagnosis.endOffsets(bootstrap, raw) > 0;
                    });
                    TimeUnit.MILLISECONDS.sleep(faults.nextInt(200));
                    when = "during the initial snapshot";
                }
                case JUST_AFTER_SNAPSHOT -> {
                    try (FaultDiagnosis.RawTail tail = new FaultDiagnosis.RawTail(bootstrap, raw)) {
                        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(20)).until(() -> {
                            running.checkAlive();
                            return tail.streamedChangePublished();
                        });
                    }
                    when = "just after the snapshot, with streamed changes published";
                }
                default -> {
                    child.awaitReady(Duration.ofSeconds(90));
                    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
                        running.checkAlive();
                        return lastCaptureOffset().filter(o -> o.contains("lsn_proc")).isPresent();
                    });
                    long delay = 500 + faults.nextInt(2000);
                    TimeUnit.MILLISECONDS.sleep(delay);
                    when = "while streaming, " + delay + " ms after capture committed a streaming offset";
                }
            }
            long transactions = workload.committed();
            child.kill();
            log("kill " + kill + ": SIGKILL of migrator run (pid " + child.process.pid() + ") " + when + "; "
                    + transactions + " v1 transactions so far; " + FaultDiagnosis.endOffsets(bootstrap, raw)
                    + " raw records; the last capture offset committed: " + lastCaptureOffset().orElse("none"));
            // What the group coordinator does by itself once session.timeout.ms (45 s) has passed without a heartbeat
            // from the dead process, done now so that the restarted transform and sink get their partitions at once.
            removeDeadGroupMembers(TestKafka.bootstrapServers());
            child = Child.start(specFile, data, logs.resolve(name + "-run" + kill + ".log"));
            children.add(child);
        }
        child.awaitReady(Duration.ofSeconds(90));
        TimeUnit.MILLISECONDS.sleep(1000 + faults.nextInt(1500));
        Child last = child;
        finish(v2, () -> assertThat(last.process.isAlive()).as("the last migrator run is alive (log %s)", last.log).isTrue());
        log("done in " + seconds(started));
    }

    /**
     * The Kafka broker (a broker of this test's own, on a fixed port) stopped for 3-6 s during the load and started
     * again on the same data dir and port, while the pipeline runs in this JVM: every stage must recover by itself.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theKafkaBrokerStoppedAndRestarted(TestInfo test) throws Exception {
        long started = System.nanoTime();
        int port = freePort();
        Path brokerDir = dir.resolve("kafka");
        EmbeddedKafkaBroker[] broker = {EmbeddedKafkaBroker.start(brokerDir, port)};
        cleanup.add(() -> broker[0].close());
        Target v2 = sharedTarget();
        setUp(test, 2002, v2, broker[0].bootstrapServers());
        Spec spec = new SpecParser().parse(specFile);
        Path data = dir.resolve("data");

        workload.start();
        Pipeline[] pipeline = {Pipeline.start(spec, data, 0, registry)};
        cleanup.add(() -> pipeline[0].close());
        awaitRunning(pipeline[0], Duration.ofSeconds(90));
        TimeUnit.MILLISECONDS.sleep(1000 + faults.nextInt(2000));

        long down = 3000 + faults.nextInt(3000);
        log("stopping the Kafka broker for " + down + " ms; " + workload.committed() + " v1 transactions so far");
        long stopping = System.nanoTime();
        broker[0].close();
        log("broker stopped in " + seconds(stopping));
        TimeUnit.MILLISECONDS.sleep(down);
        broker[0] = EmbeddedKafkaBroker.start(brokerDir, port);
        log("broker started again on port " + port + "; " + workload.committed() + " v1 transactions so far");

        List<String> findings = new ArrayList<>();
        Optional<String> failed = awaitRunningOrFailed(pipeline[0], Duration.ofSeconds(90));
        if (failed.isPresent()) {
            String finding = "after the broker restart a stage stopped instead of recovering: " + failed.get();
            log("FINDING: " + finding + "; restarting the pipeline once to check the data");
            findings.add(finding);
            pipeline[0].close();
            pipeline[0] = Pipeline.start(spec, data, 0, registry);
            awaitRunning(pipeline[0], Duration.ofSeconds(90));
        }
        TimeUnit.MILLISECONDS.sleep(1500 + faults.nextInt(1500));
        finish(v2, () -> assertThat(pipeline[0].failure()).isEmpty());
        assertThat(findings).as("stages that did not survive the broker restart by themselves").isEmpty();
        log("done in " + seconds(started));
    }

    /**
     * The target database (a PostgreSQL of this test's own) stopped for 2-5 s and restarted on the same port, twice,
     * while the pipeline runs in this JVM: the sink retries and resumes.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theTargetDatabaseRestartedDuringTheLoad(TestInfo test) throws Exception {
        long started = System.nanoTime();
        LocalPostgres target = LocalPostgres.start(dir.resolve("v2-cluster"));
        cleanup.add(target);
        target.createDatabase("v2");
        Target v2 = new Target(target.jdbcUrl("v2"), target.user(), "postgres");
        setUp(test, 3003, v2, TestKafka.bootstrapServers());
        Spec spec = new SpecParser().parse(specFile);

        workload.start();
        Pipeline pipeline = Pipeline.start(spec, dir.resolve("data"), 0, registry);
        cleanup.add(pipeline);
        awaitRunning(pipeline, Duration.ofSeconds(90));
        for (int restart = 1; restart <= 2; restart++) {
            TimeUnit.MILLISECONDS.sleep(1000 + faults.nextInt(2000));
            long down = 2000 + faults.nextInt(3000);
            log("restart " + restart + ": stopping the target database for " + down + " ms; sink has applied "
                    + v2.rows("SELECT count(*) FROM documents").get(0).get(0) + " rows; "
                    + workload.committed() + " v1 transactions so far");
            target.stop();
            TimeUnit.MILLISECONDS.sleep(down);
            target.restart();
            log("target database started again on port " + target.port());
            assertThat(pipeline.failure()).as("a stage stopped while the target was away").isEmpty();
        }
        TimeUnit.MILLISECONDS.sleep(1500 + faults.nextInt(1500));
        finish(v2, () -> assertThat(pipeline.failure()).isEmpty());
        log("done in " + seconds(started));
    }

    // ---- common steps ------------------------------------------------------------------------------------------

    private void setUp(TestInfo test, long defaultSeed, Target v2, String bootstrap) throws SQLException {
        name = test.getTestMethod().orElseThrow().getName();
        this.bootstrap = bootstrap;
        long seed = Long.getLong("fault.seed", defaultSeed);
        faults = new Random(seed * 31 + 7);
        v1 = pg.createDatabase("fault_v1");
        prefix = "fault_" + v1.substring(v1.lastIndexOf('_') + 1);
        log("seed " + seed + " (-Dfault.seed=" + seed + " to repeat), topic prefix " + prefix + ", v1 database " + v1
                + ", v2 " + v2.url());
        long loading = System.nanoTime();
        workload = new RandomWorkload(pg.jdbcUrl(v1), pg.user(), pg.password(), seed, PAUSE_MICROS, FaultInjectionIT::log);
        workload.createAndLoad(ROWS, LARGE_ROWS, MAX_LARGE_BYTES);
        cleanup.add(() -> workload.stop());
        log("loaded v1 in " + seconds(loading));
        v2.execute(V2_SCHEMA);
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 3 }
                tables:
                  docs:
                    into: documents
                    columns:
                      doc_id: { from: id }
                      version: { from: version }
                      heading: { from: title }
                      content: { from: body }
                      labels: { from: tags }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), v2.url(), v2.user(), v2.password(), bootstrap, prefix);
        try {
            specFile = Files.writeString(dir.resolve("spec.yaml"), yaml);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // Last to close: the slot would otherwise keep v1's WAL (large bodies) on the shared server.
        cleanup.add(0, this::dropReplicationSlot);
    }

    /**
     * Stops the workload, waits for {@code cutover wait}, then checks v2 against v1 row by row, the regression table
     * and the dead letters.
     */
    private void finish(Target v2, ThrowingRunnable pipelineAlive) throws Exception {
        workload.stop();
        log("workload stopped: " + workload.summary());
        long waiting = System.nanoTime();
        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");
        log("cutover wait exited " + wait.exit() + " after " + seconds(waiting) + ":\n" + wait.out() + wait.err());
        pipelineAlive.run();
        assertThat(wait.exit()).as("cutover wait: %s", wait).isZero();

        List<List<String>> expected = pg.rows(v1, V1_ROWS);
        List<List<String>> actual = v2.rows(V2_ROWS);
        List<String> differences = differences(expected, actual);
        List<List<String>> regressions = v2.rows("SELECT doc_id, op, high_water, new_version, at FROM version_regressions ORDER BY at");
        if (!differences.isEmpty() || !regressions.isEmpty()) {
            List<Long> ids = new ArrayList<>();
            // A few of each kind: rows only in v2, rows only in v1, rows with other values.
            for (String kind : List.of("v1 (none)", "v2 (none)", "]  v2 [")) {
                differences.stream().filter(d -> d.contains(kind)).limit(3)
                        .forEach(d -> ids.add(Long.parseLong(d.substring(3, d.indexOf(':')))));
            }
            regressions.stream().limit(3).forEach(r -> ids.add(Long.parseLong(r.get(0))));
            log("DIVERGED (seed " + workload.seed() + "): " + differences.size() + " rows differ, " + regressions.size()
                    + " regressions " + regressions + "; sink offsets in v2: "
                    + v2.rows("SELECT * FROM migrator_state.sink_offsets ORDER BY 1, 2, 3") + "\nhistory of some of them:\n"
                    + FaultDiagnosis.trace(bootstrap, prefix + ".raw.public.docs", prefix + ".v2.documents", ids)
                    + "\ncapture offsets:\n" + FaultDiagnosis.offsets(bootstrap, prefix + ".capture.offsets")
                    + "\n" + workload.history(ids));
        }
        assertThat(differences).as("v2 differs from v1 (seed %d): %d of %d v1 rows / %d v2 rows; differing columns %s; first ones:%n%s",
                        workload.seed(), differences.size(), expected.size(), actual.size(), differingColumns(expected, actual),
                        String.join("\n", differences.subList(0, Math.min(30, differences.size()))))
                .isEmpty();
        log("v2 equals v1: " + expected.size() + " rows");

        assertThat(regressions)
                .as("v2 rows whose version went down (seed %d)", workload.seed()).isEmpty();

        CliRun dlq = CliRun.of("dlq", "list", "--spec", specFile.toString());
        assertThat(dlq.exit()).as(dlq.toString()).isZero();
        assertThat(dlq.out()).as("dead letters (seed %d)", workload.seed()).startsWith("0 dead letters in " + prefix + ".dlq");

        // The faults happened under the load this test is about: large TOASTed bodies, kept by updates.
        assertThat(workload.counted("updates keeping a large body")).as(workload.summary()).isPositive();
        assertThat(workload.counted("rolled back transactions")).as(workload.summary()).isPositive();
    }

    // ---- the pipeline in a child JVM ---------------------------------------------------------------------------

    /** {@code migrator run} in a child JVM, its output in a log file. */
    private record Child(Process process, Path log) {

        private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://\\S+)/metrics");
        private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

        static Child start(Path spec, Path dataDir, Path log) throws IOException {
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-XX:+UseSerialGC"));
            command.add("-Dlogback.configurationFile=" + childLogback(dataDir.getParent()));
            command.addAll(List.of("-cp", ChildClasspath.get(), Main.class.getName(),
                    "run", "--spec", spec.toString(), "--data-dir", dataDir.toString(), "--no-check", "--http-port", "0"));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            FaultInjectionIT.log("started migrator run (pid " + process.pid() + "), log " + log.toAbsolutePath());
            return new Child(process, log);
        }

        /** Debezium's own INFO lines too (snapshot, streaming start position), to diagnose a divergence. */
        private static Path childLogback(Path dir) throws IOException {
            Path file = dir.resolve("child-logback.xml");
            if (!Files.exists(file)) {
                Files.writeString(file, """
                        <configuration>
                          <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
                            <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0} - %msg%n</pattern></encoder>
                          </appender>
                          <logger name="dev.cdcmigrator" level="INFO"/>
                          <logger name="io.debezium" level="INFO"/>
                          <root level="WARN"><appender-ref ref="STDOUT"/></root>
                        </configuration>
                        """);
            }
            return file;
        }

        /** Until {@code GET /ready} answers 200: capture, transform and sink all run. */
        void awaitReady(Duration timeout) {
            long started = System.nanoTime();
            await().atMost(timeout).pollInterval(Duration.ofMillis(200)).until(() -> {
                if (!process.isAlive()) {
                    throw new IllegalStateException("migrator run exited with " + process.exitValue() + ":\n" + tail(log, 40));
                }
                Matcher url = METRICS_URL.matcher(Files.readString(log));
                if (!url.find()) {
                    return false;
                }
                try {
                    HttpResponse<String> ready = HTTP.send(HttpRequest.newBuilder(URI.create(url.group(1) + "/ready"))
                            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                    return ready.statusCode() == 200;
                } catch (IOException e) {
                    return false;
                }
            });
            FaultInjectionIT.log("migrator run (pid " + process.pid() + ") ready after " + seconds(started));
        }

        void checkAlive() {
            if (!process.isAlive()) {
                throw new IllegalStateException("migrator run exited with " + process.exitValue() + ":\n" + tail(log, 40));
            }
        }

        void kill() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL: no shutdown hook, no clean close of any stage
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("pid " + process.pid() + " survived SIGKILL for 30 s");
            }
        }

        /** SIGTERM (a clean shutdown), then SIGKILL if it takes too long. */
        void stop() {
            if (!process.isAlive()) {
                return;
            }
            process.destroy();
            try {
                if (!process.waitFor(40, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The test JVM's class path for the child JVMs, with its directories (this module's classes and test classes)
     * copied once per test JVM: other builds of the working tree may recompile them while the test runs, and a child
     * started in that moment would not find its main class.
     */
    private static final class ChildClasspath {

        private static String classpath;

        static synchronized String get() throws IOException {
            if (classpath == null) {
                Path copies = Files.createTempDirectory("fault-injection-classpath-");
                List<String> entries = new ArrayList<>();
                int n = 0;
                for (Path entry : expand(System.getProperty("java.class.path"))) {
                    if (Files.isDirectory(entry)) {
                        Path copy = copies.resolve(Integer.toString(n++));
                        copyTree(entry, copy);
                        entries.add(copy.toString());
                        if (Files.exists(copy.resolve(Main.class.getName().replace('.', '/') + ".class"))) {
                            preload(copy);
                        }
                    } else {
                        entries.add(entry.toString());
                    }
                }
                classpath = String.join(java.io.File.pathSeparator, entries);
                if (entries.stream().noneMatch(e -> Files.exists(Path.of(e, Main.class.getName().replace('.', '/') + ".class")))) {
                    throw new IllegalStateException("no " + Main.class.getName() + " in the class path " + classpath);
                }
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(copies)));
            }
            return classpath;
        }

        /**
         * Loads every class of the module into this JVM now, for the same reason: the in-process commands
         * ({@code cutover wait}, {@code dlq list}) and the pipeline load their classes lazily, from the same directory.
         */
        private static void preload(Path classes) throws IOException {
            ClassLoader loader = FaultInjectionIT.class.getClassLoader();
            try (java.util.stream.Stream<Path> paths = Files.walk(classes)) {
                paths.filter(p -> p.toString().endsWith(".class")).forEach(p -> {
                    String file = classes.relativize(p).toString();
                    String className = file.substring(0, file.length() - ".class".length()).replace('/', '.');
                    try {
                        Class.forName(className, false, loader);
                    } catch (ClassNotFoundException | LinkageError e) {
                        log("could not preload " + className + ": " + e);
                    }
                });
            }
        }

        /** The entries, with a manifest-only jar (failsafe's booter) replaced by its Class-Path. */
        private static List<Path> expand(String classpath) throws IOException {
            List<Path> entries = new ArrayList<>();
            for (String entry : classpath.split(java.io.File.pathSeparator)) {
                Path path = Path.of(entry);
                String manifestPath = null;
                if (entry.endsWith(".jar") && Files.isRegularFile(path)) {
                    try (java.util.jar.JarFile jar = new java.util.jar.JarFile(path.toFile())) {
                        java.util.jar.Manifest manifest = jar.getManifest();
                        manifestPath = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
                    }
                }
                if (manifestPath != null && path.getFileName().toString().startsWith("surefirebooter")) {
                    for (String url : manifestPath.trim().split("\\s+")) {
                        entries.add(Path.of(path.getParent().toUri().resolve(url)));
                    }
                } else {
                    entries.add(path);
                }
            }
            return entries;
        }

        private static void copyTree(Path from, Path to) throws IOException {
            try (java.util.stream.Stream<Path> paths = Files.walk(from)) {
                for (Path source : (Iterable<Path>) paths::iterator) {
                    Path target = to.resolve(from.relativize(source).toString());
                    if (Files.isDirectory(source)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(source, target);
                    }
                }
            }
        }

        private static void deleteTree(Path root) {
            try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // best effort
            }
        }
    }

    /** The last offset capture (Debezium) committed, if any yet. */
    private Optional<String> lastCaptureOffset() {
        List<String> values = new ArrayList<>();
        FaultDiagnosis.read(bootstrap, prefix + ".capture.offsets", "read_uncommitted",
                r -> values.add(r.value() == null ? "null" : new String(r.value(), java.nio.charset.StandardCharsets.UTF_8)));
        return values.isEmpty() ? Optional.empty() : Optional.of(values.get(values.size() - 1));
    }

    /** Removes every member of the transform's and the sink's consumer groups (only dead ones exist at this point). */
    private void removeDeadGroupMembers(String bootstrap) {
        Topics topics = new Topics(new SpecParser().parse(specFile));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            for (String group : List.of(topics.transformApplicationId(), topics.sinkGroup())) {
                try {
                    admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions()).all().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    log("could not remove the dead members of " + group + " (" + e.getMessage() + "); the coordinator will"
                            + " after the session timeout");
                }
            }
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static void awaitRunning(Pipeline pipeline, Duration timeout) {
        Optional<String> failed = awaitRunningOrFailed(pipeline, timeout);
        assertThat(failed).as("a stage failed").isEmpty();
    }

    /** Until every stage runs (empty) or one stopped (why). */
    private static Optional<String> awaitRunningOrFailed(Pipeline pipeline, Duration timeout) {
        long started = System.nanoTime();
        await().atMost(timeout).pollInterval(Duration.ofMillis(200))
                .until(() -> pipeline.failure().isPresent() || pipeline.running());
        Optional<String> failed = pipeline.failure();
        log(failed.map(f -> "pipeline failed after " + seconds(started) + ": " + f)
                .orElse("pipeline running after " + seconds(started)));
        return failed;
    }

    /** One line per v1 key whose v2 row differs (or is missing on either side). */
    static List<String> differences(List<List<String>> v1, List<List<String>> v2) {
        Map<Long, List<String>> expected = byKey(v1);
        Map<Long, List<String>> actual = byKey(v2);
        TreeSet<Long> keys = new TreeSet<>(expected.keySet());
        keys.addAll(actual.keySet());
        List<String> differences = new ArrayList<>();
        for (long key : keys) {
            List<String> e = expected.get(key);
            List<String> a = actual.get(key);
            if (!Objects.equals(e, a)) {
                differences.add("id " + key + ": v1 " + (e == null ? "(none)" : e) + "  v2 " + (a == null ? "(none)" : a));
            }
        }
        return differences;
    }

    /** How many rows differ in each column (rows present on both sides only), and how many are missing on each side. */
    static Map<String, Integer> differingColumns(List<List<String>> v1, List<List<String>> v2) {
        Map<Long, List<String>> expected = byKey(v1);
        Map<Long, List<String>> actual = byKey(v2);
        Map<String, Integer> counts = new LinkedHashMap<>();
        expected.forEach((key, e) -> {
            List<String> a = actual.get(key);
            if (a == null) {
                counts.merge("missing in v2", 1, Integer::sum);
                return;
            }
            for (int i = 0; i < e.size(); i++) {
                if (!Objects.equals(e.get(i), a.get(i))) {
                    counts.merge(COLUMNS.get(i), 1, Integer::sum);
                }
            }
        });
        actual.keySet().stream().filter(k -> !expected.containsKey(k)).forEach(k -> counts.merge("not in v1", 1, Integer::sum));
        return counts;
    }

    private static Map<Long, List<String>> byKey(List<List<String>> rows) {
        Map<Long, List<String>> byKey = new TreeMap<>();
        rows.forEach(r -> byKey.put(Long.parseLong(r.get(0)), r));
        return byKey;
    }

    private Target sharedTarget() {
        String database = pg.createDatabase("fault_v2");
        return new Target(pg.jdbcUrl(database), pg.user(), pg.password());
    }

    private void dropReplicationSlot() {
        try {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).until(() ->
                    pg.rows(v1, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + prefix + "' AND active")
                            .get(0).get(0).equals("0"));
            pg.execute(v1, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + prefix + "'");
        } catch (RuntimeException e) {
            log("could not drop the replication slot " + prefix + ": " + e.getMessage());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static String seconds(long startNanos) {
        return String.format("%.1f s", (System.nanoTime() - startNanos) / 1e9);
    }

    static void log(String message) {
        System.out.printf("%tT.%<tL [FaultInjectionIT] %s%n", System.currentTimeMillis(), message);
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** The v2 database: on the shared server or on a PostgreSQL of the test's own. */
    private record Target(String url, String user, String password) {

        void execute(String sql) throws SQLException {
            try (Connection c = DriverManager.getConnection(url, user, password); Statement st = c.createStatement()) {
                st.execute(sql);
            }
        }

        List<List<String>> rows(String query) throws SQLException {
            List<List<String>> rows = new ArrayList<>();
            try (Connection c = DriverManager.getConnection(url, user, password); Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery(query)) {
                int columns = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    List<String> row = new ArrayList<>(columns);
                    for (int i = 1; i <= columns; i++) {
                        row.add(String.valueOf(rs.getString(i)));
                    }
                    rows.add(row);
                }
            }
            return rows;
        }
    }
}
