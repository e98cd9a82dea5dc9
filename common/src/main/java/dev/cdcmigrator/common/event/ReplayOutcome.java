package dev.cdcmigrator.common.event;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * What became of a replayed dead letter: the value of a {@code <prefix>.replays} record, keyed by {@link #replayed()}.
 * {@code migrator dlq replay} marks each record it sends back with {@link #REPLAYED_FROM} and {@link #REPLAY_OF}; the
 * stage that processes such a record decides whether it is newer than what its row already has, and reports the
 * outcome here (the transform in the Kafka transaction of its outputs, the sink before the transaction that applies
 * it commits), so that the command can wait for the outcomes of what it sent and count them.
 *
 * @param replayed {@code <topic>/<partition>/<offset>} of the replayed record (where the replay put it)
 * @param stage the stage that processed it: {@code transform} or {@code sink}
 * @param table the table it concerns (v1 for the transform, v2 for the sink)
 * @param outcome what the stage did with it
 */
public record ReplayOutcome(String replayed, String stage, String table, Outcome outcome) {

    /** The header of a replayed record: {@code <dlq topic>/<partition>/<offset>} of the dead letter it came from. */
    public static final String REPLAYED_FROM = "migrator.replayed-from";
    /**
     * The header of a replayed record: the offset its original had in the partition it is replayed to. The v2 topics'
     * order of a row's changes is the transform's order of them, so the sink orders a replayed change by this offset.
     */
    public static final String REPLAY_OF = "migrator.replay-of";

    /** What a stage did with a replayed record. */
    public enum Outcome {
        /** It was newer than anything its row had: applied (by the transform: mapped, its v2 changes sent on). */
        APPLIED,
        /** Its row had a newer change already (updated or deleted since): dropped, so the row does not go back in time. */
        SUPERSEDED,
        /** The transform holds it until the lookup row its dimensions need arrives (then applied or a dead letter). */
        HELD,
        /** It failed again: a new dead letter. */
        FAILED_AGAIN
    }

    /** The {@link #replayed()} name of a record at this position. */
    public static String id(String topic, int partition, long offset) {
        return topic + "/" + partition + "/" + offset;
    }

    /** Whether a record with these headers was sent by {@code migrator dlq replay}. */
    public static boolean isReplay(Headers headers) {
        return headers.lastHeader(REPLAYED_FROM) != null;
    }

    /**
     * The offset of the original of a replayed record ({@link #REPLAY_OF}), or -1 when it is not one.
     *
     * @throws IllegalArgumentException naming the header when its value is not an offset
     */
    public static long replayOf(Headers headers) {
        Header header = headers.lastHeader(REPLAY_OF);
        if (header == null) {
            return -1;
        }
        String text = new String(header.value(), StandardCharsets.UTF_8);
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("header " + REPLAY_OF + " is not an offset: '" + text + "'", e);
        }
    }
}
