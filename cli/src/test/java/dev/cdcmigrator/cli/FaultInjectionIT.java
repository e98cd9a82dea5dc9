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
import dev.cdcmigrator.testkit.Ports;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
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
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
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
 * each stage killed hard and restarted on its own while the other two keep running (the separate-services deployment:
 * one child JVM per stage), the Kafka broker stopped and restarted, the target database restarted. Each test then
 * stops the workload, waits with {@code migrator cutover wait} until v2 reflects every v1 commit, and checks that v2
 * equals v1 row by row (every column; the large bodies by md5 and length), that no v2 row ever went back in time (a
 * trigger on v2 records every write that lowers a row's {@code version} below the highest it had, also across a
 * delete and re-insert), and that nothing was dead-lettered.
 *
 * <p>The workload's seed is fixed per test and printed; {@code -Dfault.seed=N} replaces it (e.g. to reproduce a
 * failure or to explore other seeds). The child processes' logs stay in {@code target/fault-injection/}. When v2
 * diverges, the test prints the history of some diverging keys: what the workload committed on v1 (with an upper bound
 * of the commit LSN), what capture published to the raw topic, what the transform committed to the v2 topic, and
 * capture's committed offsets.
 *
 * <p>After each kill the test removes the dead process's members from the transform's or the sink's consumer group,
 * which the group coordinator would do by itself after the session timeout (45 s); it only shortens the test.
 */
class FaultInjectionIT {

    private static final String V1_ROWS =
            "SELECT id, version, title, md5(body), octet_length(body), tags::text FROM docs ORDER BY id";
    private static final String V2_ROWS =
            "SELECT doc_id, version, heading, md5(content), octet_length(content), labels::text FROM documents ORDER BY doc_id";
    private static final List<String> COLUMNS = List.of("id", "version", "title", "md5(body)", "length(body)", "tags");
    /** The partitioned table, the same on both sides (v2 partitioned too), with its timestamps in UTC text. */
    private static final String EVENT_ROWS = "SELECT id, year, to_char(happened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),"
            + " kind FROM events ORDER BY id, year";

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
            """ + RandomWorkload.CREATE_EVENTS;

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
    /** The spec's backfill section (empty: the default) and SQL run on v2 after its schema, set by a test before setUp. */
    private String backfill = "";
    private String v2Extra = "";
    private Target target;
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
        killAndRestart(test, 1001, Optional.empty(),
                List.of(KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING));
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
        killAndRestart(test, 1004, Optional.empty(),
                List.of(KillPoint.DURING_SNAPSHOT, KillPoint.JUST_AFTER_SNAPSHOT, KillPoint.WHILE_STREAMING));
    }

    /**
     * Capture alone killed with SIGKILL while the transform and the sink keep running, each stage in its own JVM
     * ({@code migrator capture}, {@code migrator transform} and {@code migrator sink} against the test's broker: the
     * separate-services deployment): during the initial snapshot, just after the snapshot its restart takes, and while
     * streaming. Unlike a kill of the whole pipeline, the snapshots taken again reach a transform that never
     * restarted and holds the images and the epoch of the snapshot before.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void captureAloneKilledHardThreeTimes(TestInfo test) throws Exception {
        killAndRestart(test, 5005, Optional.of(Pipeline.Stage.CAPTURE),
                List.of(KillPoint.DURING_SNAPSHOT, KillPoint.JUST_AFTER_SNAPSHOT, KillPoint.WHILE_STREAMING));
    }

    /**
     * The transform alone killed with SIGKILL while capture and the sink keep running (separate services, as above):
     * while it works through the backfill, then twice while streaming, each time once one of its Kafka transactions is
     * open (the log says whether the kill left it open). Its second restart gets an empty data dir: its stores are
     * restored from their changelogs, and the dead instance's open transaction (of another transactional id then) is
     * not fenced by the restart but aborted by the broker's transaction timeout.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void transformAloneKilledHardThreeTimes(TestInfo test) throws Exception {
        killAndRestart(test, 6006, Optional.of(Pipeline.Stage.TRANSFORM),
                List.of(KillPoint.DURING_BACKFILL, KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING));
    }

    /**
     * The sink alone killed with SIGKILL in the middle of a batch while capture and the transform keep running
     * (separate services, as above): once during the backfill, twice while streaming. Each time a lock on the sink's
     * offsets table holds the sink after it wrote a batch's rows and before it could write the batch's offsets and
     * commit ({@link SinkHold}); the kill lands there, the batch's transaction must be rolled back (checked by its
     * transaction id), and the restarted sink must apply the batch again from the offsets stored in the target.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void sinkAloneKilledHardMidBatchThreeTimes(TestInfo test) throws Exception {
        killAndRestart(test, 7007, Optional.of(Pipeline.Stage.SINK),
                List.of(KillPoint.DURING_BACKFILL, KillPoint.WHILE_STREAMING, KillPoint.WHILE_STREAMING));
    }

    /**
     * The whole pipeline with {@code backfill.mode: copy} killed with SIGKILL twice in the middle of the copy (each
     * time once some chunks are copied and others are not; every COPY takes at least 0.2 s here so that the kills land
     * there), then once while streaming. Each restart copies the chunks not copied yet, from a newer snapshot, while the
     * workload keeps changing rows of both kinds; the transform must skip exactly the streamed changes those chunks
     * already hold, and no chunk may be copied twice.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theWholePipelineKilledHardTwiceDuringTheCopyBackfill(TestInfo test) throws Exception {
        backfill = "backfill: { mode: copy, chunkRows: 50, parallelism: 2 }\n";
        v2Extra = """
                CREATE FUNCTION slow_copy() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF current_setting('application_name') = 'migrator-backfill-copy' THEN PERFORM pg_sleep(0.2); END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER slow_copy AFTER INSERT ON documents FOR EACH STATEMENT EXECUTE FUNCTION slow_copy();
                """;
        killAndRestart(test, 1010, Optional.empty(), List.of(KillPoint.DURING_COPY, KillPoint.DURING_COPY, KillPoint.WHILE_STREAMING));
        Target v2 = target;
        assertThat(v2.rows("SELECT count(*) FILTER (WHERE copied_at IS NULL), count(*) FILTER (WHERE snapshot_xmin IS NOT NULL)"
                + " FROM " + spec().target().stateSchema() + ".backfill_chunks").get(0))
                .as("chunks not copied, chunks copied from a resumed run's snapshot").satisfies(counts -> {
                    assertThat(counts.get(0)).isEqualTo("0");
                    assertThat(Integer.parseInt(counts.get(1))).isPositive();
                });
    }

    /** When a kill hits. */
    private enum KillPoint {
        /** As soon as capture has published snapshot reads: a restart of capture takes the snapshot again. */
        DURING_SNAPSHOT,
        /**
         * Once the newest record of some raw partition is a streamed change, before capture committed the offset of
         * one: a restart of capture takes the snapshot again although the transform may have applied streamed changes.
         */
        JUST_AFTER_SNAPSHOT,
        /**
         * Once the killed stage (the transform or the sink, running alone) has done part of the initial snapshot's
         * work: the transform committed the offsets of some raw records, or the sink applied some rows.
         */
        DURING_BACKFILL,
        /** With {@code backfill.mode: copy}: once the copy has copied some chunks and not all. */
        DURING_COPY,
        /** 0.5-2.5 s after capture committed the offset of a streamed change, every child being ready. */
        WHILE_STREAMING
    }

    /**
     * Starts the migrator in child JVMs under the workload, kills it (or one of its stages) at each kill point and
     * restarts it, then {@linkplain #finish finishes}.
     *
     * @param alone empty for the whole pipeline: {@code migrator run} in one child JVM, restarted on the same data dir.
     *     A stage for the separate-services deployment: {@code migrator sink}, {@code transform} and {@code capture},
     *     each in its own child JVM against the test's broker, of which only that stage is killed and restarted: the
     *     second time on an empty data dir, as a new pod would be (the Kubernetes manifests give each stage an
     *     emptyDir), the other times on its own, as a restarted container would be
     * @param kills when each kill hits, in order
     */
    private void killAndRestart(TestInfo test, long seed, Optional<Pipeline.Stage> alone, List<KillPoint> kills) throws Exception {
        long started = System.nanoTime();
        Target v2 = sharedTarget();
        setUp(test, seed, v2, TestKafka.bootstrapServers());
        Path logs = Files.createDirectories(Path.of("target", "fault-injection"));
        List<Child> children = new ArrayList<>();
        cleanup.add(() -> Child.stopAll(children));
        String raw = prefix + ".raw.public.docs";
        String killed = alone.map(s -> s.name().toLowerCase(Locale.ROOT)).orElse("run");
        // The live child of each command; the stages start downstream first, as Pipeline starts them.
        Map<String, Child> running = new LinkedHashMap<>();
        Map<String, Path> dataDirs = new HashMap<>();

        workload.start();
        for (String command : alone.isEmpty() ? List.of("run") : List.of("sink", "transform", "capture")) {
            dataDirs.put(command, dir.resolve(command + "-data"));
            Child child = Child.start(command, specFile, dataDirs.get(command), logs.resolve(name + "-" + command + "0.log"));
            children.add(child);
            running.put(command, child);
        }
        for (int kill = 1; kill <= kills.size(); kill++) {
            String when = awaitKillPoint(kills.get(kill - 1), killed, running.values(), v2);
            long transactions = workload.committed();
            Child victim = running.get(killed);
            String aim = killAimed(victim, v2);
            log("kill " + kill + ": SIGKILL of migrator " + killed + " (pid " + victim.process().pid() + ") " + when + aim + "; "
                    + transactions + " v1 transactions so far; " + FaultDiagnosis.endOffsets(bootstrap, raw)
                    + " raw records; the last capture offset committed: " + lastCaptureOffset().orElse("none"));
            // What the group coordinator does by itself once session.timeout.ms (45 s) has passed without a heartbeat
            // from the dead process, done now so that the restarted stage gets its partitions at once.
            removeDeadGroupMembers(killed);
            if (alone.isPresent() && kill == 2) {
                dataDirs.put(killed, dir.resolve(killed + "-data-" + kill));
            }
            Child restarted = Child.start(killed, specFile, dataDirs.get(killed), logs.resolve(name + "-" + killed + kill + ".log"));
            children.add(restarted);
            running.put(killed, restarted);
        }
        for (Child child : running.values()) {
            child.awaitReady(Duration.ofSeconds(90));
        }
        TimeUnit.MILLISECONDS.sleep(1000 + faults.nextInt(1500));
        finish(v2, () -> running.values().forEach(c ->
                assertThat(c.process().isAlive()).as("the last migrator %s is alive (log %s)", c.command(), c.log()).isTrue()));
        log("done in " + seconds(started));
    }

    /** Waits, while every child keeps running, until {@code point}; says when that was, for the log. */
    private String awaitKillPoint(KillPoint point, String killed, Collection<Child> running, Target v2) throws Exception {
        String raw = prefix + ".raw.public.docs";
        Runnable alive = () -> running.forEach(Child::checkAlive);
        switch (point) {
            case DURING_SNAPSHOT -> {
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
                    alive.run();
                    return FaultDiagnosis.endOffsets(bootstrap, raw) > 0;
                });
                TimeUnit.MILLISECONDS.sleep(faults.nextInt(200));
                return "during the initial snapshot";
            }
            case JUST_AFTER_SNAPSHOT -> {
                try (FaultDiagnosis.RawTail tail = new FaultDiagnosis.RawTail(bootstrap, raw)) {
                    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(20)).until(() -> {
                        alive.run();
                        return tail.streamedChangePublished();
                    });
                }
                return "just after the snapshot, with streamed changes published";
            }
            case DURING_COPY -> {
                int before = copiedChunks(v2)[0];
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
                    alive.run();
                    int[] now = copiedChunks(v2);
                    // At least one chunk copied by this run, and some left.
                    return now[0] > before && now[0] < now[1];
                });
                int[] now = copiedChunks(v2);
                return "during the copy backfill (" + now[0] + " of " + now[1] + " chunks copied)";
            }
            case DURING_BACKFILL -> {
                if (killed.equals("transform")) {
                    String group = topics().transformApplicationId();
                    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
                        alive.run();
                        return FaultDiagnosis.committedOffsets(bootstrap, group, raw) > 0;
                    });
                    return "during the backfill (it had committed " + FaultDiagnosis.committedOffsets(bootstrap, group, raw)
                            + " of " + FaultDiagnosis.endOffsets(bootstrap, raw) + " raw records)";
                }
                if (killed.equals("sink")) {
                    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
                        alive.run();
                        return !v2.rows("SELECT 1 FROM documents LIMIT 1").isEmpty();
                    });
                    return "during the backfill (" + v2.rows("SELECT count(*) FROM documents").get(0).get(0) + " rows in v2, "
                            + pg.rows(v1, "SELECT count(*) FROM docs").get(0).get(0) + " in v1)";
                }
                throw new IllegalArgumentException(point + " is for the transform or the sink alone, not migrator " + killed);
            }
            default -> {
                for (Child child : running) {
                    child.awaitReady(Duration.ofSeconds(90));
                }
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() -> {
                    alive.run();
                    return lastCaptureOffset().filter(o -> o.contains("lsn_proc")).isPresent();
                });
                long delay = 500 + faults.nextInt(2000);
                TimeUnit.MILLISECONDS.sleep(delay);
                return "while streaming, " + delay + " ms after capture committed a streaming offset";
            }
        }
    }

    /**
     * Kills {@code victim} with SIGKILL; the sink in the middle of a batch and the transform with a Kafka transaction
     * open, the moments where their crash safety is at stake. Says how the aim went, for the log.
     */
    private String killAimed(Child victim, Target v2) throws Exception {
        switch (victim.command()) {
            case "sink" -> {
                try (SinkHold hold = new SinkHold(v2, spec().target().stateSchema() + ".sink_offsets")) {
                    long transaction = hold.awaitBlockedBatch(victim);
                    String progress = sinkProgress(v2);
                    victim.kill();
                    hold.release();
                    // The dead sink's backend gets the lock, writes the offsets, then finds its client gone.
                    String status = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                            .until(() -> v2.rows("SELECT txid_status(" + transaction + ")").get(0).get(0), s -> !s.equals("in progress"));
                    assertThat(status).as("the transaction %d of the batch the sink was killed in", transaction).isEqualTo("aborted");
                    return ", in the middle of a batch (its rows written, its offsets not; its transaction " + transaction
                            + " rolled back; " + progress + ")";
                }
            }
            case "transform" -> {
                String applicationId = topics().transformApplicationId();
                List<String> open = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(10)).until(() -> {
                    victim.checkAlive();
                    return FaultDiagnosis.ongoingTransactions(bootstrap, applicationId + "-");
                }, l -> !l.isEmpty());
                victim.kill();
                List<String> left = new ArrayList<>(FaultDiagnosis.ongoingTransactions(bootstrap, applicationId + "-"));
                left.retainAll(open);
                return ", with a Kafka transaction open (" + (left.isEmpty() ? "it completed before the kill landed"
                        : "the kill left " + left + " open") + ")";
            }
            default -> {
                victim.kill();
                return "";
            }
        }
    }

    /** The sink's offsets stored in the target against the ends of the v2 topic, for the log. */
    private String sinkProgress(Target v2) throws SQLException {
        String v2Topic = prefix + ".v2.documents";
        String stored = v2.rows("SELECT coalesce(sum(next_offset), 0) FROM " + spec().target().stateSchema()
                + ".sink_offsets WHERE topic = '" + v2Topic + "'").get(0).get(0);
        return "the offsets stored in v2 at " + stored + " of the v2 topic's " + FaultDiagnosis.endOffsets(bootstrap, v2Topic);
    }

    /**
     * The Kafka broker (a broker of this test's own, on a fixed port) stopped for 3-6 s during the load and started
     * again on the same data dir and port, while the pipeline runs in this JVM: every stage must recover by itself.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theKafkaBrokerStoppedAndRestarted(TestInfo test) throws Exception {
        long started = System.nanoTime();
        int port = Ports.free();
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

    /**
     * Poison rows (a value v2 refuses: a CHECK constraint v1 does not have) committed three times during the load, each
     * between ordinary rows of the same v1 transaction, so that it lands in the middle of a sink batch: each poison row
     * is dead-lettered with PostgreSQL's message, every other row is applied.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void poisonRowsInTheMiddleOfBatchesAreDeadLetteredAndTheRestApplied(TestInfo test) throws Exception {
        long started = System.nanoTime();
        Target v2 = sharedTarget();
        setUp(test, 8008, v2, TestKafka.bootstrapServers());
        v2.execute("ALTER TABLE documents ADD CONSTRAINT no_poison CHECK (heading IS DISTINCT FROM 'poison')");
        Spec spec = new SpecParser().parse(specFile);

        workload.start();
        Pipeline pipeline = Pipeline.start(spec, dir.resolve("data"), 0, registry);
        cleanup.add(pipeline);
        awaitRunning(pipeline, Duration.ofSeconds(90));
        Set<Long> poisoned = new TreeSet<>();
        for (int i = 1; i <= 3; i++) {
            TimeUnit.MILLISECONDS.sleep(500 + faults.nextInt(1500));
            long poison = 900_000_000L + i * 100;
            StringBuilder sql = new StringBuilder("INSERT INTO docs (id, version, title, body, tags) VALUES ");
            for (long id = poison - 5; id <= poison + 5; id++) {
                sql.append(id == poison - 5 ? "" : ", ").append("(").append(id).append(", 1, '")
                        .append(id == poison ? "poison" : "ordinary").append("', 'body ").append(id).append("', '[]')");
            }
            pg.execute(v1, sql.toString());
            poisoned.add(poison);
            log("poison " + i + ": doc " + poison + " between 10 ordinary rows in one transaction; "
                    + workload.committed() + " v1 transactions so far");
        }
        TimeUnit.MILLISECONDS.sleep(1000 + faults.nextInt(1500));
        finish(v2, () -> assertThat(pipeline.failure()).isEmpty(), poisoned);
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
        v2.execute(V2_SCHEMA + v2Extra);
        target = v2;
        String yaml = ("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", triggers: [%s] }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 3 }
                """ + backfill + """
                tables:
                  docs:
                    into: documents
                    columns:
                      doc_id: { from: id }
                      version: { from: version }
                      heading: { from: title }
                      content: { from: body }
                      labels: { from: tags }
                  events:
                    columns:
                      id: { from: id }
                      year: { from: year }
                      happened_at: { from: happened_at }
                      kind: { from: kind }
                """).formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), v2.url(), v2.user(), v2.password(),
                // The no-regression check (and the copy's brake) watch what the migration writes: they fire on it.
                v2Extra.contains("slow_copy") ? "documents.watch_version, documents.slow_copy" : "documents.watch_version",
                bootstrap, prefix);
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
        finish(v2, pipelineAlive, Set.of());
    }

    /** As {@link #finish(Target, ThrowingRunnable)}, where each of the {@code poisoned} v1 rows is a dead letter instead. */
    private void finish(Target v2, ThrowingRunnable pipelineAlive, Set<Long> poisoned) throws Exception {
        workload.stop();
        log("workload stopped: " + workload.summary());
        long waiting = System.nanoTime();
        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");
        log("cutover wait exited " + wait.exit() + " after " + seconds(waiting) + ":\n" + wait.out() + wait.err());
        pipelineAlive.run();
        assertThat(wait.exit()).as("cutover wait: %s", wait).isZero();

        List<List<String>> expected = pg.rows(v1, V1_ROWS).stream()
                .filter(row -> !poisoned.contains(Long.parseLong(row.get(0)))).toList();
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
        // Rows moved between partitions are one row each, under their new key: nothing is left under the old one.
        assertThat(v2.rows(EVENT_ROWS)).as("events in v2 against v1 (seed %d)", workload.seed())
                .containsExactlyElementsOf(pg.rows(v1, EVENT_ROWS));

        assertThat(regressions)
                .as("v2 rows whose version went down (seed %d)", workload.seed()).isEmpty();

        CliRun dlq = CliRun.of("dlq", "list", "--spec", specFile.toString());
        assertThat(dlq.exit()).as(dlq.toString()).isZero();
        List<String> letters = dlq.out().lines().filter(l -> l.startsWith("dlq=")).toList();
        assertThat(letters).as("dead letters (seed %d)", workload.seed()).hasSize(poisoned.size());
        for (long id : poisoned) {
            assertThat(letters).as("the dead letter of poison row %d", id).anySatisfy(l -> assertThat(l)
                    .contains("stage=sink table=documents", "key={\"doc_id\":" + id + "}", "no_poison"));
        }

        // The faults happened under the load this test is about: large TOASTed bodies, kept by updates.
        assertThat(workload.counted("updates keeping a large body")).as(workload.summary()).isPositive();
        assertThat(workload.counted("rolled back transactions")).as(workload.summary()).isPositive();
        assertThat(workload.counted("events moved between partitions")).as(workload.summary()).isPositive();
    }

    // ---- the migrator in child JVMs ----------------------------------------------------------------------------

    /**
     * A long-running {@code migrator} command ({@code run}, or one stage: {@code capture}, {@code transform},
     * {@code sink}) in a child JVM, its output in a log file.
     */
    private record Child(String command, Process process, Path log) {

        private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://\\S+)/metrics");
        private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

        static Child start(String command, Path spec, Path dataDir, Path log) throws IOException {
            List<String> line = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-XX:+UseSerialGC"));
            line.add("-Dlogback.configurationFile=" + childLogback(dataDir.getParent()));
            line.addAll(List.of("-cp", ChildClasspath.get(), Main.class.getName(),
                    command, "--spec", spec.toString(), "--data-dir", dataDir.toString(), "--no-check", "--http-port", "0"));
            Process process = new ProcessBuilder(line).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            FaultInjectionIT.log("started migrator " + command + " (pid " + process.pid() + "), log " + log.toAbsolutePath());
            return new Child(command, process, log);
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

        /** Until {@code GET /ready} answers 200: every stage of the command runs. */
        void awaitReady(Duration timeout) {
            long started = System.nanoTime();
            await().atMost(timeout).pollInterval(Duration.ofMillis(200)).until(() -> {
                checkAlive();
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
            FaultInjectionIT.log("migrator " + command + " (pid " + process.pid() + ") ready after " + seconds(started));
        }

        void checkAlive() {
            if (!process.isAlive()) {
                throw new IllegalStateException("migrator " + command + " (pid " + process.pid() + ") exited with "
                        + process.exitValue() + ":\n" + tail(log, 40));
            }
        }

        void kill() throws InterruptedException {
            process.destroyForcibly(); // SIGKILL: no shutdown hook, no clean close of any stage
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("pid " + process.pid() + " survived SIGKILL for 30 s");
            }
        }

        /** SIGTERM to every live one at once (a clean shutdown), then SIGKILL to any that takes too long. */
        static void stopAll(List<Child> children) {
            children.stream().map(Child::process).filter(Process::isAlive).forEach(Process::destroy);
            for (Child child : children) {
                try {
                    if (!child.process.waitFor(40, TimeUnit.SECONDS)) {
                        child.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    child.process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Holds the sink in the middle of a batch, so that a kill lands there. The sink writes a batch's rows, then its
     * offsets, then commits, all in one transaction; an EXCLUSIVE lock on the offsets table (it blocks writes to the
     * table, not reads) stops the next batch after its rows and before its offsets, until {@link #release()}.
     */
    private static final class SinkHold implements AutoCloseable {

        private final Target v2;
        private final Connection holder;
        private final long holderPid;

        SinkHold(Target v2, String offsetsTable) throws SQLException {
            this.v2 = v2;
            this.holder = DriverManager.getConnection(v2.url(), v2.user(), v2.password());
            holder.setAutoCommit(false);
            try (Statement st = holder.createStatement()) {
                st.execute("LOCK TABLE " + offsetsTable + " IN EXCLUSIVE MODE");
                try (ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
                    rs.next();
                    holderPid = rs.getLong(1);
                }
            } catch (SQLException e) {
                holder.close();
                throw e;
            }
        }

        /** Until a sink transaction that wrote rows waits for the lock; that transaction's id (with its epoch). */
        long awaitBlockedBatch(Child sink) {
            return await().alias("a sink batch (application_name cdc-migrator-sink, set by the sink) blocked on the offsets table")
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                    .until(() -> {
                        sink.checkAlive();
                        return blockedBatch();
                    }, OptionalLong::isPresent).getAsLong();
        }

        private OptionalLong blockedBatch() throws SQLException {
            // backend_xid is set once the transaction wrote (its rows); it is the 32-bit id, which txid_status wants
            // with its epoch, taken from the current snapshot's 64-bit xmax.
            List<List<String>> rows = v2.rows("SELECT backend_xid::text, txid_snapshot_xmax(txid_current_snapshot())"
                    + " FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cdc-migrator-sink'"
                    + " AND backend_xid IS NOT NULL AND " + holderPid + " = ANY (pg_blocking_pids(pid))");
            if (rows.isEmpty()) {
                return OptionalLong.empty();
            }
            long xid = Long.parseLong(rows.get(0).get(0));
            long xmax = Long.parseLong(rows.get(0).get(1));
            long full = (xmax & ~0xFFFF_FFFFL) | xid;
            // The 64-bit id nearest to xmax with these low 32 bits. The xid may be a little newer than the snapshot
            // (pg_stat_activity is read after the query's snapshot is taken), which is not a wraparound.
            if (full > xmax + (1L << 31)) {
                full -= 1L << 32;
            } else if (full < xmax - (1L << 31)) {
                full += 1L << 32;
            }
            return OptionalLong.of(full);
        }

        /** Lets the blocked transaction go on. */
        void release() throws SQLException {
            if (!holder.isClosed()) {
                holder.rollback();
                holder.close();
            }
        }

        @Override
        public void close() throws SQLException {
            release();
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

    /**
     * Removes every member of the consumer groups of the killed command ({@code run}: the transform's and the sink's;
     * capture is in none), all dead at this point: each group has one member, in the killed process.
     */
    private void removeDeadGroupMembers(String killed) {
        Topics topics = topics();
        List<String> groups = switch (killed) {
            case "run" -> List.of(topics.transformApplicationId(), topics.sinkGroup());
            case "transform" -> List.of(topics.transformApplicationId());
            case "sink" -> List.of(topics.sinkGroup());
            default -> List.of();
        };
        if (groups.isEmpty()) {
            return;
        }
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            for (String group : groups) {
                try {
                    admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions()).all().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    log("could not remove the dead members of " + group + " (" + e.getMessage() + "); the coordinator will"
                            + " after the session timeout");
                }
            }
        }
    }

    /** The copy backfill's chunks: how many are copied, and how many there are (0 and 0 before it planned them). */
    private int[] copiedChunks(Target v2) throws SQLException {
        String chunks = spec().target().stateSchema() + ".backfill_chunks";
        if (v2.rows("SELECT to_regclass('" + chunks + "') IS NULL").get(0).get(0).equals("t")) {
            return new int[] {0, 0};
        }
        List<String> counts = v2.rows("SELECT count(copied_at), count(*) FROM " + chunks).get(0);
        return new int[] {Integer.parseInt(counts.get(0)), Integer.parseInt(counts.get(1))};
    }

    private Spec spec() {
        return new SpecParser().parse(specFile);
    }

    private Topics topics() {
        return new Topics(spec());
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
            pg.dropSlotOnceReleased(v1, prefix);
        } catch (RuntimeException e) {
            log("could not drop the replication slot " + prefix + ": " + e.getMessage());
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
