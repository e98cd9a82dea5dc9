package dev.cdcmigrator.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.event.SchemaReferences;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * When v2 differs from v1 after a fault-injection run: the history of the differing keys through the raw topic
 * (what capture published, in partition order) and the v2 topic (what the transform committed), so that a report can
 * say which stage lost or reordered a change.
 */
final class FaultDiagnosis {

    private static final ObjectMapper JSON = new ObjectMapper();

    private FaultDiagnosis() {
    }

    /** One line per record of those keys in the raw and the v2 topic, grouped by key. */
    static String trace(String bootstrap, String rawTopic, String v2Topic, Collection<Long> ids) {
        Set<Long> wanted = Set.copyOf(ids);
        Map<Long, List<String>> lines = new TreeMap<>();
        try {
            read(bootstrap, rawTopic, "read_uncommitted", record -> {
                JsonNode key = parse(record.key());
                JsonNode id = key == null ? null : payload(record, key, SchemaReferences.KEY_HEADER).path("id");
                if (id == null || !id.canConvertToLong() || !wanted.contains(id.asLong())) {
                    return;
                }
                JsonNode value = parse(record.value());
                JsonNode payload = value == null ? null : payload(record, value, SchemaReferences.VALUE_HEADER);
                String text;
                if (payload == null || payload.isMissingNode()) {
                    text = "(no payload)";
                } else {
                    JsonNode after = payload.path("after");
                    JsonNode source = payload.path("source");
                    text = "op=" + payload.path("op").asText() + " version=" + (after.isObject() ? after.path("version").asText() : "-")
                            + " body=" + (after.isObject() ? bodyInfo(after.path("body")) : "-")
                            + " lsn=" + source.path("lsn").asText() + " seq=" + source.path("sequence").asText()
                            + " txId=" + source.path("txId").asText() + " snapshot=" + source.path("snapshot").asText();
                }
                lines.computeIfAbsent(id.asLong(), k -> new ArrayList<>())
                        .add("  raw " + record.partition() + "/" + record.offset() + " " + text);
            });
            read(bootstrap, v2Topic, "read_committed", record -> {
                JsonNode value = parse(record.value());
                JsonNode id = value == null ? null : value.path("key").path("doc_id");
                if (id == null || !id.canConvertToLong() || !wanted.contains(id.asLong())) {
                    return;
                }
                JsonNode after = value.path("after");
                JsonNode source = value.path("source");
                lines.computeIfAbsent(id.asLong(), k -> new ArrayList<>())
                        .add("  v2  " + record.partition() + "/" + record.offset() + " op=" + value.path("op").asText()
                                + " version=" + (after.isObject() ? after.path("version").asText() : "-")
                                + " content=" + (after.isObject() ? bodyInfo(after.path("content")) : "-")
                                + " source=" + source);
            });
        } catch (RuntimeException e) {
            return "(diagnosis failed: " + e + ")";
        }
        return summary(bootstrap, rawTopic) + "\n" + lines.entrySet().stream()
                .map(e -> "id " + e.getKey() + ":\n" + String.join("\n", e.getValue()))
                .collect(Collectors.joining("\n"));
    }

    /** The payload of a raw key or value, whether it carries its schema inline or names it. */
    private static JsonNode payload(ConsumerRecord<byte[], byte[]> record, JsonNode read, String header) {
        return SchemaReferences.payload(read, SchemaReferences.referenced(record.headers(), header) != null);
    }

    /** Per raw partition: how many records of each op (snapshot reads apart), and the streamed LSN range. */
    static String summary(String bootstrap, String rawTopic) {
        Map<String, Long> counts = new TreeMap<>();
        Map<Integer, long[]> lsns = new TreeMap<>();
        read(bootstrap, rawTopic, "read_uncommitted", record -> {
            JsonNode value = parse(record.value());
            JsonNode payload = value == null ? null : payload(record, value, SchemaReferences.VALUE_HEADER);
            if (payload == null) {
                return;
            }
            String op = payload.path("op").asText();
            counts.merge("p" + record.partition() + " " + op, 1L, Long::sum);
            if (!op.equals("r")) {
                long lsn = payload.path("source").path("lsn").asLong();
                long[] range = lsns.computeIfAbsent(record.partition(), k -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE, 0, 0});
                range[0] = Math.min(range[0], lsn);
                range[1] = Math.max(range[1], lsn);
                if (range[2] == 0) {
                    range[2] = record.offset();
                }
                range[3] = record.offset();
            }
        });
        StringBuilder text = new StringBuilder("raw records by partition and op: " + counts + "; streamed [min lsn, max lsn, first offset, last offset] by partition: ");
        lsns.forEach((p, r) -> text.append(p).append('=').append(java.util.Arrays.toString(r)).append(' '));
        return text.toString();
    }

    /** The sum of the end offsets of the topic's partitions; 0 when it does not exist yet. */
    static long endOffsets(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<org.apache.kafka.common.PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
            if (infos == null || infos.isEmpty()) {
                return 0;
            }
            return consumer.endOffsets(infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList())
                    .values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /** The sum of a consumer group's committed offsets on the topic's partitions; 0 when it has none. */
    static long committedOffsets(String bootstrap, String group, String topic) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            return offsets.entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                    .mapToLong(e -> e.getValue().offset()).sum();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read the committed offsets of " + group + ": " + e, e);
        }
    }

    /**
     * The Kafka transactions open now (state Ongoing) of the producers whose transactional id starts with
     * {@code transactionalIdPrefix}, each as {@code transactional id/producer id}.
     */
    static List<String> ongoingTransactions(String bootstrap, String transactionalIdPrefix) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            return admin.listTransactions(new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING)))
                    .all().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> t.transactionalId().startsWith(transactionalIdPrefix))
                    .map(t -> t.transactionalId() + "/" + t.producerId())
                    .sorted().toList();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot list the open transactions: " + e, e);
        }
    }

    /** Every record of Debezium's offsets topic. */
    static String offsets(String bootstrap, String topic) {
        List<String> lines = new ArrayList<>();
        try {
            read(bootstrap, topic, "read_uncommitted", record -> lines.add("  " + record.partition() + "/" + record.offset() + " "
                    + new String(record.value() == null ? new byte[0] : record.value(), StandardCharsets.UTF_8)));
        } catch (RuntimeException e) {
            lines.add("(cannot read " + topic + ": " + e + ")");
        }
        return String.join("\n", lines);
    }

    private static String bodyInfo(JsonNode body) {
        if (body.isNull() || body.isMissingNode()) {
            return "null";
        }
        String text = body.asText();
        return text.equals("__debezium_unavailable_value") ? "UNAVAILABLE" : text.length() + "ch";
    }

    private static JsonNode parse(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            return JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
        } catch (java.io.IOException e) {
            return null;
        }
    }

    static void read(String bootstrap, String topic, String isolation,
                             java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> each) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                // Probing a topic that does not exist yet must not create it (with the wrong cleanup policy).
                ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<org.apache.kafka.common.PartitionInfo> infos;
            try {
                infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                return;
            }
            if (infos == null || infos.isEmpty()) {
                return;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(each);
            }
        }
    }

    /** Watches the newest record of each partition of a raw topic. */
    static final class RawTail implements AutoCloseable {

        private final KafkaConsumer<byte[], byte[]> consumer;
        private final String topic;

        RawTail(String bootstrap, String topic) {
            this.topic = topic;
            this.consumer = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false,
                    ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        }

        /** Whether the newest record of some partition is a streamed change (not a snapshot read or a marker). */
        boolean streamedChangePublished() {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
            if (infos == null || infos.isEmpty()) {
                return false;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            boolean any = false;
            for (TopicPartition p : partitions) {
                if (end.get(p) > 0) {
                    consumer.seek(p, end.get(p) - 1);
                    any = true;
                } else {
                    consumer.pause(List.of(p));
                }
            }
            if (!any) {
                return false;
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                JsonNode value = parse(record.value());
                String op = value == null ? "" : payload(record, value, SchemaReferences.VALUE_HEADER).path("op").asText();
                if (op.equals("c") || op.equals("u") || op.equals("d")) {
                    return true;
                }
            }
            consumer.resume(consumer.paused());
            return false;
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
