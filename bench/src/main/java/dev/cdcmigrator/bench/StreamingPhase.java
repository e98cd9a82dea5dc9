package dev.cdcmigrator.bench;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * One load phase against a replicating source/target pair: pgbench (full speed or rate-limited) plus markers, then
 * waits until the target holds every change and measures what it cost.
 *
 * <p>Caught up means: the target's checksum of every row (count and hashes of id, status and updated_at) equals the
 * source's. With native replication (apply in commit order) the fence marker inserted after the load proves it and
 * its apply time is the catch-up instant; the checksum confirms. With the pipeline (per-partition, per-topic order
 * only) the instant is the last time the sink was seen committing (polled every 20 ms) before it went quiet and the
 * checksum matched.
 */
final class StreamingPhase {

    /** How the two sides are reached and compared. */
    record Setup(LocalPostgres source, LocalPostgres target, ClusterProcs targetProcs, ClusterProcs sourceProcs,
                 JvmStats jvm, String sourceChecksumSql, String targetChecksumSql,
                 DoubleSupplier sinkProgress, Supplier<String> stageCounts, Supplier<Optional<String>> failure,
                 Path workDir, long rows, int clients, long markerIntervalMillis, int catchUpTimeoutSeconds) {
    }

    /** What one phase measured. */
    record Result(String label, int rateLimit, Workload.PgbenchResult pgbench, long sourceChanges,
                  boolean caughtUp, double catchUpSeconds, String catchUpHow, boolean verified,
                  List<Double> latenciesMillis, int markersWritten,
                  double targetCpuSeconds, double sourceCpuSeconds, double windowSeconds,
                  JvmStats.Snapshot jvmBefore, JvmStats.Snapshot jvmAfter, double sinkRowsApplied) {

        double sourceChangesPerSecond() {
            return sourceChanges / pgbench.seconds();
        }

        /** Source changes the target held per second from load start until caught up (a lower bound if it did not). */
        double applyChangesPerSecond() {
            return sourceChanges / (pgbench.seconds() + catchUpSeconds);
        }

        double pipelineCpuSeconds() {
            return jvmBefore == null ? 0 : jvmAfter.pipelineCpuSeconds(jvmBefore);
        }

        /** Pipeline JVM (without the benchmark's threads) plus the target cluster. */
        double cpuSeconds() {
            return pipelineCpuSeconds() + targetCpuSeconds;
        }

        double cpuSecondsPerMillionChanges() {
            return cpuSeconds() / sourceChanges * 1e6;
        }

        double p(double percentile) {
            return Markers.percentile(latenciesMillis, percentile);
        }

        Map<String, Long> threadCpu() {
            return jvmBefore == null ? Map.of() : jvmAfter.threadDeltas(jvmBefore);
        }
    }

    private StreamingPhase() {
    }

    /**
     * The warm-up right after the initial copy, at the rated rate (null if {@code --warmup-seconds 0}): the streaming
     * paths run for the first time then, and the JIT compiles them on the same two cores.
     */
    static Result warmup(Setup s, Options o, String side) throws Exception {
        return o.warmupSeconds() > 0
                ? run(s, side + " warm-up " + o.ratedRate() + "/s", o.warmupSeconds(), o.ratedRate()) : null;
    }

    /** The measured phase at the rated rate (null if {@code --rated-seconds 0}). */
    static Result rated(Setup s, Options o, String side) throws Exception {
        return o.ratedSeconds() > 0 ? run(s, side + " " + o.ratedRate() + "/s", o.ratedSeconds(), o.ratedRate()) : null;
    }

    static Result run(Setup s, String label, int seconds, int rateLimit) throws Exception {
        try (Connection src = Db.connect(s.source()); Connection tgt = Db.connect(s.target())) {
            long changesBefore = Workload.tupleChanges(src);
            double targetCpu0 = s.targetProcs().cpuSeconds();
            double sourceCpu0 = s.sourceProcs().cpuSeconds();
            JvmStats.Snapshot jvm0 = s.jvm() == null ? null : s.jvm().snapshot();
            double sink0 = s.sinkProgress() == null ? 0 : s.sinkProgress().getAsDouble();
            long t0 = System.nanoTime();
            Progress.say("%s: pgbench %d clients, %s, %d s, marker every %d ms", label, s.clients(),
                    rateLimit > 0 ? rateLimit + " tx/s" : "full speed", seconds, s.markerIntervalMillis());

            Markers markers = Markers.start(s.source(), s.markerIntervalMillis());
            Thread stages = s.stageCounts() == null ? null : stageReporter(s, label, t0);
            Workload.PgbenchResult pg;
            try {
                pg = Workload.pgbench(s.source(), s.workDir(), s.rows(), s.clients(), seconds, rateLimit);
            } finally {
                markers.close();
            }
            long loadEnd = pg.endedAtMillis();
            Markers.Stamp fence = Markers.insertOne(src);
            double sourceCpu = s.sourceProcs().cpuSeconds() - sourceCpu0;

            long deadline = loadEnd + s.catchUpTimeoutSeconds() * 1000L;
            boolean caughtUp = false;
            long caughtUpAt = -1;
            String how;
            String sourceSum = null;
            boolean verified = false;
            if (s.sinkProgress() == null) {
                // Native: commit order, so the fence's arrival means every earlier change arrived.
                Timestamp applied = awaitFence(tgt, fence.id(), deadline, s.failure());
                if (applied != null) {
                    caughtUp = true;
                    caughtUpAt = applied.getTime();
                }
                how = "fence marker applied (commit-order apply)";
            } else {
                how = "sink quiet + checksum match (sink commits polled every 20 ms)";
                double last = s.sinkProgress().getAsDouble();
                long lastChangeAt = System.currentTimeMillis();
                long fenceSeen = -1;
                while (System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                    double now = s.sinkProgress().getAsDouble();
                    long at = System.currentTimeMillis();
                    if (now != last) {
                        last = now;
                        lastChangeAt = at;
                        continue;
                    }
                    if (s.failure().get().isPresent()) {
                        throw new IllegalStateException("the pipeline failed: " + s.failure().get().orElseThrow());
                    }
                    if (at - lastChangeAt < 500) {
                        continue;
                    }
                    if (fenceSeen < 0 && Markers.appliedAt(tgt, fence.id()) == null) {
                        continue;
                    }
                    fenceSeen = at;
                    if (sourceSum == null) {
                        sourceSum = Db.queryString(src, s.sourceChecksumSql());
                    }
                    if (sourceSum.equals(Db.queryString(tgt, s.targetChecksumSql()))) {
                        caughtUp = true;
                        verified = true;
                        caughtUpAt = Math.max(lastChangeAt, loadEnd);
                        break;
                    }
                    lastChangeAt = System.currentTimeMillis(); // mismatch: wait for more commits before checking again
                }
            }
            if (stages != null) {
                stages.interrupt();
                stages.join();
            }
            double windowSeconds = (System.nanoTime() - t0) / 1e9;
            double targetCpu = s.targetProcs().cpuSeconds() - targetCpu0;
            JvmStats.Snapshot jvm1 = s.jvm() == null ? null : s.jvm().snapshot();
            double sinkRows = s.sinkProgress() == null ? 0 : s.sinkProgress().getAsDouble() - sink0;

            long changes = Workload.tupleChanges(src) - changesBefore;
            if (caughtUp && !verified) {
                sourceSum = Db.queryString(src, s.sourceChecksumSql());
                verified = sourceSum.equals(Db.queryString(tgt, s.targetChecksumSql()));
            }
            double catchUp = caughtUp ? Math.max(0, caughtUpAt - loadEnd) / 1000.0 : s.catchUpTimeoutSeconds();
            List<Integer> ids = markers.ids();
            List<Double> latencies = Markers.latenciesMillis(tgt, ids);
            Result r = new Result(label, rateLimit, pg, changes, caughtUp, catchUp, how, verified, latencies, ids.size(),
                    targetCpu, sourceCpu, windowSeconds, jvm0, jvm1, sinkRows);
            Progress.say("%s: %,d source changes in %.1f s (%,.0f/s); %s %.2f s after the load; apply %,.0f/s; "
                            + "latency p50 %.0f ms p99 %.0f ms (%d of %d markers); target CPU %.1f s%s; checksum %s",
                    label, changes, pg.seconds(), r.sourceChangesPerSecond(), caughtUp ? "caught up" : "NOT caught up within",
                    catchUp, r.applyChangesPerSecond(), r.p(50), r.p(99), latencies.size(), ids.size(), targetCpu,
                    jvm0 == null ? "" : String.format(", pipeline JVM CPU %.1f s", r.pipelineCpuSeconds()),
                    verified ? "matches" : "DIFFERS");
            Progress.say("%s: marker latencies in the order written (ms): %s", label, Markers.latenciesInOrder(tgt, ids).stream()
                    .map(ms -> String.format("%.0f", ms)).collect(java.util.stream.Collectors.joining(" ")));
            if (jvm0 != null) {
                Progress.say("%s: %s; busiest threads (CPU-s): %s", label, jvm1.gcAndJit(jvm0), busiest(r.threadCpu(), 25));
            }
            return r;
        }
    }

    /**
     * Every 2 s until interrupted, how far each stage got (source changes, then the pipeline's own counts), so that
     * the stage a backlog waits in shows.
     */
    private static Thread stageReporter(Setup s, String label, long t0) {
        Thread reporter = new Thread(() -> {
            try (Connection src = Db.connect(s.source())) {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(2000);
                    long changes = Db.queryLong(src, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                            + " WHERE relname = 'tasks'");
                    long walBehind = Db.queryLong(src, "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(),"
                            + " confirmed_flush_lsn)), 0)::bigint FROM pg_replication_slots");
                    Progress.say("%s: +%.0f s source tasks changes %,d, slot's confirmed position %,d KiB behind; %s", label,
                            (System.nanoTime() - t0) / 1e9, changes, walBehind / 1024, s.stageCounts().get());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (SQLException e) {
                Progress.say("%s: stage reporter stopped: %s", label, e.getMessage());
            }
        }, "harness-stages");
        reporter.setDaemon(true);
        reporter.start();
        return reporter;
    }

    static String busiest(Map<String, Long> threads, int limit) {
        return String.join(", ", threads.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(limit)
                .map(e -> String.format("%s=%.2f", e.getKey(), e.getValue() / 1e9)).toList());
    }

    private static Timestamp awaitFence(Connection tgt, int id, long deadline, Supplier<Optional<String>> failure)
            throws SQLException, InterruptedException {
        while (System.currentTimeMillis() < deadline) {
            Timestamp applied = Markers.appliedAt(tgt, id);
            if (applied != null) {
                return applied;
            }
            if (failure.get().isPresent()) {
                throw new IllegalStateException(failure.get().orElseThrow());
            }
            Thread.sleep(5);
        }
        return null;
    }
}
