package dev.cdcmigrator.bench;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.embedded.LocalPostgres;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import javax.management.JMException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * The pipeline on the same data and load: capture, transform and sink in this JVM around the embedded broker
 * ({@link Pipeline}, as {@code migrator run} wires them), v1 tasks mapped to a Keiko-style v2 table.
 */
final class PipelineRun {

    static final String SOURCE_CHECKSUM = "SELECT count(*) || ':' || coalesce(sum(hashtextextended(id::text || '|' || "
            + "(CASE status WHEN 'created' THEN 'pending' WHEN 'queued' THEN 'pending' WHEN 'running' THEN 'running' "
            + "WHEN 'finished' THEN 'completed' ELSE 'pending' END) || '|' || coalesce(updated_at::text, ''), 0)), 0) FROM tasks";
    static final String TARGET_CHECKSUM = NativeRun.CHECKSUM;

    record Result(double loadSeconds, double startSeconds, double firstRowSeconds, double backfillSeconds,
                  boolean backfillDone, double backfillTargetCpuSeconds, JvmStats.Snapshot backfillJvmBefore,
                  JvmStats.Snapshot backfillJvmAfter, boolean backfillVerified, StreamingPhase.Result warmup,
                  StreamingPhase.Result rated, StreamingPhase.Result full,
                  long peakJvmRssKb, boolean peakRssReset, long peakTargetPssKb,
                  Profile.Summary backfillProfile, Profile.Summary streamingProfile, String meters) {

        double backfillRowsPerSecond(long rows) {
            return rows / backfillSeconds;
        }

        double backfillJvmCpuSeconds() {
            return backfillJvmAfter.pipelineCpuSeconds(backfillJvmBefore);
        }

        double backfillCpuSeconds() {
            return backfillJvmCpuSeconds() + backfillTargetCpuSeconds;
        }
    }

    private PipelineRun() {
    }

    static String specYaml() {
        try (InputStream in = PipelineRun.class.getResourceAsStream("tasks-spec.yaml")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Result run(Options o, Path work, Sampler sampler, JvmStats jvm) throws Exception {
        Progress.say("pipeline: starting two throwaway clusters (v1, v2)");
        try (LocalPostgres v1 = LocalPostgres.start(work.resolve("pipeline-v1"));
             LocalPostgres v2 = LocalPostgres.start(work.resolve("pipeline-v2"))) {
            ClusterProcs v1Procs = new ClusterProcs("v1", work.resolve("pipeline-v1"));
            ClusterProcs v2Procs = new ClusterProcs("v2", work.resolve("pipeline-v2"));
            sampler.watch(v2Procs);
            v1.createDatabase(Db.DATABASE);
            v2.createDatabase(Db.DATABASE);
            double loadSeconds;
            try (Connection s = Db.connect(v1); Connection t = Db.connect(v2)) {
                Workload.productionLikeCommits(s);
                Workload.productionLikeCommits(t);
                loadSeconds = Workload.loadSource(s, o.rows());
                Progress.say("pipeline: loaded %,d rows into v1 in %.1f s", o.rows(), loadSeconds);
                Db.exec(t, Workload.V2_TASKS + Workload.MARKER_APPLIED);
            }
            Map<String, String> env = Map.of("BENCH_V1_URL", v1.jdbcUrl(Db.DATABASE), "BENCH_V2_URL", v2.jdbcUrl(Db.DATABASE),
                    "BENCH_BACKFILL", o.backfillMode(), "BENCH_STREAM_THREADS", String.valueOf(o.streamThreads()));
            Spec spec = new SpecParser(env::get).parse(specYaml(), "bench/tasks-spec.yaml");
            SimpleMeterRegistry registry = new SimpleMeterRegistry();

            v2Procs.resetPeak();
            boolean rssReset = JvmStats.resetPeakRss();
            double v2Cpu0 = v2Procs.cpuSeconds();
            JvmStats.Snapshot jvm0 = jvm.snapshot();
            Profile backfillProfile = o.profile() ? Profile.start(work.resolve("backfill.jfr")) : null;
            long started = System.nanoTime();
            Pipeline pipeline = startPipeline(spec, work.resolve("migrator"), registry);
            double startSeconds = (System.nanoTime() - started) / 1e9;
            Progress.say("pipeline: Pipeline.start returned after %.1f s (embedded broker %s); backfilling", startSeconds,
                    pipeline.bootstrapServers());
            try {
                double firstRow = Double.NaN;
                double backfill = Double.NaN;
                boolean done = false;
                long deadline = started + o.backfillTimeoutSeconds() * 1_000_000_000L;
                long nextReport = System.nanoTime() + 10_000_000_000L;
                double v2Complete = Double.NaN;
                try (Connection t = Db.connect(v2);
                     org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                             Map.of("bootstrap.servers", pipeline.bootstrapServers()))) {
                    while (System.nanoTime() < deadline) {
                        double applied = applied(registry, "tasks") + copied(registry, "tasks");
                        long now = System.nanoTime();
                        if (Double.isNaN(firstRow) && applied > 0) {
                            firstRow = (now - started) / 1e9;
                        }
                        if (Double.isNaN(v2Complete) && applied >= o.rows() && Db.queryLong(t, "SELECT count(*) FROM tasks") >= o.rows()) {
                            v2Complete = (now - started) / 1e9;
                            Progress.say("pipeline: v2 holds every row after %.1f s; waiting for the transform to finish the raw records", v2Complete);
                        }
                        // Done once the transform has also worked through every raw record (with the copy backfill it
                        // takes in the copied rows' images after v2 already holds them) and capture streams.
                        if (!Double.isNaN(v2Complete) && pipeline.running() && transformBehind(admin, spec) == 0) {
                            backfill = (now - started) / 1e9;
                            done = true;
                            break;
                        }
                        if (pipeline.failure().isPresent()) {
                            throw new IllegalStateException("the pipeline failed: " + pipeline.failure().orElseThrow());
                        }
                        if (now > nextReport) {
                            Progress.say("pipeline: backfill %,.0f of %,d rows applied", applied, o.rows());
                            nextReport = now + 10_000_000_000L;
                        }
                        Thread.sleep(20);
                    }
                }
                if (!done) {
                    backfill = o.backfillTimeoutSeconds();
                }
                double backfillV2Cpu = v2Procs.cpuSeconds() - v2Cpu0;
                JvmStats.Snapshot jvm1 = jvm.snapshot();
                Profile.Summary backfillSummary = backfillProfile == null ? null : backfillProfile.stop();
                boolean backfillVerified;
                try (Connection s = Db.connect(v1); Connection t = Db.connect(v2)) {
                    backfillVerified = Db.queryString(s, SOURCE_CHECKSUM).equals(Db.queryString(t, TARGET_CHECKSUM));
                }
                Progress.say("pipeline: backfill of %,d rows %s %.1f s (%,.0f rows/s), first row after %.1f s; v2 CPU %.1f s,"
                                + " pipeline JVM CPU %.1f s; checksum %s",
                        o.rows(), done ? "in" : "NOT DONE within", backfill, o.rows() / backfill, firstRow, backfillV2Cpu,
                        jvm1.pipelineCpuSeconds(jvm0), backfillVerified ? "matches" : "DIFFERS");

                Progress.say("pipeline: backfill %s; busiest threads (CPU-s): %s", jvm1.gcAndJit(jvm0),
                        StreamingPhase.busiest(jvm1.threadDeltas(jvm0), 25));

                StreamingPhase.Setup setup = new StreamingPhase.Setup(v1, v2, v2Procs, v1Procs, jvm, SOURCE_CHECKSUM,
                        TARGET_CHECKSUM, () -> applied(registry, null), () -> stageCounts(registry), pipeline::failure,
                        work, o.rows(), o.clients(), o.markerIntervalMillis(), o.catchUpTimeoutSeconds());
                StreamingPhase.Result warmup = StreamingPhase.warmup(setup, o, "pipeline");
                StreamingPhase.Result rated = StreamingPhase.rated(setup, o, "pipeline");
                Profile streamingProfile = o.profile() ? Profile.start(work.resolve("streaming.jfr")) : null;
                StreamingPhase.Result full = StreamingPhase.run(setup, "pipeline full speed", o.loadSeconds(), 0);
                Profile.Summary streamingSummary = streamingProfile == null ? null : streamingProfile.stop();
                long peakRss = JvmStats.peakRssKb();
                sampler.unwatch(v2Procs);
                return new Result(loadSeconds, startSeconds, firstRow, backfill, done, backfillV2Cpu, jvm0, jvm1,
                        backfillVerified, warmup, rated, full, peakRss, rssReset, v2Procs.peakPssKb(), backfillSummary,
                        streamingSummary, meters(registry));
            } finally {
                long closing = System.nanoTime();
                pipeline.close();
                Progress.say("pipeline: closed in %.1f s", (System.nanoTime() - closing) / 1e9);
            }
        }
    }

    /** Starts the pipeline on a thread of its own, so that the start-up's CPU counts as the pipeline's. */
    private static Pipeline startPipeline(Spec spec, Path dataDir, MeterRegistry registry) throws InterruptedException {
        AtomicReference<Pipeline> pipeline = new AtomicReference<>();
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Thread starter = new Thread(() -> {
            try {
                pipeline.set(Pipeline.start(spec, dataDir, 0, registry));
            } catch (RuntimeException e) {
                failure.set(e);
            }
        }, "pipeline-start");
        starter.start();
        starter.join();
        if (failure.get() != null) {
            throw failure.get();
        }
        return pipeline.get();
    }

    /** Raw records the transform has not committed yet, over every partition of every raw topic. */
    private static long transformBehind(org.apache.kafka.clients.admin.Admin admin, Spec spec) throws Exception {
        dev.cdcmigrator.common.Topics topics = new dev.cdcmigrator.common.Topics(spec);
        Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(topics.transformApplicationId()).partitionsToOffsetAndMetadata().get();
        Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new java.util.HashMap<>();
        for (String table : spec.capturedTables()) {
            String topic = topics.raw(table);
            admin.describeTopics(java.util.List.of(topic)).allTopicNames().get().get(topic).partitions()
                    .forEach(p -> latest.put(new org.apache.kafka.common.TopicPartition(topic, p.partition()),
                            org.apache.kafka.clients.admin.OffsetSpec.latest()));
        }
        long behind = 0;
        for (var end : admin.listOffsets(latest).all().get().entrySet()) {
            var done = committed.get(end.getKey());
            behind += Math.max(0, end.getValue().offset() - (done == null ? 0 : done.offset()));
        }
        return behind;
    }

    /** Rows the copy backfill wrote (backfill.mode copy; the sink applies none of them). */
    static double copied(MeterRegistry registry, String table) {
        return registry.find("migrator.backfill.rows").tag("outcome", "copied").counters().stream()
                .filter(c -> table.equals(c.getId().getTag("table")))
                .mapToDouble(Counter::count).sum();
    }

    /** v2 row changes the sink committed (all tables when {@code table} is null). */
    static double applied(MeterRegistry registry, String table) {
        return registry.find("migrator.sink.rows.applied").counters().stream()
                .filter(c -> table == null || table.equals(c.getId().getTag("table")))
                .mapToDouble(Counter::count).sum();
    }

    /**
     * Records each stage has handled so far, all tables together, and where the transform's stream thread spends its
     * time (Kafka Streams' thread metrics over their 30 s window, read from the platform MBean server).
     */
    private static String stageCounts(MeterRegistry registry) {
        return String.format("captured %,.0f, transformed %,.0f, applied %,.0f; transform thread %s",
                sum(registry, "migrator.capture.changes"), sum(registry, "migrator.transform.records"),
                applied(registry, null), streamThreadMetrics());
    }

    private static final String STREAM_THREAD_METRICS =
            "(poll|process|commit|punctuate)-ratio|commit-latency-(avg|max)|commit-rate|poll-records-avg";

    private static String streamThreadMetrics() {
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            StringBuilder out = new StringBuilder();
            for (ObjectName name : server.queryNames(new ObjectName("kafka.streams:type=stream-thread-metrics,*"), null)) {
                for (MBeanAttributeInfo attribute : server.getMBeanInfo(name).getAttributes()) {
                    String metric = attribute.getName();
                    if (metric.matches(STREAM_THREAD_METRICS)
                            && server.getAttribute(name, metric) instanceof Number value) {
                        out.append(out.length() == 0 ? "" : ", ").append(metric).append(' ')
                                .append(String.format(metric.endsWith("ratio") ? "%.2f" : "%.1f", value.doubleValue()));
                    }
                }
            }
            return out.length() == 0 ? "(no metrics)" : out.toString();
        } catch (JMException e) {
            return "(metrics unreadable: " + e.getMessage() + ")";
        }
    }

    private static double sum(MeterRegistry registry, String counter) {
        return registry.find(counter).counters().stream().mapToDouble(Counter::count).sum();
    }

    private static String meters(MeterRegistry registry) {
        StringBuilder out = new StringBuilder();
        registry.getMeters().stream()
                .filter(m -> m instanceof Counter)
                .sorted(java.util.Comparator.comparing(m -> m.getId().getName() + m.getId().getTags()))
                .forEach(m -> out.append(String.format("%s%s = %,.0f%n", m.getId().getName(), m.getId().getTags().stream()
                        .map(t -> t.getKey() + "=" + t.getValue()).toList(), ((Counter) m).count())));
        return out.toString();
    }
}
