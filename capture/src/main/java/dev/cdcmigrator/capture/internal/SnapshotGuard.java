package dev.cdcmigrator.capture.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.pg.Connections;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure an initial snapshot is consistent with the position streaming starts from. Debezium takes the snapshot
 * again whenever no streaming offset was committed (a crash during or just after the snapshot). When the replication
 * slot already exists it cannot use the slot's exported snapshot: its reads then see commits after the position it
 * streams from, and those changes arrive again after the reads, moving rows back in time until they settle. Dropping
 * the slot first lets Debezium create it anew, with a snapshot exported at the slot's start; what the old slot kept is
 * superseded by the new snapshot anyway.
 */
public final class SnapshotGuard {

    private static final Logger LOGGER = LoggerFactory.getLogger(SnapshotGuard.class);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);

    private SnapshotGuard() {
    }

    /**
     * Drops the slot when capture is about to take the snapshot again and the slot exists, inactive; refuses to
     * stream on from a slot that is gone or that PostgreSQL invalidated, since the changes it held are lost (Debezium
     * would create a new slot, or retry the invalid one, and silently skip them).
     *
     * @param offsetsTopic where Debezium's offsets live
     * @param server the offsets' server name (Debezium's {@code topic.prefix})
     * @param consumer the settings of a consumer of the Kafka cluster (bootstrap and the spec's client settings)
     * @param url the v1 JDBC URL
     * @param user the v1 user
     * @param password the v1 password
     * @param slot the replication slot
     * @throws IllegalStateException naming what happened and how to start over, when capture cannot go on
     */
    public static void beforeStart(String offsetsTopic, String server, Map<String, Object> consumer, String url, String user,
                                   String password, String slot) {
        Optional<JsonNode> offset = lastOffset(offsetsTopic, server, consumer);
        try (Connection c = Connections.connect(url, Connections.settings(user, password, "migrator-capture"))) {
            Optional<SlotHealth> found = SlotHealth.query(c, slot);
            // Debezium (snapshot.mode initial) snapshots when there is no offset, or when the offset is from a
            // snapshot it did not complete; anything else resumes streaming from the slot, which must then be kept.
            if (offset.filter(SnapshotGuard::streamsOn).isPresent()) {
                if (found.isEmpty()) {
                    throw new IllegalStateException(SlotGuard.gone(slot));
                }
                if (found.get().lost()) {
                    throw new IllegalStateException(SlotGuard.lost(found.get()));
                }
                return;
            }
            if (found.isEmpty()) {
                return; // Debezium creates it, with an exported snapshot
            }
            if (found.get().active()) {
                throw new IllegalStateException("replication slot " + slot + " is in use by another process; only one"
                        + " capture may run per slot");
            }
            try (PreparedStatement drop = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                drop.setString(1, slot);
                drop.execute();
            }
            LOGGER.warn("capture takes the initial snapshot again ({}); dropped replication slot {} so that Debezium"
                    + " creates it with a snapshot consistent with the position it streams from",
                    offset.isPresent() ? "the last offset is from an unfinished snapshot" : "no offset was committed", slot);
        } catch (SQLException e) {
            throw new IllegalStateException("capture cannot check replication slot " + slot + " before its snapshot: "
                    + e.getMessage(), e);
        }
    }

    /** Whether Debezium, restarted with this committed offset, streams on from it rather than snapshot again. */
    public static boolean streamsOn(JsonNode offset) {
        return !offset.path("snapshot_completed").isBoolean() || offset.path("snapshot_completed").asBoolean();
    }

    /**
     * The newest committed offset of {@code server}, if any.
     *
     * @param settings the consumer's settings: bootstrap and the spec's client settings (a secured cluster needs them)
     */
    public static Optional<JsonNode> lastOffset(String topic, String server, Map<String, Object> settings) {
        Map<String, Object> props = new HashMap<>(settings);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, READ_TIMEOUT);
            if (infos == null || infos.isEmpty()) {
                return Optional.empty();
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, READ_TIMEOUT);
            JsonNode last = null;
            long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p, READ_TIMEOUT) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read capture's offsets from " + topic + " within " + READ_TIMEOUT);
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    JsonNode key = parse(record.key());
                    if (key != null && server.equals(key.path(1).path("server").asText())) {
                        last = parse(record.value());
                    }
                }
            }
            return Optional.ofNullable(last);
        }
    }

    private static JsonNode parse(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            return null;
        }
    }
}
