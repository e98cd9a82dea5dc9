package dev.cdcmigrator.cutover;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.internal.StageOffsets;
import dev.cdcmigrator.pg.Connections;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * The caught-up protocol of the cutover: v2 reflects every v1 commit up to a WAL position X taken at the start.
 * <ol>
 *   <li>capture: X is read, then a marker (a fresh nonce) is committed into the heartbeat table. Changes stream in
 *       commit order, so once the marker is on the heartbeat's raw topic, capture has published every commit up to X.
 *       This also implies the initial snapshot is complete: streaming starts only after it.</li>
 *   <li>transform: the raw topics' end offsets are noted; the transform's committed offsets must reach them.</li>
 *   <li>sink: the v2 topics' end offsets are noted; the offsets the sink stored in the target must reach them. Between
 *       the stored offset and the end there may be only transaction markers, which a read_committed probe confirms.</li>
 * </ol>
 * Works whether or not v1 still receives writes: later writes are not waited for.
 */
public final class CaughtUp {

    private static final Duration POLL = Duration.ofMillis(200);

    /** One stage done, and how long it took. */
    public record Stage(String name, Duration took, String detail) {
    }

    /** A stage that did not catch up in time; the message names it and what it is behind on. */
    public static final class BehindException extends RuntimeException {
        private final String stage;

        BehindException(String stage, String message) {
            super(message);
            this.stage = stage;
        }

        /** The stage still behind: capture, transform or sink. */
        public String stage() {
            return stage;
        }
    }

    private final Spec spec;
    private final Topics topics;
    private final String bootstrap;

    public CaughtUp(Spec spec, String bootstrap) {
        this.spec = spec;
        this.topics = new Topics(spec);
        this.bootstrap = bootstrap;
    }

    /**
     * Runs the protocol.
     *
     * @param timeout for the whole protocol
     * @param started called with the WAL position X once it is taken
     * @param done called as each stage completes
     * @return the stages with their times
     * @throws BehindException when the timeout passes first
     */
    public List<Stage> await(Duration timeout, Consumer<String> started, Consumer<Stage> done) throws SQLException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Stage> stages = new ArrayList<>();
        try (StageOffsets offsets = new StageOffsets(spec, bootstrap, "migrator-cutover-wait")) {
            KafkaConsumer<byte[], byte[]> consumer = offsets.consumer();
            long t0 = System.nanoTime();
            TopicPartition heartbeat = new TopicPartition(topics.heartbeat(), 0);
            long markerFrom = offsets.endOffsets(List.of(heartbeat)).get(heartbeat);
            String nonce = UUID.randomUUID().toString();
            started.accept(commitMarker(nonce));
            awaitMarker(consumer, heartbeat, markerFrom, nonce, deadline);
            stages.add(stage(done, "capture", t0, "the marker arrived on " + topics.heartbeat()));

            long t1 = System.nanoTime();
            Map<TopicPartition, Long> rawEnds = offsets.endOffsets(partitions(offsets, topics.allRaw(spec)));
            awaitTransform(offsets, rawEnds, deadline);
            // Lookup changes are written while the raw records are processed; the re-keying they cause comes after.
            Map<TopicPartition, Long> lookupEnds = offsets.endOffsets(partitions(offsets, topics.allLookups(spec)));
            awaitTransform(offsets, lookupEnds, deadline);
            stages.add(stage(done, "transform", t1, "committed past " + rawEnds.size() + " raw partitions"
                    + (lookupEnds.isEmpty() ? "" : " and " + lookupEnds.size() + " lookup partitions")));

            long t2 = System.nanoTime();
            Map<TopicPartition, Long> v2Ends = offsets.endOffsets(partitions(offsets, topics.allV2(spec)));
            awaitSink(offsets, v2Ends, deadline);
            stages.add(stage(done, "sink", t2, "applied through " + v2Ends.size() + " v2 partitions"));
        }
        return stages;
    }

    private static Stage stage(Consumer<Stage> done, String name, long startedNanos, String detail) {
        Stage stage = new Stage(name, Duration.ofNanos(System.nanoTime() - startedNanos), detail);
        done.accept(stage);
        return stage;
    }

    private String commitMarker(String nonce) throws SQLException {
        String table = SqlText.quote(spec.source().schema()) + "." + SqlText.quote(topics.heartbeatTable());
        try (Connection c = Connections.connect(spec.source().url(), Connections.settings(spec.source().user(), spec.source().password(), "migrator-cutover-wait"))) {
            String lsn;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_current_wal_lsn()::text")) {
                rs.next();
                lsn = rs.getString(1);
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + table + " SET at = clock_timestamp(), nonce = ? WHERE id = 1")) {
                ps.setString(1, nonce);
                if (ps.executeUpdate() != 1) {
                    throw new BehindException("capture", "the heartbeat table " + table + " has no row: capture has not started on v1 yet");
                }
            } catch (SQLException e) {
                if ("42P01".equals(e.getSQLState())) {
                    throw new BehindException("capture", "the heartbeat table " + table + " does not exist: capture has not started on v1 yet");
                }
                throw e;
            }
            return lsn;
        }
    }

    private void awaitMarker(KafkaConsumer<byte[], byte[]> consumer, TopicPartition heartbeat, long from, String nonce, long deadline) {
        consumer.assign(List.of(heartbeat));
        consumer.seek(heartbeat, from);
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(POLL)) {
                if (record.value() != null && nonce.equals(nonceOf(record))) {
                    return;
                }
            }
        }
        throw new BehindException("capture", "capture is behind: the heartbeat marker committed on v1 has not reached "
                + topics.heartbeat() + " (is capture running? see migrator_capture_slot_lag)");
    }

    private static String nonceOf(ConsumerRecord<byte[], byte[]> record) {
        try {
            boolean referenced = SchemaReferences.referenced(record.headers(), SchemaReferences.VALUE_HEADER) != null;
            JsonNode after = SchemaReferences.payload(Json.MAPPER.readTree(record.value()), referenced).path("after");
            return after.path("nonce").isTextual() ? after.get("nonce").asText() : null;
        } catch (IOException e) {
            return null;
        }
    }

    private void awaitTransform(StageOffsets offsets, Map<TopicPartition, Long> rawEnds, long deadline) {
        Optional<String> behind;
        do {
            behind = transformBehind(offsets.transformCommitted(), rawEnds);
            if (behind.isEmpty()) {
                return;
            }
            pause();
        } while (System.nanoTime() < deadline);
        throw new BehindException("transform", "transform is behind on " + behind.get());
    }

    private static Optional<String> transformBehind(Map<TopicPartition, Long> committed, Map<TopicPartition, Long> ends) {
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
            long position = committed.getOrDefault(end.getKey(), 0L);
            if (position < end.getValue()) {
                return Optional.of(end.getKey() + " (committed " + position + " of " + end.getValue() + ")");
            }
        }
        return Optional.empty();
    }

    private void awaitSink(StageOffsets offsets, Map<TopicPartition, Long> ends, long deadline) throws SQLException {
        try (Connection target = Connections.connect(spec.target().url(), Connections.settings(spec.target().user(), spec.target().password(), "migrator-cutover-wait"))) {
            Optional<String> behind;
            do {
                behind = sinkBehind(offsets, target, ends);
                if (behind.isEmpty()) {
                    return;
                }
                pause();
            } while (System.nanoTime() < deadline);
            throw new BehindException("sink", "sink is behind on " + behind.get());
        }
    }

    private static Optional<String> sinkBehind(StageOffsets offsets, Connection target, Map<TopicPartition, Long> ends)
            throws SQLException {
        Map<TopicPartition, Long> stored = offsets.sinkStored(target);
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
            long position = stored.getOrDefault(end.getKey(), 0L);
            if (position < end.getValue() && hasRecordBefore(offsets.consumer(), end.getKey(), position, end.getValue())) {
                return Optional.of(end.getKey() + " (applied up to " + position + " of " + end.getValue() + ")");
            }
        }
        return Optional.empty();
    }

    /** Whether a committed record lies in [from, to): the gap may hold only transaction markers. */
    private static boolean hasRecordBefore(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long from, long to) {
        consumer.assign(List.of(tp));
        consumer.seek(tp, from);
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (consumer.position(tp) < to && System.nanoTime() < until) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(POLL)) {
                if (record.offset() < to) {
                    return true;
                }
            }
        }
        return consumer.position(tp) < to;
    }

    /** The partitions of the topics; a missing one means capture never started (or the spec changed). */
    private static List<TopicPartition> partitions(StageOffsets offsets, Collection<String> topicNames) {
        try {
            return offsets.partitions(topicNames);
        } catch (IllegalStateException e) {
            throw new BehindException("capture", e.getMessage());
        }
    }

    private static void pause() {
        try {
            Thread.sleep(POLL.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
