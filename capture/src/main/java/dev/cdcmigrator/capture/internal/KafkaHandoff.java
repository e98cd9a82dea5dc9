package dev.cdcmigrator.capture.internal;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Hands Debezium's batches to Kafka: send every record, wait until Kafka acknowledged all of them, and only then
 * mark them processed, so that Debezium's offsets never run ahead of what Kafka holds.
 */
public final class KafkaHandoff implements DebeziumEngine.ChangeConsumer<ChangeEvent<byte[], byte[]>> {

    private final Producer<byte[], byte[]> producer;
    private final MeterRegistry registry;
    private final String heartbeatTopicPrefix;
    private final Map<String, Counter> published = new HashMap<>();

    /**
     * @param producer sends to Kafka
     * @param registry receives the meters
     * @param heartbeatTopicPrefix Debezium's heartbeat records go to topics starting with this; they only carry an
     *                             offset for Debezium to commit, so they are marked processed without being published
     */
    public KafkaHandoff(Producer<byte[], byte[]> producer, MeterRegistry registry, String heartbeatTopicPrefix) {
        this.producer = producer;
        this.registry = registry;
        this.heartbeatTopicPrefix = heartbeatTopicPrefix;
    }

    @Override
    public void handleBatch(List<ChangeEvent<byte[], byte[]>> records,
                            DebeziumEngine.RecordCommitter<ChangeEvent<byte[], byte[]>> committer) throws InterruptedException {
        List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
        for (ChangeEvent<byte[], byte[]> record : records) {
            if (!record.destination().startsWith(heartbeatTopicPrefix)) {
                acks.add(producer.send(new ProducerRecord<>(record.destination(), record.key(), record.value())));
            }
        }
        for (Future<RecordMetadata> ack : acks) {
            try {
                ack.get();
            } catch (ExecutionException e) {
                // Not marking the batch processed makes Debezium stop without committing its offsets past it: on
                // restart the batch is read again from the slot, so nothing is lost.
                throw new IllegalStateException("Kafka refused a change record: " + e.getCause().getMessage(), e.getCause());
            }
        }
        for (ChangeEvent<byte[], byte[]> record : records) {
            committer.markProcessed(record);
            if (record.destination().startsWith(heartbeatTopicPrefix)) {
                continue;
            }
            published.computeIfAbsent(record.destination(), topic -> Counter.builder("migrator.capture.records")
                    .description("v1 change records published to Kafka by capture")
                    .baseUnit("records")
                    .tag("topic", topic)
                    .register(registry)).increment();
        }
        committer.markBatchFinished();
    }
}
