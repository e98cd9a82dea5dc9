package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps the raw changes of one v1 table to v2 changes, keeping per v1 row the position of the last applied change and
 * the full image after it. A change not newer than that position is a replay (capture is at-least-once) and is dropped;
 * a change the spec cannot map is forwarded to the dead-letter child instead, so the pipeline goes on and nothing is lost.
 */
public final class MapProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private static final Logger LOGGER = LoggerFactory.getLogger(MapProcessor.class);
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    private final String v1Table;
    private final TableMapping mapping;
    private final String imageStore;
    private final java.util.function.Function<String, String> v2Child;
    private final String deadLetterChild;
    private final Counter mapped;
    private final Counter deadLettered;
    private final Counter duplicates;
    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<Bytes, byte[]> images;

    /**
     * @param v1Table the v1 table whose raw changes arrive here
     * @param mapping its compiled mapping
     * @param imageStore the store keeping the last full image per v1 key
     * @param v2Child the child node writing a v2 table, by v2 table name
     * @param deadLetterChild the child node writing the dead-letter topic
     * @param registry receives the meters
     */
    public MapProcessor(String v1Table, TableMapping mapping, String imageStore, java.util.function.Function<String, String> v2Child,
                        String deadLetterChild, MeterRegistry registry) {
        this.v1Table = v1Table;
        this.mapping = mapping;
        this.imageStore = imageStore;
        this.v2Child = v2Child;
        this.deadLetterChild = deadLetterChild;
        this.mapped = counter(registry, "mapped");
        this.deadLettered = counter(registry, "dead_lettered");
        this.duplicates = counter(registry, "duplicate");
    }

    private Counter counter(MeterRegistry registry, String outcome) {
        return Counter.builder("migrator.transform.records")
                .description("v1 change records processed by the transform, by outcome")
                .baseUnit("records")
                .tag("table", v1Table)
                .tag("outcome", outcome)
                .register(registry);
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.images = context.getStateStore(imageStore);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        if (record.value() == null) {
            return; // a tombstone carries nothing the preceding delete did not
        }
        try {
            RawChange change = RawChange.parse(record.value());
            JsonNode v1Key = keyPayload(record.key());
            Bytes imageKey = Bytes.wrap(Json.MAPPER.writeValueAsBytes(v1Key));
            byte[] stored = images.get(imageKey);
            StoredImage previous = stored == null ? null : StoredImage.read(stored);
            StreamPosition position = StreamPosition.of(change.source());
            if (previous != null && position.replayOf(previous.position())) {
                // Capture is at-least-once: after a crash it re-reads changes this row has already been through.
                duplicates.increment();
                return;
            }
            TableMapping.Result result = mapping.map(change, v1Key, previous == null ? null : previous.row());
            for (V2Change v2 : result.changes()) {
                context.forward(new Record<>(Json.MAPPER.writeValueAsBytes(v2.key()), V2.serialize(null, v2), record.timestamp()),
                        v2Child.apply(v2.table()));
            }
            images.put(imageKey, new StoredImage(position, result.image()).bytes());
            mapped.increment();
        } catch (MappingException e) {
            deadLetter(record, e.column(), e.getMessage());
        } catch (IOException | RuntimeException e) {
            deadLetter(record, null, e.toString());
        }
    }

    private JsonNode keyPayload(byte[] key) {
        if (key == null) {
            throw new MappingException(null, "the record has no key (v1 table without a primary key?)");
        }
        try {
            JsonNode envelope = Json.MAPPER.readTree(key);
            JsonNode payload = envelope.path("payload");
            if (!payload.isObject()) {
                throw new MappingException(null, "the key is not a Debezium key envelope with schema and payload");
            }
            return DebeziumValues.decodeRow(payload, envelope.get("schema"));
        } catch (IOException e) {
            throw new MappingException(null, "the key is not JSON: " + e.getMessage());
        }
    }

    private void deadLetter(Record<byte[], byte[]> record, String column, String reason) {
        RecordMetadata meta = context.recordMetadata().orElseThrow();
        DeadLetter letter = DeadLetter.of("transform", meta.topic(), meta.partition(), meta.offset(), v1Table,
                record.key(), column, reason, record.value());
        LOGGER.warn("dead-lettered table={} topic={} partition={} offset={} column={} reason={}",
                v1Table, meta.topic(), meta.partition(), meta.offset(), column, reason);
        context.forward(new Record<>(record.key(), DEAD.serialize(null, letter), record.timestamp()), deadLetterChild);
        deadLettered.increment();
    }
}
