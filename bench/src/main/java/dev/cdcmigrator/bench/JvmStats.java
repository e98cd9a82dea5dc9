package dev.cdcmigrator.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * This JVM's CPU and memory: process CPU (every thread, GC and JIT included), per-thread CPU of the Java threads
 * (sampled, so threads that ended between samples keep their last figure), and VmHWM/VmRSS from /proc/self/status.
 */
final class JvmStats {

    /** Threads the benchmark itself runs (markers, sampler, polling): not part of the pipeline's cost. */
    static final String BENCH_THREAD_PREFIX = "harness-";

    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final Map<Long, ThreadCpu> seen = new HashMap<>();

    record ThreadCpu(String name, long cpuNanos) {
    }

    /** CPU time of all threads seen so far, by thread id (threads that ended keep their last sample). */
    record Snapshot(long processCpuNanos, Map<Long, ThreadCpu> threads) {

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
    }

    synchronized Snapshot snapshot() {
        sample();
        return new Snapshot(processCpuNanos(), new LinkedHashMap<>(seen));
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
