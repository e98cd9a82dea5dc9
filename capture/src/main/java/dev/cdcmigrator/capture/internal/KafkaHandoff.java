package dev.cdcmigrator.capture.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.common.WrittenBy;
import dev.cdcmigrator.common.event.DebeziumValues;
import dev.cdcmigrator.common.event.RawPartitions;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands Debezium's batches to Kafka, in Debezium's JSON, each schema inline once per partition and by reference after
 * that ({@link SchemaReferences}): send every record, wait
 * until Kafka acknowledged all of them, and only then mark them processed, so that Debezium's offsets never run ahead
 * of what Kafka holds. Right after the last read of an initial snapshot it writes a {@link SnapshotCompleted} marker to
 * every partition of every raw topic, in the same batch, so the markers are durable before any offset past the
 * snapshot is committed.
 *
 * <p>No change is dropped unseen: each change is counted per v1 table with its outcome ({@code migrator.capture.changes},
 * {@code outcome=published}, or {@code unmapped} for a table whose raw topic capture does not write, which is also
 * a WARNING naming the table: at its first change and then at most once a minute; or {@code other-direction} for a
 * change the migration's other direction wrote, see below).
 *
 * <p>While a migration and its way back run at once, each one's sink writes where the other captures. Each sink marks
 * its transactions ({@link WrittenBy}); a transaction marked by the other direction is not published, its changes
 * counted with {@code outcome=other-direction}: it came from there, and sending it back would loop forever.
 */
public final class KafkaHandoff implements DebeziumEngine.ChangeConsumer<RecordChangeEvent<SourceRecord>> {

    private static final Logger LOGGER = LoggerFactory.getLogger(KafkaHandoff.class);
    private static final JsonSerde<SnapshotCompleted> MARKER = JsonSerde.of(SnapshotCompleted.class);
    private static final long WARNING_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
    private static final int MAX_ANNOUNCED = 4096;
    private static final DebeziumJson.Written NO_KEY = new DebeziumJson.Written(null, null);

    private final Producer<byte[], byte[]> producer;
    private final MeterRegistry registry;
    private final String heartbeatTopicPrefix;
    private final Set<String> publishedTopics;
    private final List<String> rawTopics;
    private final DebeziumJson keyJson;
    private final DebeziumJson valueJson;
    private final Map<String, Counter> published = new HashMap<>();
    private final Map<String, Counter> fromOtherDirection = new HashMap<>();
    private final Map<String, Unmapped> unmapped = new HashMap<>();
    private final Map<String, Integer> partitionCounts = new HashMap<>();
    /** By schema id, the partitions the schema was sent to inline and acknowledged on. */
    private final Map<String, BitSet> announced = new HashMap<>();
    private final String otherDirection;
    private final Counter marks;
    private final Counter otherMessages;
    /** The transaction the other direction's sink wrote, whose changes are arriving; null before the first mark. */
    private Long otherDirectionTx;

    /**
     * @param producer sends to Kafka
     * @param registry receives the meters
     * @param heartbeatTopicPrefix Debezium's heartbeat records go to topics starting with this; they only carry an
     *                             offset for Debezium to commit, so they are marked processed without being published
     * @param publishedTopics the raw topics of every table capture reads; a change for any other topic is counted as
     *                        unmapped and not published
     * @param rawTopics the raw topics the transform reads, which receive the snapshot-completed markers
     * @param converterConfig Debezium's {@code converter.} settings without the prefix, as its JSON converter would get
     *                        them
     * @param otherDirection the migration whose sink's transactions are not published ({@link WrittenBy})
     */
    public KafkaHandoff(Producer<byte[], byte[]> producer, MeterRegistry registry, String heartbeatTopicPrefix,
                        List<String> publishedTopics, List<String> rawTopics, Map<String, ?> converterConfig,
                        String otherDirection) {
        this.producer = producer;
        this.registry = registry;
        this.heartbeatTopicPrefix = heartbeatTopicPrefix;
        this.publishedTopics = Set.copyOf(publishedTopics);
        this.rawTopics = List.copyOf(rawTopics);
        this.keyJson = new DebeziumJson(converterConfig, true);
        this.valueJson = new DebeziumJson(converterConfig, false);
        this.otherDirection = otherDirection;
        this.marks = messages("other-direction");
        this.otherMessages = messages("other");
    }

    @Override
    public void handleBatch(List<RecordChangeEvent<SourceRecord>> records,
                            DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) throws InterruptedException {
        List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
        Set<RecordChangeEvent<SourceRecord>> notPublished = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (RecordChangeEvent<SourceRecord> event : records) {
            SourceRecord record = event.record();
            if (record.topic().startsWith(heartbeatTopicPrefix)) {
                continue;
            }
            Struct envelope = record.value() instanceof Struct value ? value : null;
            if (isMessage(envelope)) {
                message(envelope);
                notPublished.add(event);
                continue;
            }
            if (otherDirectionTx != null && otherDirectionTx.equals(txId(envelope))) {
                notPublished.add(event);
                fromOtherDirection.computeIfAbsent(record.topic(), topic -> changes(table(topic, envelope), "other-direction")).increment();
                continue;
            }
            if (!publishedTopics.contains(record.topic())) {
                unmapped(record.topic(), envelope);
                continue;
            }
            DebeziumJson.Written value = valueJson.write(record.topic(), record.valueSchema(), record.value());
            if (isTruncate(envelope)) {
                // A truncate has no key, so it would land in one partition; every transform task holds some of the
                // table's rows, so every partition gets it.
                for (PartitionInfo partition : producer.partitionsFor(record.topic())) {
                    send(record.topic(), partition.partition(), NO_KEY, value, acks);
                }
                continue;
            }
            DebeziumJson.Written key = keyJson.write(record.topic(), record.keySchema(), record.key());
            send(record.topic(), partition(record), key, value, acks);
            Long snapshotLsn = lastSnapshotRead(envelope);
            if (snapshotLsn != null) {
                markSnapshotCompleted(snapshotLsn, acks);
            }
        }
        for (Future<RecordMetadata> ack : acks) {
            await(ack);
        }
        for (RecordChangeEvent<SourceRecord> event : records) {
            committer.markProcessed(event);
            String destination = event.record().topic();
            if (destination.startsWith(heartbeatTopicPrefix) || !publishedTopics.contains(destination)
                    || notPublished.contains(event)) {
                continue;
            }
            published.computeIfAbsent(destination, topic -> changes(table(topic, event.record().value() instanceof Struct v ? v : null),
                    "published")).increment();
        }
        committer.markBatchFinished();
    }

    /**
     * Sends a change with its key's and value's schemas by reference where this partition already has them, else
     * inline ({@link SchemaReferences}). A record that carries a schema inline is waited for before anything refers to
     * it: a later record of the partition must never be in Kafka without the schema it names before it.
     */
    private void send(String topic, int partition, DebeziumJson.Written key, DebeziumJson.Written value,
                      List<Future<RecordMetadata>> acks) throws InterruptedException {
        RecordHeaders headers = new RecordHeaders();
        boolean keyInline = !announced(key.schema(), partition);
        boolean valueInline = !announced(value.schema(), partition);
        byte[] keyBytes = keyInline ? key.inline() : referTo(key, SchemaReferences.KEY_HEADER, headers);
        byte[] valueBytes = valueInline ? value.inline() : referTo(value, SchemaReferences.VALUE_HEADER, headers);
        Future<RecordMetadata> ack = producer.send(new ProducerRecord<>(topic, partition, null, keyBytes, valueBytes, headers));
        if (!keyInline && !valueInline) {
            acks.add(ack);
            return;
        }
        await(ack);
        announce(key.schema(), partition);
        announce(value.schema(), partition);
    }

    /** Whether the partition holds the schema inline (true for no schema: nothing to refer to). */
    private boolean announced(DebeziumJson.KnownSchema schema, int partition) {
        if (schema == null) {
            return true;
        }
        BitSet partitions = announced.get(schema.id());
        return partitions != null && partitions.get(partition);
    }

    private void announce(DebeziumJson.KnownSchema schema, int partition) {
        if (schema != null) {
            if (announced.size() >= MAX_ANNOUNCED) {
                // Far more schemas than tables means something unusual; sending one inline again costs only bytes.
                announced.clear();
            }
            announced.computeIfAbsent(schema.id(), id -> new BitSet()).set(partition);
        }
    }

    /** The payload alone, its schema named in {@code header}; the whole bytes of one without a schema kept apart. */
    private static byte[] referTo(DebeziumJson.Written written, String header, RecordHeaders headers) {
        if (written.schema() == null) {
            return written.bytes();
        }
        headers.add(new RecordHeader(header, written.schema().id().getBytes(StandardCharsets.UTF_8)));
        return written.bytes();
    }

    private static void await(Future<RecordMetadata> ack) throws InterruptedException {
        try {
            ack.get();
        } catch (ExecutionException e) {
            // Not marking the batch processed makes Debezium stop without committing its offsets past it: on
            // restart the batch is read again from the slot, so nothing is lost.
            throw new IllegalStateException("Kafka refused a change record: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private Counter changes(String table, String outcome) {
        return Counter.builder("migrator.capture.changes")
                .description("v1 changes capture received, per v1 table: published to its raw topic, unmapped (a"
                        + " table capture does not read, not published), or other-direction (written by the migration's"
                        + " other direction, not published back)")
                .baseUnit("changes")
                .tag("table", table)
                .tag("outcome", outcome)
                .register(registry);
    }

    /**
     * Counts a change of a table capture does not read. Only a publication changed by hand, or one reporting
     * partitions under their own names, sends such a change: capture refuses the latter at start, so either way
     * an operator must hear of it.
     */
    private void unmapped(String topic, Struct envelope) {
        Unmapped seen = unmapped.computeIfAbsent(topic, t -> {
            String table = table(t, envelope);
            return new Unmapped(table, changes(table, "unmapped"));
        });
        seen.counter.increment();
        long now = System.nanoTime();
        if (seen.warnedAt == 0 || now - seen.warnedAt > WARNING_INTERVAL_NANOS) {
            seen.warnedAt = now;
            LOGGER.warn("capture received {} change(s) of v1 table {}, which the spec does not map: not published, so they"
                    + " will not reach v2 (if the table should be migrated, map it in the spec; if a partition, map its"
                    + " partitioned table and see that the publication has publish_via_partition_root = true)",
                    (long) seen.counter.count(), seen.table);
        }
    }

    /** The v1 table of a change, {@code schema.table}, from its source block (or the topic, without one). */
    private static String table(String topic, Struct envelope) {
        if (envelope != null && envelope.schema().field("source") != null) {
            Struct source = envelope.getStruct("source");
            return source.getString("schema") + "." + source.getString("table");
        }
        return topic;
    }

    private Counter messages(String outcome) {
        return Counter.builder("migrator.capture.messages")
                .description("logical decoding messages capture received (never published): other-direction (the mark"
                        + " of a transaction the migration's other direction wrote), other (anyone else's)")
                .baseUnit("messages")
                .tag("outcome", outcome)
                .register(registry);
    }

    /** Notes the transaction a mark of the other direction opens; counts every message. */
    private void message(Struct envelope) {
        Struct message = envelope.getStruct("message");
        Object content = message.get("content");
        String text = content instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8)
                : content instanceof java.nio.ByteBuffer buffer ? StandardCharsets.UTF_8.decode(buffer.duplicate()).toString()
                : String.valueOf(content);
        if (WrittenBy.PREFIX.equals(message.getString("prefix")) && otherDirection.equals(text)) {
            otherDirectionTx = txId(envelope);
            marks.increment();
        } else {
            otherMessages.increment();
        }
    }

    private static boolean isMessage(Struct value) {
        return value != null && value.schema().field("message") != null && "m".equals(value.get("op"));
    }

    /** The v1 transaction of a change or message, from its source block; null without one. */
    private static Long txId(Struct value) {
        if (value == null || value.schema().field("source") == null) {
            return null;
        }
        Struct source = value.getStruct("source");
        return source.schema().field("txId") == null ? null : source.getInt64("txId");
    }

    /** The meter and the last warning of one unmapped table. */
    private static final class Unmapped {
        final String table;
        final Counter counter;
        long warnedAt;

        Unmapped(String table, Counter counter) {
            this.table = table;
            this.counter = counter;
        }
    }

    /** The snapshot's LSN if {@code value} is the last read of an initial snapshot, else null. */
    private static Long lastSnapshotRead(Struct value) {
        if (value == null || value.schema().field("source") == null) {
            return null;
        }
        Struct info = value.getStruct("source");
        Object snapshot = info.schema().field("snapshot") == null ? null : info.get("snapshot");
        return "last".equals(snapshot) ? info.getInt64("lsn") : null;
    }

    private static boolean isTruncate(Struct value) {
        return value != null && value.schema().field("op") != null && "t".equals(value.get("op"));
    }

    /**
     * The raw partition of the event's row, from its key's column values (see {@link RawPartitions}); partition 0 for
     * a row of a table without a primary key, which Debezium sends without a key: its changes can only be applied in
     * commit order, which only one partition keeps (Kafka's choice would spread them).
     */
    private Integer partition(SourceRecord record) {
        if (!(record.key() instanceof Struct key)) {
            return RawPartitions.KEYLESS;
        }
        ObjectNode values = Json.MAPPER.createObjectNode();
        for (Field field : key.schema().fields()) {
            Object value = key.get(field);
            String semanticType = field.schema().name();
            // The usual key types directly: valueToTree goes through a serializer lookup and a token buffer per call.
            if (semanticType == null && value instanceof Long l) {
                values.put(field.name(), l);
            } else if (semanticType == null && value instanceof Integer i) {
                values.put(field.name(), i);
            } else if (value instanceof String text) {
                values.put(field.name(), text);
            } else {
                // Hashed in the form the transform decodes the key to and the copy backfill reads it in (timestamps
                // and times as text, bytes as hex), so that a copied row lands on its changes' partition.
                JsonNode raw = value instanceof ByteBuffer buffer ? base64(bytes(buffer))
                        : value instanceof byte[] bytes ? base64(bytes)
                        // The transform reads a float's JSON text back as an exact decimal (Json.MAPPER).
                        : value instanceof Double d && Double.isFinite(d) ? DecimalNode.valueOf(new BigDecimal(d.toString()))
                        : value instanceof Float f && Float.isFinite(f) ? DecimalNode.valueOf(new BigDecimal(f.toString()))
                        : Json.MAPPER.valueToTree(value);
                values.set(field.name(), DebeziumValues.decode(raw, semanticType != null ? semanticType : field.schema().type().getName()));
            }
        }
        return RawPartitions.of(values, partitionCount(record.topic()));
    }

    /** Bytes as Debezium's JSON converter writes them, which is what the transform decodes. */
    private static JsonNode base64(byte[] bytes) {
        return TextNode.valueOf(Base64.getEncoder().encodeToString(bytes));
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }

    private int partitionCount(String topic) {
        return partitionCounts.computeIfAbsent(topic, t -> producer.partitionsFor(t).size());
    }

    private void markSnapshotCompleted(long snapshotLsn, List<Future<RecordMetadata>> acks) {
        byte[] value = MARKER.serialize(null, new SnapshotCompleted(snapshotLsn, System.currentTimeMillis()));
        RecordHeaders headers = new RecordHeaders();
        headers.add(new RecordHeader(SnapshotCompleted.HEADER, SnapshotCompleted.TYPE));
        int partitions = 0;
        for (String topic : rawTopics) {
            partitions += sendToEveryPartition(topic, value, headers, acks);
        }
        LOGGER.info("initial snapshot completed at LSN {}; marked {} partitions of {} raw topics", snapshotLsn, partitions, rawTopics.size());
    }

    /** Sends a keyless record to every partition of {@code topic}; returns how many partitions that was. */
    private int sendToEveryPartition(String topic, byte[] value, RecordHeaders headers, List<Future<RecordMetadata>> acks) {
        List<PartitionInfo> partitions = producer.partitionsFor(topic);
        for (PartitionInfo partition : partitions) {
            acks.add(producer.send(new ProducerRecord<>(topic, partition.partition(), null, null, value, headers)));
        }
        return partitions.size();
    }
}
