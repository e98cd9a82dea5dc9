package dev.cdcmigrator.cli.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Reads the dead-letter topic ({@code <prefix>.dlq}) and sends dead letters' original records back to the topics they
 * came from, for {@code migrator dlq}, then reads what the stages made of them from the replay-outcome topic
 * ({@code <prefix>.replays}). Reading joins no consumer group and commits nothing, so it never disturbs the pipeline;
 * replaying only appends (a Kafka topic cannot be edited), so the dead-letter topic keeps every letter. A letter is
 * sent only to one of the spec's own topics ({@link dev.cdcmigrator.common.Topics#replayTargets}): the topic it names
 * is data, and whoever can write to the dead-letter topic must not reach any other topic through a replay.
 */
public final class DeadLetters {

    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final JsonSerde<ReplayOutcome> OUTCOME = JsonSerde.of(ReplayOutcome.class);
    private static final Duration POLL = Duration.ofMillis(200);

    /**
     * One record of the dead-letter topic.
     *
     * @param partition its partition in the dead-letter topic
     * @param offset its offset there
     * @param key its Kafka key (the original record's key: its bytes from the transform, its JSON text from the sink)
     * @param letter the dead letter, or null when the value is not one
     * @param error why the value is not a dead letter, when it is not
     */
    public record Entry(int partition, long offset, byte[] key, DeadLetter letter, String error) {

        /** {@code partition/offset} in the dead-letter topic. */
        public String position() {
            return partition + "/" + offset;
        }
    }

    /**
     * A dead letter sent back.
     *
     * @param entry the dead letter
     * @param topic where its original record went
     * @param partition the partition it went to
     * @param offset the offset it got
     */
    public record Replayed(Entry entry, String topic, int partition, long offset) {

        /** The name its outcome is reported under ({@link ReplayOutcome#replayed()}). */
        public String id() {
            return ReplayOutcome.id(topic, partition, offset);
        }
    }

    /** Kafka did not answer within the timeout, or refused; the message says which and where. */
    public static final class KafkaUnavailableException extends RuntimeException {

        KafkaUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final String bootstrap;
    private final String topic;
    private final String outcomeTopic;
    private final Duration timeout;
    private final Map<String, Object> client;
    private final Set<String> replayTargets;

    /**
     * @param client the Kafka cluster's client settings: {@code bootstrap.servers} and the spec's {@code kafka.client}
     * @param topic the dead-letter topic
     * @param outcomeTopic the replay-outcome topic
     * @param replayTargets the only topics a letter may be replayed to
     * @param timeout how long to wait for Kafka at each step before giving up
     */
    public DeadLetters(Map<String, Object> client, String topic, String outcomeTopic, Set<String> replayTargets,
                       Duration timeout) {
        this.client = Map.copyOf(client);
        this.bootstrap = String.valueOf(client.get("bootstrap.servers"));
        this.topic = topic;
        this.outcomeTopic = outcomeTopic;
        this.replayTargets = Set.copyOf(replayTargets);
        this.timeout = timeout;
    }

    /** The dead-letter topic. */
    public String topic() {
        return topic;
    }

    /**
     * Passes every record of the dead-letter topic to {@code visitor}, partition by partition in offset order, from the
     * beginning to the end offsets of the moment this is called (read_committed: aborted transform transactions are
     * not shown). Records appended meanwhile are left for the next call.
     *
     * @return false when the dead-letter topic does not exist (nothing was visited)
     */
    public boolean read(Consumer<Entry> visitor) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            List<PartitionInfo> infos = partitionsFor(consumer, topic);
            if (infos.isEmpty()) {
                return false;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition()))
                    .sorted(Comparator.comparingInt(TopicPartition::partition)).toList();
            consumer.assign(partitions);
            Map<TopicPartition, Long> ends = kafka("read the end offsets of " + topic, () -> consumer.endOffsets(partitions, timeout));
            Map<TopicPartition, Long> starts = kafka("read the start offsets of " + topic, () -> consumer.beginningOffsets(partitions, timeout));
            consumer.pause(partitions);
            for (TopicPartition tp : partitions) {
                long end = ends.get(tp);
                if (starts.get(tp) >= end) {
                    continue;
                }
                consumer.seek(tp, starts.get(tp));
                consumer.resume(List.of(tp));
                readTo(consumer, tp, end, visitor);
                consumer.pause(List.of(tp));
            }
            return true;
        }
    }

    private void readTo(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long end, Consumer<Entry> visitor) {
        long lastProgress = System.nanoTime();
        long position = kafka("read the position in " + tp, () -> consumer.position(tp, timeout));
        while (position < end) {
            for (ConsumerRecord<byte[], byte[]> record : kafka("read " + topic, () -> consumer.poll(POLL))) {
                if (record.offset() < end) {
                    visitor.accept(entry(record));
                }
            }
            long now = kafka("read the position in " + tp, () -> consumer.position(tp, timeout));
            if (now > position) {
                position = now;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > timeout.toNanos()) {
                throw new KafkaUnavailableException("reading " + tp + " at " + bootstrap + " made no progress for "
                        + timeout.toSeconds() + " s (at offset " + position + " of " + end + ")", null);
            }
        }
    }

    private static Entry entry(ConsumerRecord<byte[], byte[]> record) {
        if (record.value() == null) {
            return new Entry(record.partition(), record.offset(), record.key(), null, "empty value (a tombstone)");
        }
        try {
            return new Entry(record.partition(), record.offset(), record.key(), DEAD.deserialize(record.topic(), record.value()), null);
        } catch (RuntimeException e) {
            return new Entry(record.partition(), record.offset(), record.key(), null, "not a dead letter: " + e.getMessage());
        }
    }

    /**
     * Why the letter of {@code e} (not null) must not be replayed: the topic it names is not one of the spec's; null
     * when it may be.
     */
    public String refusal(Entry e) {
        String target = e.letter().topic();
        return replayTargets.contains(target) ? null : "topic " + target + " is not one of the spec's topics (the raw"
                + " topics of its mapped v1 tables and the v2 topics of its v2 tables); nothing was sent to it";
    }

    /**
     * The number of partitions of each of {@code topics}; a topic that does not exist is absent from the result.
     */
    public Map<String, Integer> partitionCounts(Collection<String> topics) {
        Map<String, Integer> counts = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            for (String t : topics) {
                int n = partitionsFor(consumer, t).size();
                if (n > 0) {
                    counts.put(t, n);
                }
            }
        }
        return counts;
    }

    /**
     * Sends the original record of each entry back to the topic it was read from (to its original partition while the
     * topic still has it), with the {@link ReplayOutcome#REPLAYED_FROM} and {@link ReplayOutcome#REPLAY_OF} headers,
     * through an idempotent producer with acks=all, and waits for every acknowledgement.
     *
     * @param entries dead letters (their {@link Entry#letter()} must not be null)
     * @param partitionCounts the partitions of each source topic ({@link #partitionCounts})
     * @param sent told of each record once Kafka acknowledged it, in the order of {@code entries}
     * @throws KafkaUnavailableException when a record was not acknowledged; the ones before it were
     * @throws IllegalArgumentException when an entry has a {@link #refusal}; then nothing was sent
     */
    public void replay(List<Entry> entries, Map<String, Integer> partitionCounts, Consumer<Replayed> sent) {
        for (Entry e : entries) {
            String refusal = refusal(e);
            if (refusal != null) {
                throw new IllegalArgumentException("dead letter " + e.position() + " is not replayed: " + refusal);
            }
        }
        Properties props = new Properties();
        props.putAll(client);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "migrator-dlq-replay");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) timeout.toMillis());
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) timeout.multipliedBy(2).toMillis());
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TopicProvisioner.MAX_MESSAGE_BYTES);
        try (KafkaProducer<byte[], byte[]> producer = kafka("create a producer",
                () -> new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer()))) {
            List<Future<RecordMetadata>> futures = new ArrayList<>(entries.size());
            for (Entry e : entries) {
                DeadLetter d = e.letter();
                Integer partitions = partitionCounts.get(d.topic());
                Integer partition = partitions != null && d.partition() >= 0 && d.partition() < partitions ? d.partition() : null;
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(d.topic(), partition, originalKey(e), originalValue(d));
                record.headers().add(ReplayOutcome.REPLAYED_FROM, (topic + "/" + e.position()).getBytes(StandardCharsets.UTF_8));
                record.headers().add(ReplayOutcome.REPLAY_OF, Long.toString(d.offset()).getBytes(StandardCharsets.UTF_8));
                futures.add(kafka("send the original of dead letter " + e.position(), () -> producer.send(record)));
            }
            producer.flush();
            for (int i = 0; i < entries.size(); i++) {
                Entry e = entries.get(i);
                RecordMetadata meta;
                try {
                    meta = futures.get(i).get(timeout.multipliedBy(2).toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new KafkaUnavailableException("interrupted while waiting for Kafka to acknowledge the replays", ex);
                } catch (ExecutionException | java.util.concurrent.TimeoutException ex) {
                    Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
                    throw new KafkaUnavailableException("Kafka at " + bootstrap + " did not acknowledge the replay of dead letter "
                            + e.position() + " to " + e.letter().topic() + ": " + cause, cause);
                }
                sent.accept(new Replayed(e, meta.topic(), meta.partition(), meta.offset()));
            }
        }
    }

    /**
     * The end offsets of the replay-outcome topic now: the outcomes of records replayed from now on come after them.
     * Empty when the topic does not exist (no pipeline of this version has run: nothing would report an outcome).
     */
    public Map<TopicPartition, Long> outcomesEnd() {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            List<TopicPartition> partitions = partitionsFor(consumer, outcomeTopic).stream()
                    .map(p -> new TopicPartition(outcomeTopic, p.partition())).toList();
            return partitions.isEmpty() ? Map.of()
                    : kafka("read the end offsets of " + outcomeTopic, () -> consumer.endOffsets(partitions, timeout));
        }
    }

    /** The replay-outcome topic. */
    public String outcomeTopic() {
        return outcomeTopic;
    }

    /**
     * Reads the replay-outcome topic (read_committed) from {@code from} until each of {@code ids} has an outcome or
     * {@code wait} has passed. A stage that applies a batch again after a crash reports its outcomes again; the first
     * counts.
     *
     * @param from where to start in each partition of the topic ({@link #outcomesEnd()} before the replay)
     * @param ids the {@link Replayed#id()} of the records replayed
     * @return the outcome of each id that has one by then
     */
    public Map<String, ReplayOutcome> awaitOutcomes(Map<TopicPartition, Long> from, Set<String> ids, Duration wait) {
        Map<String, ReplayOutcome> outcomes = new HashMap<>();
        if (from.isEmpty()) {
            return outcomes;
        }
        long deadline = System.nanoTime() + wait.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.assign(from.keySet());
            from.forEach(consumer::seek);
            while (outcomes.size() < ids.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : kafka("read " + outcomeTopic, () -> consumer.poll(POLL))) {
                    ReplayOutcome outcome = outcome(record);
                    if (outcome != null && ids.contains(outcome.replayed())) {
                        outcomes.putIfAbsent(outcome.replayed(), outcome);
                    }
                }
            }
        }
        return outcomes;
    }

    private static ReplayOutcome outcome(ConsumerRecord<byte[], byte[]> record) {
        try {
            return record.value() == null ? null : OUTCOME.deserialize(record.topic(), record.value());
        } catch (RuntimeException e) {
            return null; // not an outcome: nothing a replay of this command waits for
        }
    }

    /**
     * The original record's key: the dead-letter record's own key (the transform writes the original bytes, the sink
     * the key's JSON text, which is how the v2 topics' keys are written), except that a sink letter of a record
     * without key has none.
     */
    public static byte[] originalKey(Entry e) {
        DeadLetter d = e.letter();
        if (e.key() == null || d != null && "sink".equals(d.stage()) && (d.key() == null || d.key().isNull())) {
            return null;
        }
        return e.key();
    }

    /**
     * The original record's value: the letter's {@code record} as JSON, its text when it is a text node (the original
     * was not JSON), nothing when it is null (the original was a tombstone).
     */
    public static byte[] originalValue(DeadLetter d) {
        JsonNode record = d.record();
        if (record == null || record.isNull() || record.isMissingNode()) {
            return null;
        }
        if (record.isTextual()) {
            return record.textValue().getBytes(StandardCharsets.UTF_8);
        }
        try {
            return Json.MAPPER.writeValueAsBytes(record);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the original record of a dead letter: " + e.getMessage(), e);
        }
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        Properties props = new Properties();
        props.putAll(client);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "migrator-dlq");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        props.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        return kafka("create a consumer", () -> new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer()));
    }

    private List<PartitionInfo> partitionsFor(KafkaConsumer<byte[], byte[]> consumer, String t) {
        List<PartitionInfo> infos = kafka("read the metadata of topic " + t, () -> consumer.partitionsFor(t, timeout));
        return infos == null ? List.of() : infos;
    }

    private <T> T kafka(String what, java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (TimeoutException e) {
            throw new KafkaUnavailableException("cannot reach Kafka at " + bootstrap + ": could not " + what + " within "
                    + timeout.toSeconds() + " s (" + e.getMessage() + ")", e);
        } catch (org.apache.kafka.common.KafkaException e) {
            String cause = e.getCause() != null && e.getCause().getMessage() != null ? " (" + e.getCause().getMessage() + ")" : "";
            throw new KafkaUnavailableException("Kafka at " + bootstrap + ": could not " + what + ": " + e.getMessage() + cause, e);
        }
    }
}
