package dev.cdcmigrator.bench;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * This JVM's CPU and memory: process CPU (every thread, GC and JIT included), per-thread CPU of the Java threads
 * (sampled, so threads that ended between samples keep their last figure), and VmHWM/VmRSS from /proc/self/status.
 */
final class JvmStats {

    /** Threads the benchmark itself runs (markers, sampler, polling): not part of the pipeline's cost. */
    static final String BENCH_THREAD_PREFIX = "harness-";
    /** Names of threads read from /proc/self/task (not Java threads) start with this. */
    static final String NATIVE_PREFIX = "[native] ";
    /** The thread names (as /proc truncates them) of those native threads that do the pipeline's work. */
    private static final Pattern NATIVE_THREAD =
            Pattern.compile("rocksdb:|C1 CompilerThre|C2 CompilerThre|VM Thread|GC Thread|VM Periodic");
    /** USER_HZ: 100 on every Linux this runs on. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final Map<Long, ThreadCpu> seen = new HashMap<>();

    record ThreadCpu(String name, long cpuNanos) {
    }

    /** CPU time of all threads seen so far, by thread id (threads that ended keep their last sample). */
    record Snapshot(long processCpuNanos, Map<Long, ThreadCpu> threads, long gcMillis, long gcCount, long jitMillis) {

        /** GC and JIT since {@code earlier}: the larger part of the process CPU that no Java thread shows. */
        String gcAndJit(Snapshot earlier) {
            return String.format("GC %.1f s in %,d collections, JIT compilation %.1f s",
                    (gcMillis - earlier.gcMillis) / 1e3, gcCount - earlier.gcCount, (jitMillis - earlier.jitMillis) / 1e3);
        }

        /** CPU between {@code earlier} and this snapshot, by thread name (several threads may share one). */
        Map<String, Long> threadDeltas(Snapshot earlier) {
            Map<String, Long> byName = new TreeMap<>();
            threads.forEach((id, now) -> {
                ThreadCpu before = earlier.threads.get(id);
                long delta = now.cpuNanos - (before == null ? 0 : before.cpuNanos);
                if (delta > 0) {
                    byName.merge(now.name, delta, Long::sum);
                }
            });
            return byName;
        }

        double processCpuSeconds(Snapshot earlier) {
            return (processCpuNanos - earlier.processCpuNanos) / 1e9;
        }

        /** The process CPU minus the benchmark's own threads. */
        double pipelineCpuSeconds(Snapshot earlier) {
            long bench = threadDeltas(earlier).entrySet().stream()
                    .filter(e -> e.getKey().startsWith(BENCH_THREAD_PREFIX) || e.getKey().equals("main"))
                    .mapToLong(Map.Entry::getValue).sum();
            return processCpuSeconds(earlier) - bench / 1e9;
        }
    }

    JvmStats() {
        if (threads.isThreadCpuTimeSupported() && !threads.isThreadCpuTimeEnabled()) {
            threads.setThreadCpuTimeEnabled(true);
        }
    }

    /** Reads the CPU time of every live thread. */
    synchronized void sample() {
        long[] ids = threads.getAllThreadIds();
        ThreadInfo[] infos = threads.getThreadInfo(ids);
        for (int i = 0; i < ids.length; i++) {
            long cpu = threads.getThreadCpuTime(ids[i]);
            if (cpu >= 0 && infos[i] != null) {
                seen.put(ids[i], new ThreadCpu(infos[i].getThreadName(), cpu));
            }
        }
        sampleNativeThreads();
    }

    /**
     * Threads no {@link ThreadMXBean} shows, from /proc/self/task (Linux): RocksDB's flush and compaction threads, the
     * JIT's compiler threads, the VM thread (where the serial GC runs). Kept under the negated task id with the name
     * prefixed {@value #NATIVE_PREFIX}.
     */
    private void sampleNativeThreads() {
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                String name;
                String stat;
                try {
                    name = Files.readString(task.resolve("comm")).trim();
                    if (!NATIVE_THREAD.matcher(name).lookingAt()) {
                        continue;
                    }
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException ended) {
                    continue;
                }
                // After the command in parentheses: state, then 10 more fields, then utime and stime (clock ticks).
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                long tid = Long.parseLong(task.getFileName().toString());
                seen.put(-tid, new ThreadCpu(NATIVE_PREFIX + name, ticks * NANOS_PER_TICK));
            }
        } catch (IOException notLinux) {
            // nothing to add
        }
    }

    synchronized Snapshot snapshot() {
        sample();
        long gcMillis = 0;
        long gcCount = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcMillis += Math.max(0, gc.getCollectionTime());
            gcCount += Math.max(0, gc.getCollectionCount());
        }
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        long jitMillis = jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
        return new Snapshot(processCpuNanos(), new LinkedHashMap<>(seen), gcMillis, gcCount, jitMillis);
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Peak resident set size of this process in KiB (VmHWM), since start or the last {@link #resetPeakRss()}. */
    static long peakRssKb() {
        return statusField("VmHWM:");
    }

    static long rssKb() {
        return statusField("VmRSS:");
    }

    /** Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs); false if the kernel refused. */
    static boolean resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static long statusField(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return -1;
    }
}
