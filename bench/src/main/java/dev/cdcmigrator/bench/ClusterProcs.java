package dev.cdcmigrator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * CPU time and memory of one PostgreSQL cluster's processes, from /proc: the postmaster (found through
 * {@code postmaster.pid}) and its children. CPU is utime+stime of every live process plus cutime+cstime, so the
 * backends and workers that already exited (and were reaped by the postmaster) are counted too.
 */
final class ClusterProcs {

    private static final double TICKS_PER_SECOND = ticksPerSecond();

    private final String name;
    private final Path dataDir;
    private final AtomicLong peakPssKb = new AtomicLong();

    ClusterProcs(String name, Path dataDir) {
        this.name = name;
        this.dataDir = dataDir;
    }

    String name() {
        return name;
    }

    long postmasterPid() {
        try {
            return Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).trim());
        } catch (IOException e) {
            throw new IllegalStateException("no postmaster.pid in " + dataDir + " (is the cluster running?)", e);
        }
    }

    /** CPU-seconds used by the cluster since it started (user + system, live and exited processes). */
    double cpuSeconds() {
        long pm = postmasterPid();
        // The postmaster first: a child that exits after this read is missed now and counted by the next read (in the
        // postmaster's cutime), never twice.
        long ticks = ticks(pm, true);
        for (long child : children(pm)) {
            ticks += ticks(child, true);
        }
        return ticks / TICKS_PER_SECOND;
    }

    /** Sum of the proportional set size (shared pages divided among the processes sharing them), in KiB. */
    long pssKb() {
        long pm = postmasterPid();
        long total = pss(pm);
        for (long child : children(pm)) {
            total += pss(child);
        }
        return total;
    }

    /** Samples the PSS and keeps the maximum (see {@link #peakPssKb()}). */
    void sample() {
        try {
            long now = pssKb();
            peakPssKb.accumulateAndGet(now, Math::max);
        } catch (RuntimeException stopped) {
            // the cluster is stopping
        }
    }

    void resetPeak() {
        peakPssKb.set(0);
    }

    long peakPssKb() {
        return peakPssKb.get();
    }

    private static List<Long> children(long pid) {
        return ProcessHandle.of(pid).map(p -> p.children().map(ProcessHandle::pid).toList()).orElse(List.of());
    }

    private static long ticks(long pid, boolean withChildren) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // Fields after the command (which may hold spaces, so split after the last ')'): state is field 3.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            long t = Long.parseLong(f[11]) + Long.parseLong(f[12]);
            if (withChildren) {
                t += Long.parseLong(f[13]) + Long.parseLong(f[14]);
            }
            return t;
        } catch (IOException e) {
            return 0; // exited meanwhile
        }
    }

    private static long pss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
                if (line.startsWith("Pss:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static double ticksPerSecond() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return Double.parseDouble(out);
        } catch (IOException | NumberFormatException e) {
            return 100;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 100;
        }
    }
}
