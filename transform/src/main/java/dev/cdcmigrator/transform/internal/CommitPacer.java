package dev.cdcmigrator.transform.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/**
 * Sizes the transform's exactly-once transactions to the load: one per {@link #INTERVAL} while a backlog is worked
 * off, a small one as soon as the input runs dry, and in between transactions that grow with how far behind the task
 * is.
 *
 * <p>Why: under exactly-once the sink sees a record only when the transform's transaction commits, so a short commit
 * interval is most of the latency a quiet pipeline has; but each commit flushes the producer and waits for the broker
 * (offsets, then the transaction markers), and under a backlog the stream thread spent 300-550 ms of every second in
 * commits at 50 ms (docs/benchmarks.md). Kafka Streams commits at its interval or after a processor asked for one
 * ({@link ProcessorContext#commit()}: honoured at the thread's next commit check, after the records of the current
 * loop iteration and the punctuators; it commits every task of the thread, as exactly-once v2 runs one transaction per
 * thread; one asked for while nothing is uncommitted waits for the next record). So each map processor asks for one,
 * at a tick every {@link #TICK}, when records were processed since its last request and
 * <ul>
 *   <li>{@code idle}: a whole tick passed without a record: the consumer had nothing more to give. Two ticks, not the
 *       time since the last record, because a stream thread that merely lost its core for a while on a busy machine
 *       sees no record meanwhile either, and its first tick after that still finds the records processed before;</li>
 *   <li>{@code waited}: the first of them has waited a tenth of the task's lag, at least {@link #MIN_WAIT}. The lag is
 *       the age of the newest record processed (its timestamp is when capture sent it; hosts' clocks that disagree
 *       add a tenth of the difference). A continuous flow the task keeps up with, which never leaves a tick empty, is
 *       committed every 50 ms; a task 1 s behind commits every 100 ms, adding a tenth to its latency; from
 *       {@link #INTERVAL} times ten behind it leaves the commits to the interval.</li>
 * </ul>
 * A quiet table on the same thread (a record a second, say) still asks once per record it gets, committing a busy
 * table's backlog with it. The ticks are wall-clock punctuations, which run only when the stream thread's poll returns:
 * {@code Transform} sets {@code poll.ms} to {@link #TICK} so that an idle thread's ticks come on time.
 */
public final class CommitPacer {

    /**
     * The longest a transaction lasts ({@code commit.interval.ms}): what a backlog is committed at, long enough that
     * commits stop costing the stream thread most of its time, short enough that a crash replays a second at most.
     */
    public static final Duration INTERVAL = Duration.ofSeconds(1);
    /** How often the pacer looks; {@code poll.ms} must not be longer, or an idle thread's ticks come late. */
    public static final Duration TICK = Duration.ofMillis(5);
    /** The shortest wait for a commit of a flow that leaves no tick empty (the interval of earlier versions). */
    static final Duration MIN_WAIT = Duration.ofMillis(50);
    /** A record waits for its commit at most this share of the task's lag: that much latency for larger transactions. */
    private static final int LAG_SHARE = 10;

    private final Counter idle;
    private final Counter waited;
    /** Wall-clock time the first record since the last request was processed; -1 when there is none. */
    private long firstUncommittedMs = -1;
    private long newestTimestamp;
    private boolean processedSinceTick;

    /**
     * @param v1Table the table of the map processor, for the meter's tag
     * @param registry receives {@code migrator.transform.commit.requests}
     */
    public CommitPacer(String v1Table, MeterRegistry registry) {
        this.idle = requests(registry, v1Table, "idle");
        this.waited = requests(registry, v1Table, "waited");
    }

    private static Counter requests(MeterRegistry registry, String v1Table, String reason) {
        return Counter.builder("migrator.transform.commit.requests")
                .description("Commits the transform asked for ahead of its commit interval (1 s): its input ran dry"
                        + " (idle), or a record waited a tenth of the task's lag, at least 50 ms (waited)")
                .baseUnit("commits")
                .tag("table", v1Table)
                .tag("reason", reason)
                .register(registry);
    }

    /** Starts the ticks of the processor {@code context} belongs to. */
    public void schedule(ProcessorContext<?, ?> context) {
        context.schedule(TICK, PunctuationType.WALL_CLOCK_TIME, now -> {
            if (tick(now)) {
                context.commit();
            }
        });
    }

    /**
     * Notes a record the processor took in.
     *
     * @param timestamp the record's timestamp
     * @param nowMs the stream thread's wall-clock time
     */
    public void processed(long timestamp, long nowMs) {
        if (firstUncommittedMs < 0) {
            firstUncommittedMs = nowMs;
        }
        newestTimestamp = timestamp;
        processedSinceTick = true;
    }

    /** Whether to ask for a commit at the tick at {@code nowMs}. */
    boolean tick(long nowMs) {
        boolean quiet = !processedSinceTick;
        processedSinceTick = false;
        if (firstUncommittedMs < 0) {
            return false;
        }
        long wait = Math.max(MIN_WAIT.toMillis(), (nowMs - newestTimestamp) / LAG_SHARE);
        Counter reason = quiet ? idle
                : wait < INTERVAL.toMillis() && nowMs - firstUncommittedMs >= wait ? waited : null;
        if (reason == null) {
            return false;
        }
        reason.increment();
        firstUncommittedMs = -1;
        return true;
    }
}
