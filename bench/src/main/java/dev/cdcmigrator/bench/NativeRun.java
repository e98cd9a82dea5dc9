package dev.cdcmigrator.bench;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Optional;

/**
 * The reference: PostgreSQL's own logical replication (publication/subscription, copy_data) between two throwaway
 * clusters, same table, same rows, same load; no transform.
 */
final class NativeRun {

    static final String CHECKSUM = "SELECT count(*) || ':' || coalesce(sum(hashtextextended("
            + "id::text || '|' || coalesce(status, '') || '|' || coalesce(updated_at::text, ''), 0)), 0) FROM tasks";

    record Result(double loadSeconds, double syncSeconds, double firstRowSeconds, double syncTargetCpuSeconds,
                  double syncSourceCpuSeconds, boolean syncVerified, StreamingPhase.Result warmup,
                  StreamingPhase.Result rated, StreamingPhase.Result full, long peakTargetPssKb) {

        double syncRowsPerSecond(long rows) {
            return rows / syncSeconds;
        }
    }

    private NativeRun() {
    }

    static Result run(Options o, Path work, Sampler sampler) throws Exception {
        Progress.say("native: starting two throwaway clusters");
        try (LocalPostgres src = LocalPostgres.start(work.resolve("native-source"));
             LocalPostgres tgt = LocalPostgres.start(work.resolve("native-target"))) {
            ClusterProcs srcProcs = new ClusterProcs("native source", work.resolve("native-source"));
            ClusterProcs tgtProcs = new ClusterProcs("native target", work.resolve("native-target"));
            sampler.watch(tgtProcs);
            src.createDatabase(Db.DATABASE);
            tgt.createDatabase(Db.DATABASE);
            double loadSeconds;
            try (Connection s = Db.connect(src); Connection t = Db.connect(tgt)) {
                Workload.productionLikeCommits(s);
                Workload.productionLikeCommits(t);
                loadSeconds = Workload.loadSource(s, o.rows());
                Progress.say("native: loaded %,d rows into the source in %.1f s", o.rows(), loadSeconds);
                Db.exec(t, Workload.V1_TASKS + Workload.MARKERS + Workload.MARKER_APPLIED);
                Db.exec(s, "CREATE PUBLICATION bench_pub FOR TABLE tasks, markers");
            }
            tgtProcs.resetPeak();

            double tgtCpu0 = tgtProcs.cpuSeconds();
            double srcCpu0 = srcProcs.cpuSeconds();
            double syncSeconds;
            double firstRow = Double.NaN;
            try (Connection t = Db.connect(tgt)) {
                long started = System.nanoTime();
                Db.exec(t, "CREATE SUBSCRIPTION bench_sub CONNECTION 'host=" + src.host() + " port=" + src.port()
                        + " dbname=" + Db.DATABASE + " user=" + src.user() + "' PUBLICATION bench_pub WITH (copy_data = true)");
                long deadline = started + o.backfillTimeoutSeconds() * 1_000_000_000L;
                while (true) {
                    if (Double.isNaN(firstRow) && Db.queryLong(t, "SELECT count(*) FROM (SELECT 1 FROM tasks LIMIT 1) x") > 0) {
                        firstRow = (System.nanoTime() - started) / 1e9;
                    }
                    if (Db.queryLong(t, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'") == 0
                            && Db.queryLong(t, "SELECT count(*) FROM pg_subscription_rel") == 2
                            && Db.queryLong(t, "SELECT count(*) FROM tasks") == o.rows()) {
                        break;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the subscription did not get ready within " + o.backfillTimeoutSeconds() + " s");
                    }
                    Thread.sleep(10);
                }
                syncSeconds = (System.nanoTime() - started) / 1e9;
                if (Double.isNaN(firstRow)) {
                    firstRow = syncSeconds;
                }
            }
            double syncTgtCpu = tgtProcs.cpuSeconds() - tgtCpu0;
            double syncSrcCpu = srcProcs.cpuSeconds() - srcCpu0;
            boolean syncVerified;
            try (Connection s = Db.connect(src); Connection t = Db.connect(tgt)) {
                syncVerified = Db.queryString(s, CHECKSUM).equals(Db.queryString(t, CHECKSUM));
            }
            Progress.say("native: initial sync of %,d rows in %.2f s (%,.0f rows/s), first row after %.2f s, target CPU %.1f s, source CPU %.1f s, checksum %s",
                    o.rows(), syncSeconds, o.rows() / syncSeconds, firstRow, syncTgtCpu, syncSrcCpu, syncVerified ? "matches" : "DIFFERS");

            StreamingPhase.Setup setup = new StreamingPhase.Setup(src, tgt, tgtProcs, srcProcs, null, CHECKSUM, CHECKSUM,
                    null, null, Optional::empty, work, o.rows(), o.clients(), o.markerIntervalMillis(), o.catchUpTimeoutSeconds());
            StreamingPhase.Result warmup = StreamingPhase.warmup(setup, o, "native");
            StreamingPhase.Result rated = StreamingPhase.rated(setup, o, "native");
            StreamingPhase.Result full = StreamingPhase.run(setup, "native full speed", o.loadSeconds(), 0);
            sampler.unwatch(tgtProcs);
            try (Connection t = Db.connect(tgt)) {
                Db.exec(t, "DROP SUBSCRIPTION bench_sub");
            }
            return new Result(loadSeconds, syncSeconds, firstRow, syncTgtCpu, syncSrcCpu, syncVerified, warmup, rated, full,
                    tgtProcs.peakPssKb());
        }
    }
}
