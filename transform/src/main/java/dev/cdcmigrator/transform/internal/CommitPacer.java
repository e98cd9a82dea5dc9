package dev.cdcmigrator.transform.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/**
 * Sizes the transform's exactly-once transactions to the load: one per {@code commit.interval.ms} (1 s, see
 * {@code Transform}) while a backlog is worked off, a small one as soon as the input runs dry or while it keeps up.
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
 *   <li>{@code caught_up}: the first of them was processed {@link #CAUGHT_UP_COMMIT} ago and the newest one was
 *       produced less than {@link #BEHIND} before now (a record's timestamp is when capture sent it), so the task keeps
 *       up with a continuous flow that never leaves a tick empty.</li>
 * </ul>
 * Under a backlog the records are older than {@link #BEHIND} and never leave a tick empty, so the thread commits at
 * the interval (a quiet table on the same thread, say a record a second, still asks once per record it gets). The
 * ticks are wall-clock punctuations, which run only when the stream thread's poll returns: {@code Transform} sets
 * {@code poll.ms} to {@link #TICK} so that an idle thread's ticks come on time.
 */
public final class CommitPacer {

    /** How often the pacer looks; {@code poll.ms} must not be longer, or an idle thread's ticks come late. */
    public static final Duration TICK = Duration.ofMillis(5);
    /** How long a record waits for its commit at most (plus a tick) while the task keeps up with a continuous flow. */
    static final Duration CAUGHT_UP_COMMIT = Duration.ofMillis(50);
    /**
     * Records produced longer ago than this mean a backlog: far above the capture-to-transform delay of a pipeline that
     * keeps up (tens of ms), far below how far a backlog runs behind within a second of falling behind.
     */
    static final Duration BEHIND = Duration.ofMillis(500);

    private final Counter idle;
    private final Counter caughtUp;
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
        this.caughtUp = requests(registry, v1Table, "caught_up");
    }

    private static Counter requests(MeterRegistry registry, String v1Table, String reason) {
        return Counter.builder("migrator.transform.commit.requests")
                .description("Commits the transform asked for ahead of its commit interval (1 s): its input ran dry"
                        + " (idle), or it keeps up with a continuous flow and a record waited 50 ms (caught_up)")
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
        Counter reason = quiet ? idle
                : nowMs - firstUncommittedMs >= CAUGHT_UP_COMMIT.toMillis() && nowMs - newestTimestamp < BEHIND.toMillis()
                ? caughtUp : null;
        if (reason == null) {
            return false;
        }
        reason.increment();
        firstUncommittedMs = -1;
        return true;
    }
}
