package dev.cdcmigrator.cutover.internal;

import static dev.cdcmigrator.common.SqlText.quote;

import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Where each stage stands, read from outside the pipeline: topic end offsets, the transform's committed offsets (its
 * consumer group), and the sink's offsets stored in the target. Holds one read_committed consumer and one admin client.
 */
public final class StageOffsets implements AutoCloseable {

    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private final Spec spec;
    private final Topics topics;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Admin admin;

    public StageOffsets(Spec spec, String bootstrap, String clientId) {
        this.spec = spec;
        this.topics = new Topics(spec);
        // First, so that a Kafka that does not answer is one clear error within seconds, not a minute of retries.
        this.admin = KafkaClients.connectedAdmin(spec, bootstrap, Map.of(AdminClientConfig.CLIENT_ID_CONFIG, clientId), CONNECT_TIMEOUT);
        Map<String, Object> consumerProps = new HashMap<>(KafkaClients.consumer(spec, bootstrap));
        consumerProps.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumerProps.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        this.consumer = new KafkaConsumer<>(consumerProps, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** The consumer, for reading records at given positions (assign and seek as needed). */
    public KafkaConsumer<byte[], byte[]> consumer() {
        return consumer;
    }

    /** Every partition of the topics; a missing topic is an IllegalStateException naming it. */
    public List<TopicPartition> partitions(Collection<String> topicNames) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topicNames) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, METADATA_TIMEOUT);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist: has the migration been started?");
            }
            infos.forEach(i -> partitions.add(new TopicPartition(i.topic(), i.partition())));
        }
        return partitions;
    }

    /** The end offsets (last stable offsets) of the partitions. */
    public Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> partitions) {
        return consumer.endOffsets(Set.copyOf(partitions), METADATA_TIMEOUT);
    }

    /** The beginning offsets of the partitions. */
    public Map<TopicPartition, Long> beginningOffsets(Collection<TopicPartition> partitions) {
        return consumer.beginningOffsets(Set.copyOf(partitions), METADATA_TIMEOUT);
    }

    /** The offsets the transform committed, by raw partition (absent: none yet). */
    public Map<TopicPartition, Long> transformCommitted() {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(topics.transformApplicationId())
                    .partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, Long> offsets = new HashMap<>();
            committed.forEach((tp, at) -> {
                if (at != null) {
                    offsets.put(tp, at.offset());
                }
            });
            return offsets;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read the transform's offsets: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** The next offsets the sink stored in the target, by v2 partition (absent: none yet, or no state schema yet). */
    public Map<TopicPartition, Long> sinkStored(Connection target) throws SQLException {
        Map<TopicPartition, Long> stored = new HashMap<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT topic, partition, next_offset FROM "
                + quote(spec.target().stateSchema()) + ".sink_offsets WHERE consumer_group = ?")) {
            ps.setString(1, topics.sinkGroup());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    stored.put(new TopicPartition(rs.getString(1), rs.getInt(2)), rs.getLong(3));
                }
            }
        } catch (SQLException e) {
            if (!"42P01".equals(e.getSQLState())) {
                throw e;
            }
        }
        return stored;
    }


    @Override
    public void close() {
        consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        admin.close(Duration.ofSeconds(5));
    }
}
