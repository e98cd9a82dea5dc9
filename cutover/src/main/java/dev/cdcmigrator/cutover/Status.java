package dev.cdcmigrator.cutover;

import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.internal.StageOffsets;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Where the migration stands, read from outside the pipeline (Kafka offsets, the sink's offsets in the target, v1's
 * replication slot, table statistics), for {@code migrator status}.
 */
public final class Status {

    private static final Duration PROBE = Duration.ofSeconds(2);
    private static final Duration COUNT_TIMEOUT = Duration.ofSeconds(30);

    /**
     * How far a stage is behind.
     *
     * @param records changes received by the stage's input but not yet processed
     * @param seconds age of the oldest of them (0 when none)
     */
    public record Lag(long records, double seconds) {
        static final Lag NONE = new Lag(0, 0);

        Lag plus(Lag other) {
            return new Lag(records + other.records, Math.max(seconds, other.seconds));
        }
    }

    /**
     * One mapping of a v1 table into a v2 table.
     *
     * @param v1Table the v1 table
     * @param v2Table the v2 table
     * @param transform the transform's lag on the v1 table's raw topic
     * @param sink the sink's lag on the v2 table's topic
     * @param v1Rows estimated rows in v1 (table statistics; -1 when unknown)
     * @param v2Rows estimated rows in v2 (table statistics; -1 when unknown)
     * @param rawTopic the v1 table's raw topic
     * @param v2Topic the v2 table's topic
     */
    public record Mapping(String v1Table, String v2Table, Lag transform, Lag sink, long v1Rows, long v2Rows,
                          String rawTopic, String v2Topic) {

        /**
         * Whether a topic's name is derived rather than the names themselves ({@link Topics#topicPart}): only a
         * derived part has a {@code -}, which no prefix and no part of a name Kafka takes as it is has.
         */
        public boolean derivedTopics() {
            return rawTopic.contains("-") || v2Topic.contains("-");
        }
    }

    /**
     * The whole picture at one moment.
     *
     * @param at when it was read
     * @param topicPrefix the migration's prefix (slot, topics)
     * @param slot the replication slot on v1, or null when it does not exist
     * @param mappings every mapping of the spec
     * @param deadLetters records in the dead-letter topic
     * @param sinkPosition the sum of the sink's stored offsets (for throughput between two reports)
     */
    public record Report(Instant at, String topicPrefix, SlotHealth slot, List<Mapping> mappings, long deadLetters,
                         long sinkPosition) {

        /** Changes received somewhere in the pipeline and not yet in v2. */
        public long recordsBehind() {
            return mappings.stream().mapToLong(m -> m.transform().records() + m.sink().records()).sum();
        }

        /** One line on whether the cutover can go ahead. */
        public String readiness() {
            if (slot == null) {
                return "not started: no replication slot " + topicPrefix + " on v1 (run migrator run)";
            }
            long behind = recordsBehind();
            String letters = deadLetters == 0 ? "" : "; " + deadLetters + " dead letters to look at first (migrator dlq list)";
            return behind == 0
                    ? "caught up as of " + at + letters + "; confirm with migrator cutover wait"
                    : "behind by " + behind + " changes" + letters;
        }
    }

    private Status() {
    }

    /** Reads the report. */
    public static Report read(Spec spec, String bootstrap) throws SQLException {
        Topics topics = new Topics(spec);
        Instant now = Instant.now();
        try (StageOffsets offsets = new StageOffsets(spec, bootstrap, "migrator-status");
             Connection v1 = Connections.open(UnreachableException.What.SOURCE, spec.source().url(), spec.source().user(),
                     spec.source().password(), "cdc-migrator-status");
             Connection v2 = Connections.open(UnreachableException.What.TARGET, spec.target().url(), spec.target().user(),
                     spec.target().password(), "cdc-migrator-status")) {
            Map<TopicPartition, Long> committed = offsets.transformCommitted();
            Map<TopicPartition, Long> stored = offsets.sinkStored(v2);
            List<Mapping> mappings = new ArrayList<>();
            for (var table : new TreeMap<>(spec.tables()).entrySet()) {
                String v1Table = table.getKey();
                Lag transform = lag(offsets, List.of(topics.raw(v1Table)), committed, now);
                long v1Rows = estimatedRows(v1, spec.source().schema(), v1Table);
                for (MappingSpec mapping : table.getValue().mappings()) {
                    String v2Table = mapping.v2Table(v1Table);
                    mappings.add(new Mapping(v1Table, v2Table, transform, lag(offsets, List.of(topics.v2(v2Table)), stored, now),
                            v1Rows, estimatedRows(v2, spec.target().schema(), v2Table), topics.raw(v1Table), topics.v2(v2Table)));
                }
            }
            List<TopicPartition> dlq = offsets.partitions(List.of(topics.deadLetters()));
            Map<TopicPartition, Long> dlqEnd = offsets.endOffsets(dlq);
            Map<TopicPartition, Long> dlqBegin = offsets.beginningOffsets(dlq);
            long deadLetters = countRecords(offsets.consumer(), dlq, dlqBegin, dlqEnd);
            return new Report(now, spec.kafka().topicPrefix(), SlotHealth.query(v1, topics.slot()).orElse(null), mappings,
                    deadLetters, stored.values().stream().mapToLong(Long::longValue).sum());
        }
    }

    /**
     * The lag of a consumer at {@code positions} on the topics: for each partition behind, the first committed record
     * after its position gives the age; a gap holding only transaction markers counts as none.
     */
    private static Lag lag(StageOffsets offsets, List<String> topicNames, Map<TopicPartition, Long> positions, Instant now) {
        List<TopicPartition> partitions = offsets.partitions(topicNames);
        Map<TopicPartition, Long> ends = offsets.endOffsets(partitions);
        Lag total = Lag.NONE;
        for (TopicPartition tp : partitions) {
            long position = positions.getOrDefault(tp, 0L);
            long end = ends.get(tp);
            if (position < end) {
                ConsumerRecord<byte[], byte[]> first = firstRecord(offsets.consumer(), tp, position, end);
                if (first != null) {
                    double age = Math.max(0, (now.toEpochMilli() - first.timestamp()) / 1000.0);
                    total = total.plus(new Lag(end - first.offset(), age));
                }
            }
        }
        return total;
    }

    private static ConsumerRecord<byte[], byte[]> firstRecord(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long from, long to) {
        consumer.assign(List.of(tp));
        consumer.seek(tp, from);
        long until = System.nanoTime() + PROBE.toNanos();
        while (consumer.position(tp) < to && System.nanoTime() < until) {
            var records = consumer.poll(Duration.ofMillis(200));
            if (!records.isEmpty()) {
                ConsumerRecord<byte[], byte[]> first = records.iterator().next();
                return first.offset() < to ? first : null;
            }
        }
        return null;
    }

    /**
     * The records between {@code from} and {@code to}, read (read_committed) and counted: the offsets between them
     * also count the markers of the transactions that wrote them, so that a difference of offsets says 3 where
     * {@code migrator dlq list} shows 2 letters.
     *
     * @throws IllegalStateException when the records cannot be read within {@link #COUNT_TIMEOUT}
     */
    private static long countRecords(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions,
                                     Map<TopicPartition, Long> from, Map<TopicPartition, Long> to) {
        List<TopicPartition> unread = partitions.stream().filter(tp -> from.get(tp) < to.get(tp)).toList();
        if (unread.isEmpty()) {
            return 0;
        }
        consumer.assign(unread);
        unread.forEach(tp -> consumer.seek(tp, from.get(tp)));
        long count = 0;
        long until = System.nanoTime() + COUNT_TIMEOUT.toNanos();
        while (unread.stream().anyMatch(tp -> consumer.position(tp) < to.get(tp))) {
            if (System.nanoTime() > until) {
                throw new IllegalStateException("could not read the dead-letter topic within " + COUNT_TIMEOUT.toSeconds() + " s");
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                if (record.offset() < to.get(new TopicPartition(record.topic(), record.partition()))) {
                    count++;
                }
            }
        }
        return count;
    }

    /** Live rows by table statistics: cheap at any size, approximate (say so where shown). */
    private static long estimatedRows(Connection c, String schema, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = ? AND relname = ?")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : -1;
            }
        }
    }
}
