package dev.cdcmigrator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/** The markdown report: figures, ratios, the targets, and where the pipeline's CPU went. */
final class Report {

    private static final long TEN_MILLION = 10_000_000L;

    private final StringBuilder out = new StringBuilder();

    private Report() {
    }

    static String render(Options o, ZonedDateTime started, double wallSeconds, NativeRun.Result nat, PipelineRun.Result pipe,
                         JmhRun.Result jmh) {
        Report r = new Report();
        r.header(o, started, wallSeconds);
        if (nat != null || pipe != null) {
            r.figures(o, nat, pipe, jmh);
        }
        if (nat != null && pipe != null) {
            r.targets(o, nat, pipe, jmh);
        }
        if (pipe != null) {
            r.whereTimeGoes(pipe);
        }
        if (jmh != null) {
            r.jmh(jmh);
        }
        r.checks(nat, pipe);
        return r.out.toString();
    }

    private void header(Options o, ZonedDateTime started, double wallSeconds) {
        line("### Run of %s", started.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")));
        line("");
        line("- Command: `%s`", o.command());
        line("- Backfill mode: %s; transform stream threads: %d", o.backfillMode(), o.streamThreads());
        line("- Machine: %d CPUs (nproc), %s memory, %s; Java %s; %s", Runtime.getRuntime().availableProcessors(),
                memory(), cpuModel(), System.getProperty("java.version"), postgresVersion());
        if (o.runNative() || o.runPipeline()) {
            line("- Workload: N = %,d v1 tasks rows loaded before replication starts; then pgbench (%d clients, -M prepared): "
                            + "%s%d s at full speed of 60%% UPDATE status/updated_at of a random id, 30%% INSERT (ids from a "
                            + "sequence), 10%% DELETE of a random id; a marker row stamped with clock_timestamp() every %d ms",
                    o.rows(), o.clients(),
                    (o.warmupSeconds() > 0 ? o.warmupSeconds() + " s at " + o.ratedRate() + " tx/s (warm-up), " : "")
                            + (o.ratedSeconds() > 0 ? o.ratedSeconds() + " s at " + o.ratedRate() + " tx/s, then " : ""),
                    o.loadSeconds(), o.markerIntervalMillis());
        }
        line("- Wall time of the run: %.1f min; load average at the start %s, at the end %s (other processes on the machine "
                + "compete for the same 2 cores)", wallSeconds / 60, o.loadAverageAtStart(), loadAverage());
        line("");
    }

    private void figures(Options o, NativeRun.Result n, PipelineRun.Result p, JmhRun.Result jmh) {
        long rows = o.rows();
        line("| figure | native logical replication | pipeline | pipeline / native |");
        line("|---|---:|---:|---:|");
        row("initial copy: rows/s", n == null ? NaN : n.syncRowsPerSecond(rows), p == null ? NaN : p.backfillRowsPerSecond(rows), "%,.0f", true);
        row("initial copy: seconds" + (p != null && !p.backfillDone() ? " (pipeline did NOT finish: timeout)" : ""),
                n == null ? NaN : n.syncSeconds(), p == null ? NaN : p.backfillSeconds(), "%.1f", true);
        row("time to first row in the target, s", n == null ? NaN : n.firstRowSeconds(), p == null ? NaN : p.firstRowSeconds(), "%.2f", true);
        row("initial copy: CPU-s (native: target cluster; pipeline: JVM + v2 cluster)",
                n == null ? NaN : n.syncTargetCpuSeconds(), p == null ? NaN : p.backfillCpuSeconds(), "%.1f", true);
        row("initial copy: CPU-s per million rows", n == null ? NaN : n.syncTargetCpuSeconds() / rows * 1e6,
                p == null ? NaN : p.backfillCpuSeconds() / rows * 1e6, "%.1f", true);
        row("initial copy: source cluster CPU-s (not counted above)", n == null ? NaN : n.syncSourceCpuSeconds(), NaN, "%.1f", false);
        StreamingPhase.Result nw = n == null ? null : n.warmup();
        StreamingPhase.Result pw = p == null ? null : p.warmup();
        if (nw != null || pw != null) {
            String at = "warm-up, the first " + o.warmupSeconds() + " s at " + o.ratedRate() + " tx/s after the copy: ";
            row(at + "latency p50, ms", nw == null ? NaN : nw.p(50), pw == null ? NaN : pw.p(50), "%,.0f", true);
            row(at + "latency p99, ms", nw == null ? NaN : nw.p(99), pw == null ? NaN : pw.p(99), "%,.0f", true);
            row(at + "CPU-s per million changes", nw == null ? NaN : nw.cpuSecondsPerMillionChanges(),
                    pw == null ? NaN : pw.cpuSecondsPerMillionChanges(), "%.1f", true);
        }
        StreamingPhase.Result nr = n == null ? null : n.rated();
        StreamingPhase.Result pr = p == null ? null : p.rated();
        if (nr != null || pr != null) {
            String at = "at " + o.ratedRate() + " tx/s: ";
            streaming(at, nr, pr);
        }
        streaming("full speed: ", n == null ? null : n.full(), p == null ? null : p.full());
        row("peak RSS, MiB (native: target cluster PSS; pipeline: JVM VmHWM)", n == null ? NaN : n.peakTargetPssKb() / 1024.0,
                p == null ? NaN : p.peakJvmRssKb() / 1024.0, "%,.0f", true);
        row("peak PSS of the target cluster, MiB", n == null ? NaN : n.peakTargetPssKb() / 1024.0,
                p == null ? NaN : p.peakTargetPssKb() / 1024.0, "%,.0f", true);
        if (jmh != null && jmh.scores().containsKey("topologySnapshotRow")) {
            line("| transform hot path (JMH, topology, snapshot rows): rows/s per core | | %,.0f | |",
                    jmh.scores().get("topologySnapshotRow")[0]);
        }
        line("");
        // The method is written once, in docs/benchmarks.md, not repeated in every report appended there.
        line("How each figure is measured: docs/benchmarks.md, \"How each figure is measured\".");
        line("");
    }

    private void streaming(String prefix, StreamingPhase.Result n, StreamingPhase.Result p) {
        row(prefix + "source changes/s", n == null ? NaN : n.sourceChangesPerSecond(), p == null ? NaN : p.sourceChangesPerSecond(), "%,.0f", true);
        row(prefix + "source changes", n == null ? NaN : n.sourceChanges(), p == null ? NaN : p.sourceChanges(), "%,.0f", false);
        row(prefix + "apply changes/s", n == null ? NaN : n.applyChangesPerSecond(), p == null ? NaN : p.applyChangesPerSecond(), "%,.0f", true);
        row(prefix + "catch-up after the load, s" + notCaughtUp(n, p), n == null ? NaN : n.catchUpSeconds(),
                p == null ? NaN : p.catchUpSeconds(), "%.2f", true);
        row(prefix + "latency p50, ms", n == null ? NaN : n.p(50), p == null ? NaN : p.p(50), "%,.0f", true);
        row(prefix + "latency p99, ms", n == null ? NaN : n.p(99), p == null ? NaN : p.p(99), "%,.0f", true);
        row(prefix + "markers applied / written", n == null ? NaN : n.latenciesMillis().size(), p == null ? NaN : p.latenciesMillis().size(),
                "%.0f", false, n == null ? "" : " / " + n.markersWritten(), p == null ? "" : " / " + p.markersWritten());
        row(prefix + "CPU-s (target cluster [+ pipeline JVM])", n == null ? NaN : n.cpuSeconds(), p == null ? NaN : p.cpuSeconds(), "%.1f", true);
        row(prefix + "CPU-s per million changes", n == null ? NaN : n.cpuSecondsPerMillionChanges(),
                p == null ? NaN : p.cpuSecondsPerMillionChanges(), "%.1f", true);
    }

    private static String notCaughtUp(StreamingPhase.Result n, StreamingPhase.Result p) {
        String s = "";
        if (n != null && !n.caughtUp()) {
            s += " (native did NOT catch up: timeout)";
        }
        if (p != null && !p.caughtUp()) {
            s += " (pipeline did NOT catch up: timeout, a lower bound)";
        }
        return s;
    }

    private void targets(Options o, NativeRun.Result n, PipelineRun.Result p, JmhRun.Result jmh) {
        line("Targets of issue 9:");
        line("");
        line("| target | measured | |");
        line("|---|---|---|");
        double ratio = p.backfillRowsPerSecond(o.rows()) / n.syncRowsPerSecond(o.rows());
        target("backfill >= 0.7 x native initial sync rate", String.format("%.3f x (%,.0f vs %,.0f rows/s)", ratio,
                p.backfillRowsPerSecond(o.rows()), n.syncRowsPerSecond(o.rows())), ratio >= 0.7);
        line("| backfill resumable after a crash without starting over | not measured by this benchmark | - |");
        StreamingPhase.Result f = p.full();
        double keep = f.applyChangesPerSecond() / f.sourceChangesPerSecond();
        target("applies at least as fast as the source produces (full speed)", String.format(
                "apply %,.0f/s vs source %,.0f/s (%.2f x)", f.applyChangesPerSecond(), f.sourceChangesPerSecond(), keep),
                f.caughtUp() && f.catchUpSeconds() <= 2);
        target("catches up within 2 s after the load stops", String.format("%s%.2f s", f.caughtUp() ? "" : "> ", f.catchUpSeconds()),
                f.caughtUp() && f.catchUpSeconds() <= 2);
        StreamingPhase.Result r = p.rated();
        if (r != null) {
            target("latency p50 <= 100 ms at " + o.ratedRate() + " changes/s", String.format("%,.0f ms", r.p(50)), r.p(50) <= 100);
            String warmup = p.warmup() == null ? ""
                    : String.format(" (the warm-up before it: %,.0f ms)", p.warmup().p(99));
            target("latency p99 <= 250 ms at " + o.ratedRate() + " changes/s",
                    String.format("%,.0f ms", r.p(99)) + warmup, r.p(99) <= 250);
        } else {
            line("| latency at 1,000 changes/s | not measured (--rated-seconds 0) | - |");
        }
        target("latency p99 <= 1 s at full speed", String.format("%,.0f ms", f.p(99)), f.p(99) <= 1000);
        target("CPU <= 130 s per million streamed changes (pipeline + target)", String.format("%.1f s", f.cpuSecondsPerMillionChanges()),
                f.cpuSecondsPerMillionChanges() <= 130);
        double perMillion = p.backfillCpuSeconds() / o.rows() * 1e6;
        target("CPU <= 25 s per million backfilled rows (pipeline + target)", String.format("%.1f s", perMillion), perMillion <= 25);
        String rss = String.format("%,.0f MiB at %,d rows", p.peakJvmRssKb() / 1024.0, o.rows());
        if (o.rows() >= TEN_MILLION) {
            target("peak RSS of the embedded process <= 1 GiB for 10,000,000 rows", rss, p.peakJvmRssKb() <= 1024 * 1024);
        } else {
            line("| peak RSS of the embedded process <= 1 GiB for 10,000,000 rows | %s (not run at 10,000,000) | %s |", rss,
                    p.peakJvmRssKb() <= 1024 * 1024 ? "under 1 GiB at this size" : "missed already at this size");
        }
        line("| JMH benchmark of the transform hot path | %s | %s |",
                jmh == null ? "not run (--no-jmh)" : "see below", jmh == null ? "-" : "tracked");
        line("");
    }

    private void whereTimeGoes(PipelineRun.Result p) {
        line("Where the pipeline's CPU went (threads by stage, from per-thread CPU time: Java threads from the JVM, native "
                + "ones (RocksDB, JIT compilers, VM thread) from /proc/self/task; \"rest of the JVM\" = process CPU of no "
                + "thread sampled, mostly compiler threads that ended between samples):");
        line("");
        line("| stage | backfill CPU-s | full-speed streaming CPU-s |");
        line("|---|---:|---:|");
        Map<String, Double> b = Stages.byStage(p.backfillJvmAfter().threadDeltas(p.backfillJvmBefore()));
        Map<String, Double> s = p.full().jvmBefore() == null ? Map.of() : Stages.byStage(p.full().threadCpu());
        java.util.TreeSet<String> stages = new java.util.TreeSet<>(b.keySet());
        stages.addAll(s.keySet());
        double bThreads = b.values().stream().mapToDouble(Double::doubleValue).sum();
        double sThreads = s.values().stream().mapToDouble(Double::doubleValue).sum();
        for (String stage : stages) {
            line("| %s | %.1f | %.1f |", stage, b.getOrDefault(stage, 0.0), s.getOrDefault(stage, 0.0));
        }
        line("| rest of the JVM | %.1f | %.1f |",
                p.backfillJvmAfter().processCpuSeconds(p.backfillJvmBefore()) - bThreads,
                p.full().jvmAfter().processCpuSeconds(p.full().jvmBefore()) - sThreads);
        line("| target (v2) cluster | %.1f | %.1f |", p.backfillTargetCpuSeconds(), p.full().targetCpuSeconds());
        line("| *source (v1) cluster, not counted* | | *%.1f during the load* |", p.full().sourceCpuSeconds());
        line("");
        topThreads("Busiest threads in the full-speed phase", p.full().threadCpu());
        profile("backfill", p.backfillProfile());
        profile("full-speed streaming", p.streamingProfile());
        line("Pipeline meters at the end:");
        line("");
        line("```");
        out.append(p.meters());
        line("```");
        line("");
    }

    private void topThreads(String title, Map<String, Long> threads) {
        line("%s (CPU-s): %s", title, String.join(", ", threads.entrySet().stream()
                .filter(e -> !Stages.of(e.getKey()).equals(Stages.BENCH))
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(12)
                .map(e -> String.format("`%s` %.1f", e.getKey(), e.getValue() / 1e9)).toList()));
        line("");
    }

    private void profile(String phase, Profile.Summary s) {
        if (s == null) {
            return;
        }
        line("JFR execution samples of the %s (%,d samples of running Java threads, 20 ms period):", phase, s.samples());
        line("");
        line("- by stage: %s", join(s.byStage(), Function.identity()));
        line("- by operation (the first matching frame anywhere in the stack): %s", join(s.byOperation(), Function.identity()));
        line("- hottest leaf methods: %s", join(s.byMethod(), m -> "`" + m + "`"));
        line("");
    }

    private void jmh(JmhRun.Result jmh) {
        line("Transform hot path (JMH, `TransformHotPath`: 3 x 2 s warm-up, 5 x 2 s measurement, 1 fork, 1 thread; ops/s = rows/s on one core):");
        line("");
        line("| benchmark | rows/s per core | ± (99.9% confidence) |");
        line("|---|---:|---:|");
        jmh.scores().forEach((name, s) -> line("| %s | %,.0f | %,.0f |", name, s[0], s[1]));
        line("");
    }

    private void checks(NativeRun.Result n, PipelineRun.Result p) {
        if (n == null && p == null) {
            return;
        }
        StringBuilder s = new StringBuilder("Checks: ");
        if (n != null) {
            s.append(String.format("native initial sync checksum %s; native streaming checksums %s. ",
                    n.syncVerified() ? "matched" : "DIFFERED", verified(n.warmup(), n.rated(), n.full())));
        }
        if (p != null) {
            s.append(String.format("pipeline backfill checksum %s; pipeline streaming checksums %s; JVM peak RSS %s.",
                    p.backfillVerified() ? "matched" : "DIFFERED", verified(p.warmup(), p.rated(), p.full()),
                    p.peakRssReset() ? "reset before the pipeline started" : "NOT reset (includes the native phase)"));
        }
        line(s.toString());
        line("");
    }

    /** Whether every phase that ran (null: skipped) ended with matching checksums. */
    private static String verified(StreamingPhase.Result... phases) {
        boolean ok = java.util.Arrays.stream(phases).allMatch(r -> r == null || r.verified());
        return ok ? "matched" : "DIFFERED (or the target never caught up)";
    }

    private static final double NaN = Double.NaN;

    private void row(String name, double nat, double pipe, String format, boolean ratio) {
        row(name, nat, pipe, format, ratio, "", "");
    }

    private void row(String name, double nat, double pipe, String format, boolean ratio, String natSuffix, String pipeSuffix) {
        line("| %s | %s%s | %s%s | %s |", name, fmt(format, nat), Double.isNaN(nat) ? "" : natSuffix, fmt(format, pipe),
                Double.isNaN(pipe) ? "" : pipeSuffix, ratio && !Double.isNaN(nat) && !Double.isNaN(pipe) && nat != 0
                        ? fmt(Math.abs(pipe / nat) >= 100 ? "%,.0f" : "%.2f", pipe / nat) : "");
    }

    private void target(String name, String measured, boolean met) {
        line("| %s | %s | %s |", name, measured, met ? "met" : "**missed**");
    }

    private static String fmt(String format, double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, format, v);
    }

    private static String join(Map<String, Double> shares, Function<String, String> name) {
        return String.join(", ", shares.entrySet().stream()
                .map(e -> String.format(Locale.ROOT, "%s %.1f%%", name.apply(e.getKey()), e.getValue())).toList());
    }

    private void line(String format, Object... args) {
        out.append(args.length == 0 ? format : String.format(Locale.ROOT, format, args)).append('\n');
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " / " + f[1] + " / " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String memory() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemTotal:")) {
                    return String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0 / 1024.0);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return "unknown";
    }

    private static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) {
                    return l.substring(l.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    private static String postgresVersion() {
        return dev.cdcmigrator.embedded.LocalPostgres.findBinDir().map(bin -> {
            try {
                Process p = new ProcessBuilder(bin.resolve("postgres").toString(), "--version").redirectErrorStream(true).start();
                String v = new String(p.getInputStream().readAllBytes()).trim();
                p.waitFor();
                return v.replace("postgres (PostgreSQL) ", "PostgreSQL ");
            } catch (IOException e) {
                return "PostgreSQL (version unknown)";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "PostgreSQL";
            }
        }).orElse("PostgreSQL (not found)");
    }
}
