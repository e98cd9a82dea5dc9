package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.event.SourcePosition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
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
 *
 * <p>An initial snapshot taken again after a crash starts a new epoch (see {@link StreamPosition}): its reads win over
 * everything stored, and at its {@link SnapshotCompleted} marker every v1 row it did not read (deleted on v1 meanwhile)
 * is deleted from v2. The task's epoch lives in the image store under a key no v1 key can take.
 */
public final class MapProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private static final Logger LOGGER = LoggerFactory.getLogger(MapProcessor.class);
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final JsonSerde<SnapshotCompleted> MARKER = JsonSerde.of(SnapshotCompleted.class);
    private static final JsonSerde<TaskState> TASK_STATE = JsonSerde.of(TaskState.class);
    /** Image keys are JSON objects, so this key, not starting with '{', cannot collide with a v1 row. */
    private static final Bytes TASK_STATE_KEY = Bytes.wrap("#task".getBytes(StandardCharsets.UTF_8));

    /**
     * What the task keeps besides row images.
     *
     * @param epoch the LSN of the newest snapshot seen on this partition, 0 before any
     * @param jsonColumns the json/jsonb columns of the table as last seen, needed to map a stored image without its event
     */
    record TaskState(long epoch, Set<String> jsonColumns) {
    }

    private final String v1Table;
    private final String v1QualifiedTable;
    private final TableMapping mapping;
    private final String imageStore;
    private final java.util.function.Function<String, String> v2Child;
    private final String deadLetterChild;
    private final Counter mapped;
    private final Counter deadLettered;
    private final Counter duplicates;
    private final Counter swept;
    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<Bytes, byte[]> images;
    private TaskState state;

    /**
     * @param sourceSchema the v1 schema
     * @param v1Table the v1 table whose raw changes arrive here
     * @param mapping its compiled mapping
     * @param imageStore the store keeping the last full image per v1 key
     * @param v2Child the child node writing a v2 table, by v2 table name
     * @param deadLetterChild the child node writing the dead-letter topic
     * @param registry receives the meters
     */
    public MapProcessor(String sourceSchema, String v1Table, TableMapping mapping, String imageStore, java.util.function.Function<String, String> v2Child,
                        String deadLetterChild, MeterRegistry registry) {
        this.v1Table = v1Table;
        this.v1QualifiedTable = sourceSchema + "." + v1Table;
        this.mapping = mapping;
        this.imageStore = imageStore;
        this.v2Child = v2Child;
        this.deadLetterChild = deadLetterChild;
        this.mapped = counter(registry, "mapped");
        this.deadLettered = counter(registry, "dead_lettered");
        this.duplicates = counter(registry, "duplicate");
        this.swept = Counter.builder("migrator.transform.snapshot.swept")
                .description("v1 rows missing from an initial snapshot taken again after a crash, whose v2 rows were deleted")
                .baseUnit("rows")
                .tag("table", v1Table)
                .register(registry);
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
        byte[] stored = images.get(TASK_STATE_KEY);
        this.state = stored == null ? new TaskState(0, Set.of()) : TASK_STATE.deserialize(null, stored);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        if (record.value() == null) {
            return; // a tombstone carries nothing the preceding delete did not
        }
        if (SnapshotCompleted.isMarker(record.headers())) {
            completeSnapshot(MARKER.deserialize(null, record.value()), record.timestamp());
            return;
        }
        try {
            RawChange change = RawChange.parse(record.value());
            if (change.source().snapshot() && change.source().lsn() > state.epoch() || !change.jsonColumns().equals(state.jsonColumns())) {
                saveState(new TaskState(Math.max(state.epoch(), change.source().snapshot() ? change.source().lsn() : 0), change.jsonColumns()));
            }
            JsonNode v1Key = keyPayload(record.key());
            Bytes imageKey = Bytes.wrap(Json.MAPPER.writeValueAsBytes(v1Key));
            byte[] stored = images.get(imageKey);
            StoredImage previous = stored == null ? null : StoredImage.read(stored);
            StreamPosition position = StreamPosition.of(change.source(), state.epoch());
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

    /**
     * Ends the snapshot at {@code marker} on this partition: every stored row not read by it (and not changed since)
     * no longer existed on v1 when it was taken, so the v2 rows it produced are deleted. On a first snapshot the store
     * holds nothing older, and this finds nothing.
     */
    private void completeSnapshot(SnapshotCompleted marker, long timestamp) {
        long snapshotLsn = marker.snapshotLsn();
        if (snapshotLsn < state.epoch()) {
            LOGGER.warn("ignoring a snapshot-completed marker for LSN {} older than the current snapshot at LSN {} (table {})",
                    snapshotLsn, state.epoch(), v1Table);
            return;
        }
        saveState(new TaskState(snapshotLsn, state.jsonColumns()));
        StreamPosition superseded = StreamPosition.snapshotAt(snapshotLsn);
        List<KeyValue<Bytes, StoredImage>> gone = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> all = images.all()) {
            while (all.hasNext()) {
                KeyValue<Bytes, byte[]> entry = all.next();
                if (entry.key.equals(TASK_STATE_KEY)) {
                    continue;
                }
                StoredImage image = StoredImage.read(entry.value);
                if (image.row() != null && image.position().compareTo(superseded) < 0) {
                    gone.add(KeyValue.pair(entry.key, image));
                }
            }
        }
        SourcePosition source = new SourcePosition(v1QualifiedTable, snapshotLsn, null, null, marker.tsMs(), false);
        for (KeyValue<Bytes, StoredImage> entry : gone) {
            try {
                JsonNode v1Key = Json.MAPPER.readTree(entry.key.get());
                RawChange delete = new RawChange(Op.DELETE, entry.value.row(), null, source, state.jsonColumns());
                for (V2Change v2 : mapping.map(delete, v1Key, entry.value.row()).changes()) {
                    context.forward(new Record<>(Json.MAPPER.writeValueAsBytes(v2.key()), V2.serialize(null, v2), timestamp),
                            v2Child.apply(v2.table()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("unreadable image store key in " + imageStore, e);
            }
            images.put(entry.key, new StoredImage(superseded, null).bytes());
            swept.increment();
        }
        LOGGER.info("snapshot at LSN {} complete for table {}: {} rows it did not read deleted from v2", snapshotLsn, v1Table, gone.size());
    }

    private void saveState(TaskState next) {
        state = next;
        images.put(TASK_STATE_KEY, TASK_STATE.serialize(null, next));
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
