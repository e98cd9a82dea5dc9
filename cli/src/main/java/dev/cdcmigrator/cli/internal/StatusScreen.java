package dev.cdcmigrator.cli.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The demo's live status: a bar per table of how much of v1 is in v2 (the backfill), throughput (rows copied by the
 * backfill, changes applied by the sink, changes the load wrote) and lag (slot bytes, raw records the transform has not
 * done, the sink's seconds behind, end-to-end latency). On a terminal it redraws in place; elsewhere (a log, a test) it
 * prints a block every {@code everyLines} refreshes.
 */
public final class StatusScreen {

    private static final int BAR = 30;

    private final PrintWriter out;
    private final MeterRegistry registry;
    private final boolean redraw;
    private final int every;
    private int refreshes;
    private int drawnLines;
    private double lastCopied;
    private double lastApplied;
    private long lastLoad;
    private long lastNanos;

    /**
     * @param redraw whether the output is a terminal that understands ANSI cursor movement
     * @param every without redraw, print one block every this many refreshes
     */
    public StatusScreen(PrintWriter out, MeterRegistry registry, boolean redraw, int every) {
        this.out = out;
        this.registry = registry;
        this.redraw = redraw;
        this.every = every;
    }

    /** A table's v1 and v2 row counts, for its backfill bar. */
    public record TableRows(String table, long v1, long v2) {
    }

    /**
     * Draws the status once.
     *
     * @param seconds since the migration started
     * @param tables the tables' row counts
     * @param loadChanges changes the load has written so far, -1 when it has stopped
     * @param state what the pipeline does ("starting", "running", ...)
     */
    public void refresh(double seconds, List<TableRows> tables, long loadChanges, String state) {
        if (!redraw && refreshes++ % every != 0) {
            return;
        }
        // Rates over the time since the last block drawn: the backfill's rows count per chunk, in steps.
        long now = System.nanoTime();
        double copied = sum("migrator.backfill.rows", Map.of("outcome", "copied"));
        double applied = sum("migrator.sink.rows.applied", Map.of());
        double interval = lastNanos == 0 ? Double.NaN : (now - lastNanos) / 1e9;
        double copyRate = (copied - lastCopied) / interval;
        double applyRate = (applied - lastApplied) / interval;
        double loadRate = loadChanges < 0 ? 0 : (loadChanges - lastLoad) / interval;
        lastCopied = copied;
        lastApplied = applied;
        lastLoad = Math.max(loadChanges, 0);
        lastNanos = now;
        StringBuilder block = new StringBuilder();
        block.append(String.format("   [%4.0fs] %s%n", seconds, state));
        int width = tables.stream().mapToInt(t -> t.table().length()).max().orElse(5);
        for (TableRows t : tables) {
            double done = t.v1() == 0 ? 1 : Math.min(1, (double) t.v2() / t.v1());
            int filled = (int) Math.round(done * BAR);
            block.append(String.format("     %-" + width + "s [%s%s] %3.0f%%  %,d of %,d rows in v2%n", t.table(),
                    "#".repeat(filled), ".".repeat(BAR - filled), done * 100, t.v2(), t.v1()));
        }
        block.append(String.format("     throughput: backfill copied %s rows/s, sink applied %s rows/s, load %s changes/s%n",
                rate(copyRate), rate(applyRate), loadChanges < 0 ? "stopped" : rate(loadRate)));
        Timer latency = registry.find("migrator.sink.latency").timers().stream().findFirst().orElse(null);
        block.append(String.format("     lag: slot %s, transform %,.0f records, sink %,.1f s behind, latency p50 %s p99 %s%n",
                bytes(sum("migrator.capture.slot.lag", Map.of())), sum("migrator.transform.records.behind", Map.of()),
                max("migrator.sink.seconds.behind"), percentile(latency, 0.5), percentile(latency, 0.99)));
        String text = block.toString();
        if (redraw && drawnLines > 0) {
            // Up to the first line of the previous block, then clear to the end of the screen.
            out.print("\u001b[" + drawnLines + "F\u001b[J");
        }
        out.print(text);
        out.flush();
        drawnLines = (int) text.chars().filter(c -> c == '\n').count();
    }

    /** Keeps the last block on screen: the next output starts below it. */
    public void release() {
        drawnLines = 0;
    }

    private double sum(String name, Map<String, String> tags) {
        var search = registry.find(name);
        for (Map.Entry<String, String> tag : tags.entrySet()) {
            search = search.tag(tag.getKey(), tag.getValue());
        }
        return search.meters().stream().mapToDouble(m -> m instanceof Counter c ? c.count()
                : m instanceof Gauge g ? nonNegative(g.value()) : 0).sum();
    }

    private double max(String name) {
        return registry.find(name).gauges().stream().mapToDouble(g -> nonNegative(g.value())).max().orElse(0);
    }

    private static double nonNegative(double value) {
        return Double.isNaN(value) || value < 0 ? 0 : value;
    }

    private static String rate(double perSecond) {
        return Double.isNaN(perSecond) || Double.isInfinite(perSecond) ? "-" : String.format("%,.0f", Math.max(0, perSecond));
    }

    private static String bytes(double bytes) {
        return bytes >= 1 << 20 ? String.format("%.1f MB", bytes / (1 << 20))
                : bytes >= 1 << 10 ? String.format("%.0f kB", bytes / (1 << 10)) : String.format("%.0f B", bytes);
    }

    private static String percentile(Timer timer, double p) {
        if (timer == null || timer.count() == 0) {
            return "-";
        }
        for (ValueAtPercentile value : timer.takeSnapshot().percentileValues()) {
            if (value.percentile() == p) {
                return String.format("%.0f ms", value.value(TimeUnit.MILLISECONDS));
            }
        }
        return "-";
    }
}
