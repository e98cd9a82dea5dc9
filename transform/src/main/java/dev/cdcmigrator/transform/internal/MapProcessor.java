package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.event.ReplayOutcome.Outcome;
import dev.cdcmigrator.common.event.RawPartitions;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.TenancySpec;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.apache.kafka.common.serialization.BytesSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maps the raw changes of one v1 table to v2 changes, keeping per v1 row the position of the last applied change and
 * the full image after it. A change not newer than that position is a replay (capture is at-least-once) and is dropped;
 * a change the spec cannot map is forwarded to the dead-letter child instead, so the pipeline goes on and nothing is lost.
 * A dead letter replayed by {@code migrator dlq replay} is ordered the same way: one its row has moved past since is
 * dropped as superseded, so the row does not go back in time; what became of it goes to the replay-outcome child.
 *
 * <p>An initial snapshot taken again after a crash starts a new epoch (see {@link StreamPosition}): its reads win over
 * everything stored, and at its {@link SnapshotCompleted} marker every v1 row it did not read (deleted on v1 meanwhile)
 * is deleted from v2. The task's epoch lives in the image store under a key no v1 key can take.
 *
 * <p>Dimensions: a row whose lookup row is not known yet waits in the held store and is applied when the lookup row
 * arrives (from the table's lookup topic), or, after {@code tenancy.holdSeconds}, with its default or as a dead letter.
 * The links store records which rows read which lookup row, so that a changed lookup row re-keys its rows. When this
 * table is itself a lookup table, each applied change that alters the columns dependents read is sent to them.
 */
public final class MapProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private static final Logger LOGGER = LoggerFactory.getLogger(MapProcessor.class);
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final JsonSerde<SnapshotCompleted> MARKER = JsonSerde.of(SnapshotCompleted.class);
    private static final JsonSerde<TaskState> TASK_STATE = JsonSerde.of(TaskState.class);
    private static final JsonSerde<LookupChange> LOOKUP = JsonSerde.of(LookupChange.class);
    private static final JsonSerde<HeldRow> HELD = JsonSerde.of(HeldRow.class);
    private static final JsonSerde<ReplayOutcome> OUTCOME = JsonSerde.of(ReplayOutcome.class);
    /** Image keys are JSON objects, so this key, not starting with '{', cannot collide with a v1 row. */
    private static final Bytes TASK_STATE_KEY = Bytes.wrap("#task".getBytes(StandardCharsets.UTF_8));
    /**
     * The entry of a table without a primary key: the position of its last applied change, no row. Every change of
     * such a table is on one partition (capture sends them all to partition 0), in commit order, so one position per
     * table drops capture's replays. No v1 key is the empty object.
     */
    private static final Bytes KEYLESS_KEY = Bytes.wrap("{}".getBytes(StandardCharsets.UTF_8));
    private static final Duration MAX_EXPIRY_CHECK = Duration.ofSeconds(10);

    /**
     * What the task keeps besides row images.
     *
     * @param epoch the LSN of the newest snapshot seen on this partition, 0 before any
     * @param jsonColumns the json/jsonb columns of the table as last seen, needed to map a stored image without its event
     * @param columnTypes the types of the columns the spec needs, as first seen since the table's spec last changed
     * @param specFingerprint identifies the table's spec those types were learned under
     * @param recopied this table's key ranges the copy backfill took from a newer snapshot than the epoch's
     */
    record TaskState(long epoch, Set<String> jsonColumns, Map<String, String> columnTypes, String specFingerprint,
                     List<SnapshotCompleted.Recopied> recopied) {

        TaskState {
            recopied = recopied == null ? List.of() : List.copyOf(recopied);
        }

        TaskState(long epoch, Set<String> jsonColumns, Map<String, String> columnTypes, String specFingerprint) {
            this(epoch, jsonColumns, columnTypes, specFingerprint, List.of());
        }

        TaskState withEpoch(long next, List<SnapshotCompleted.Recopied> nextRecopied) {
            return new TaskState(next, jsonColumns, columnTypes, specFingerprint, nextRecopied);
        }

        TaskState withTypes(Set<String> nextJsonColumns, Map<String, String> nextColumnTypes) {
            return new TaskState(epoch, nextJsonColumns, nextColumnTypes, specFingerprint, recopied);
        }
    }

    /**
     * The nodes and stores a processor is wired to.
     *
     * @param images the store of row images
     * @param schemas the store of the Debezium schemas the raw partition carried inline ({@link RawSchemas})
     * @param lookupRows the store of lookup rows, null without lookup dimensions
     * @param links the store of (lookup row, v1 row) links, null without lookup dimensions
     * @param held the store of rows waiting for lookup rows, null without lookup dimensions
     * @param lookupTopic the topic lookup changes for this table arrive on, null without lookup dimensions
     * @param v2Child the child node writing a v2 table, by v2 table name
     * @param deadLetterChild the child node writing the dead-letter topic
     * @param replayOutcomeChild the child node writing the replay-outcome topic
     * @param lookupChildren per dependent table, the child node writing its lookup topic and the columns it reads
     */
    public record Wiring(String images, String schemas, String lookupRows, String links, String held, String lookupTopic,
                         Function<String, String> v2Child, String deadLetterChild, String replayOutcomeChild,
                         Map<String, Map.Entry<String, Set<String>>> lookupChildren) {
    }

    private final String v1Table;
    private final String v1QualifiedTable;
    private final TableMapping mapping;
    private final Map<String, String> requiredColumns;
    /** The columns of this table that the tables using it as a lookup table read. */
    private final Set<String> lookupColumns;
    private final String specFingerprint;
    private final Dimensions dimensions;
    private final Wiring wiring;
    private final TenancySpec tenancy;
    private final MeterRegistry registry;
    private final Counter mapped;
    private final Counter deadLettered;
    private final Counter duplicates;
    private final Counter superseded;
    private final Counter swept;
    private final Map<String, Counter> dimensionOutcomes = new HashMap<>();
    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<Bytes, byte[]> images;
    /** Made anew at each init: a task revived after an aborted transaction must not trust what memory said was stored. */
    private RawSchemas schemas;
    private KeyValueStore<Bytes, byte[]> lookupRows;
    private KeyValueStore<Bytes, byte[]> links;
    private KeyValueStore<Bytes, byte[]> held;
    private TaskState state;

    /**
     * @param sourceSchema the v1 schema
     * @param v1Table the v1 table whose raw changes arrive here
     * @param mapping its compiled mapping
     * @param specFingerprint changes whenever the table's spec changes (the column types it needs are learned anew)
     * @param wiring the nodes and stores it uses
     * @param tenancy the spec's tenancy settings
     * @param registry receives the meters
     */
    public MapProcessor(String sourceSchema, String v1Table, TableMapping mapping, String specFingerprint, Wiring wiring,
                        TenancySpec tenancy, MeterRegistry registry) {
        this.v1Table = v1Table;
        this.v1QualifiedTable = sourceSchema + "." + v1Table;
        this.mapping = mapping;
        this.requiredColumns = mapping.requiredColumns();
        this.specFingerprint = specFingerprint;
        this.dimensions = mapping.dimensions();
        this.wiring = wiring;
        this.lookupColumns = wiring.lookupChildren().values().stream().flatMap(child -> child.getValue().stream())
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
        this.tenancy = tenancy;
        this.registry = registry;
        this.mapped = counter(registry, "mapped");
        this.deadLettered = counter(registry, "dead_lettered");
        this.duplicates = counter(registry, "duplicate");
        this.superseded = counter(registry, "superseded");
        this.swept = Counter.builder("migrator.transform.snapshot.swept.rows")
                .description("v1 rows missing from an initial snapshot taken again after a crash, whose v2 rows were deleted")
                .baseUnit("rows")
                .tag("table", v1Table)
                .register(registry);
        if (!dimensions.isEmpty()) {
            // Registered at zero, so that a dashboard shows every outcome before it first happens.
            List.of("tagged", "defaulted", "held", "released", "retagged", "dead_lettered").forEach(this::dimensionOutcome);
        }
    }

    private Counter counter(MeterRegistry registry, String outcome) {
        return Counter.builder("migrator.transform.records")
                .description("v1 change records processed by the transform, by outcome")
                .baseUnit("records")
                .tag("table", v1Table)
                .tag("outcome", outcome)
                .register(registry);
    }

    private Counter dimensionOutcome(String outcome) {
        return dimensionOutcomes.computeIfAbsent(outcome, o -> Counter.builder("migrator.transform.dimension.rows")
                .description("v1 rows by how their isolation dimensions were resolved")
                .baseUnit("rows")
                .tag("table", v1Table)
                .tag("outcome", o)
                .register(registry));
    }

    private void countDimensions(String outcome, ObjectNode values) {
        dimensionOutcome(outcome).increment();
        String tenantColumn = dimensions.tenantColumn();
        if (tenancy.metricsPerTenant() && tenantColumn != null && values != null && values.hasNonNull(tenantColumn)) {
            Counter.builder("migrator.transform.tenant.rows")
                    .description("v1 rows applied to v2, by tenant (only when tenancy.metricsPerTenant is on)")
                    .baseUnit("rows")
                    .tag("table", v1Table)
                    .tag("tenant", values.get(tenantColumn).asText())
                    .register(registry).increment();
        }
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.images = context.getStateStore(wiring.images());
        this.schemas = new RawSchemas(context.getStateStore(wiring.schemas()), v1Table);
        byte[] stored = images.get(TASK_STATE_KEY);
        TaskState known = stored == null ? null : TASK_STATE.deserialize(null, stored);
        this.state = known == null ? new TaskState(0, Set.of(), Map.of(), specFingerprint)
                : known.specFingerprint().equals(specFingerprint) ? known
                : new TaskState(known.epoch(), known.jsonColumns(), Map.of(), specFingerprint, known.recopied());
        if (wiring.lookupTopic() != null) {
            this.lookupRows = context.getStateStore(wiring.lookupRows());
            this.links = context.getStateStore(wiring.links());
            this.held = context.getStateStore(wiring.held());
            Duration hold = Duration.ofSeconds(tenancy.holdSeconds());
            Duration every = hold.compareTo(MAX_EXPIRY_CHECK) < 0 ? hold : MAX_EXPIRY_CHECK;
            context.schedule(every.isZero() ? Duration.ofSeconds(1) : every, PunctuationType.WALL_CLOCK_TIME, this::expireHeld);
        }
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
        RecordMetadata meta = context.recordMetadata().orElseThrow();
        if (meta.topic().equals(wiring.lookupTopic())) {
            applyLookup(LOOKUP.deserialize(meta.topic(), record.value()), record.timestamp());
            return;
        }
        boolean replay = ReplayOutcome.isReplay(record.headers());
        Original original = new Original(record, schemas);
        List<RawChange.Keyed> changes;
        try {
            changes = schemas.parse(record);
        } catch (RuntimeException e) {
            deadLetterFailure(meta, original.key(), original.value(), record.timestamp(), e);
            reportReplay(replay, meta, Outcome.FAILED_AGAIN, record.timestamp());
            return;
        }
        Outcome outcome = null;
        for (RawChange.Keyed keyed : changes) {
            Outcome one;
            try {
                one = process(keyed, meta, record, original, replay);
            } catch (SchemaChangedException e) {
                throw e;
            } catch (RuntimeException | IOException e) {
                if (keyed.change().applied()) {
                    // The backfill mapped this row with the same code, failed the same way and sent the dead letter.
                    LOGGER.debug("table={}: backfilled row not mapped: {}", v1Table, e.getMessage());
                    continue;
                }
                deadLetterFailure(meta, keyed.key(original.key()), keyed.value(original.value()), record.timestamp(), e);
                one = Outcome.FAILED_AGAIN;
            }
            // A record of several changes (a backfill batch) reports the least settled of them.
            outcome = outcome == null || one.ordinal() > outcome.ordinal() ? one : outcome;
        }
        if (outcome != null) {
            reportReplay(replay, meta, outcome, record.timestamp());
        }
    }

    /** Tells {@code migrator dlq replay} what became of a replayed record, in the transaction of its outputs. */
    private void reportReplay(boolean replay, RecordMetadata meta, Outcome outcome, long timestamp) {
        if (!replay) {
            return;
        }
        String id = ReplayOutcome.id(meta.topic(), meta.partition(), meta.offset());
        context.forward(new Record<>(id.getBytes(StandardCharsets.UTF_8),
                OUTCOME.serialize(null, new ReplayOutcome(id, "transform", v1Table, outcome)), timestamp), wiring.replayOutcomeChild());
    }

    /**
     * A change its row has already been through: after a capture restart a duplicate; from {@code migrator dlq replay}
     * a dead letter its row has moved past since (updated or deleted on v1 after it), superseded.
     */
    private Outcome dropped(boolean replay) {
        (replay ? superseded : duplicates).increment();
        return Outcome.SUPERSEDED;
    }

    /**
     * Processes one change of the record (a batch of backfilled rows holds several); what it holds or dead-letters is
     * that change alone.
     */
    private Outcome process(RawChange.Keyed keyed, RecordMetadata meta, Record<byte[], byte[]> record, Original original,
                            boolean replay) throws IOException {
        RawChange change = keyed.change();
        JsonNode v1Key = keyed.v1Key();
        if (change.source().snapshot() && change.source().lsn() > state.epoch() || !change.jsonColumns().equals(state.jsonColumns())) {
            saveState(new TaskState(Math.max(state.epoch(), change.source().snapshot() ? change.source().lsn() : 0),
                    change.jsonColumns(), state.columnTypes(), specFingerprint, state.recopied()));
        }
        if (change.op() == Op.TRUNCATE) {
            truncate(change.source(), record.timestamp());
            return Outcome.APPLIED;
        }
        if (change.op() != Op.DELETE) {
            checkColumns(change, v1Key);
        }
        if (v1Key == null) {
            return keyless(change, record.timestamp(), replay);
        }
        Bytes imageKey = Bytes.wrap(Json.MAPPER.writeValueAsBytes(v1Key));
        byte[] stored = images.get(imageKey);
        StoredImage previous = stored == null ? null : StoredImage.read(stored);
        HeldRow waiting = heldRow(imageKey);
        StreamPosition position = StreamPosition.of(change.source(), state.epoch());
        StreamPosition last = waiting != null ? waiting.position() : previous == null ? null : previous.position();
        if (last != null && position.replayOf(last)) {
            // Capture is at-least-once: after a crash it re-reads changes this row has already been through.
            return dropped(replay);
        }
        SnapshotCompleted.Recopied recopied = recopied(change.source(), v1Key);
        if (recopied != null) {
            if (change.op() == Op.DELETE && previous != null && previous.row() != null && previous.position().snapshot()
                    && previous.position().lsn() < recopied.copiedLsn()) {
                // The resumed copy's snapshot saw this delete and copied nothing for the row: the image was sent by
                // a copy interrupted before its chunk committed, and must not outlive the row.
                sendLookupChange(v1Key, previous.row(), null, position, change.source(), record.timestamp());
                images.put(imageKey, new StoredImage(position, null).bytes());
            }
            return dropped(replay);
        }
        if (change.op() == Op.DELETE) {
            if (waiting != null) {
                held.delete(imageKey);
            }
            apply(change, v1Key, imageKey, previous, position, null, record.timestamp());
            return Outcome.APPLIED;
        }
        ObjectNode newest = waiting != null ? waiting.image() : previous == null ? null : previous.row();
        // A read (Debezium's snapshot or the copy) selected the row, so it has every value: nothing to fill.
        ObjectNode image = change.op() == Op.READ ? change.after() : mapping.fillUnchangedToast(change.after(), newest);
        // Before the dimensions resolve: a lookup must not be made with a value the change does not carry.
        mapping.requireAvailable(change.op(), image, v1Key, waiting == null && previous != null && previous.row() == null, lookupColumns);
        RawChange filled = new RawChange(change.op(), change.before(), image, change.source(), change.jsonColumns(),
                change.columnTypes(), change.applied());
        if (dimensions.isEmpty()) {
            apply(filled, v1Key, imageKey, previous, position, JsonNodeFactory.instance.objectNode(), record.timestamp());
            return Outcome.APPLIED;
        }
        link(imageKey, image);
        ObjectNode copiedDimensions = keyed.backfilled() == null || !change.applied() ? null : keyed.backfilled().dimensions();
        if (copiedDimensions != null) {
            // v2 holds the copied row under the dimensions the copy resolved from its snapshot's lookup rows. This task's
            // lookup rows may not have reached that snapshot yet, or be past it (the lookup table streams on while the
            // row waits here): kept under the key v2 has, the row moves from there, now or when its lookup rows arrive.
            if (waiting != null) {
                held.delete(imageKey);
            }
            countDimensions("tagged", copiedDimensions);
            apply(filled, v1Key, imageKey, previous, position, copiedDimensions, record.timestamp());
            LookupChange known = newestLookup(image);
            // Only a lookup row changed after the copy's read moves the row: one read by an earlier snapshot (of an
            // interrupted copy) is not newer than what the copy saw, and moving to it would write v2 mid-copy.
            if (known != null && known.position().compareTo(position) > 0) {
                rekey(imageKey, known, record.timestamp());
            }
            return Outcome.APPLIED;
        }
        Dimensions.Resolution resolution = resolve(image, tenancy.holdSeconds() == 0);
        if (resolution.waiting()) {
            hold(imageKey, new HeldRow(change.op(), image, change.source(), position,
                    waiting != null ? waiting.sinceMs() : System.currentTimeMillis(),
                    meta.topic(), meta.partition(), meta.offset(), keyed.key(original.key()), keyed.value(original.value())), resolution);
            return Outcome.HELD;
        }
        if (waiting != null) {
            held.delete(imageKey);
        }
        if (resolution.unresolved() != null) {
            deadLetter(meta.topic(), meta.partition(), meta.offset(), keyed.key(original.key()), keyed.value(original.value()),
                    record.timestamp(), resolution.unresolvedColumn(), resolution.unresolved());
            countDimensions("dead_lettered", null);
            return Outcome.FAILED_AGAIN;
        }
        countDimensions(resolution.defaulted().isEmpty() ? "tagged" : "defaulted", resolution.values());
        apply(filled, v1Key, imageKey, previous, position, resolution.values(), record.timestamp());
        return Outcome.APPLIED;
    }

    /**
     * A change of a table without a primary key (Debezium's record has no key): mapped by its values alone (see
     * {@link TableMapping#mapKeyless}). Only its position is kept. A snapshot taken again after a crash reads every
     * row again, and v2 already holds those an earlier snapshot or change wrote: no key tells them apart, so the v2
     * rows of this table are removed (a truncate) before the first row of a newer snapshot is inserted.
     */
    private Outcome keyless(RawChange change, long timestamp, boolean replay) throws IOException {
        byte[] stored = images.get(KEYLESS_KEY);
        StreamPosition last = stored == null ? null : StoredImage.read(stored).position();
        StreamPosition position = StreamPosition.of(change.source(), state.epoch());
        if (replay) {
            // A replayed letter has no row to be superseded by: v2 gets it now, and the table's position stays.
            forward(mapping.mapKeyless(change), timestamp);
            mapped.increment();
            return Outcome.APPLIED;
        }
        if (last != null && position.replayOf(last)) {
            return dropped(false);
        }
        if (recopied(change.source(), null) != null) {
            // The resumed copy took the whole table from a snapshot that sees this change: no key tells its row in
            // v2, so applying it again would double an insert or remove a second identical row.
            return dropped(false);
        }
        List<V2Change> out = new ArrayList<>();
        if (last != null && change.source().snapshot() && last.compareTo(StreamPosition.snapshotAt(state.epoch())) < 0) {
            out.addAll(mapping.truncateKeyless(change.source()));
        }
        out.addAll(mapping.mapKeyless(change));
        forward(out, timestamp);
        images.put(KEYLESS_KEY, new StoredImage(position, null).bytes());
        mapped.increment();
        return Outcome.APPLIED;
    }

    private void deadLetterFailure(RecordMetadata meta, byte[] key, byte[] value, long timestamp, Exception failure) {
        if (failure instanceof MappingException e) {
            deadLetter(meta.topic(), meta.partition(), meta.offset(), key, value, timestamp, e.column(), e.getMessage());
        } else {
            deadLetter(meta.topic(), meta.partition(), meta.offset(), key, value, timestamp, null, failure.toString());
        }
    }

    /**
     * The recopied range, if a streamed change is already in v2 because the copy backfill took its row's key range from a snapshot
     * that sees the change's transaction (a backfill resumed after a crash; see {@link SnapshotCompleted#recopied()}).
     *
     * @param v1Key the row's key; null for a change of a table without a primary key, or a truncate, which only a
     *              whole-table range holds
     */
    private SnapshotCompleted.Recopied recopied(SourcePosition source, JsonNode v1Key) {
        if (state.recopied().isEmpty() || source.snapshot() || source.txId() == null) {
            return null;
        }
        Long integerKey = v1Key != null && v1Key.size() == 1 && v1Key.elements().next().canConvertToExactIntegral()
                ? v1Key.elements().next().longValue() : null;
        for (SnapshotCompleted.Recopied range : state.recopied()) {
            if (range.holds(integerKey) && range.sees(source.txId())) {
                return range;
            }
        }
        return null;
    }

    /**
     * Stops the transform when v1 dropped or retyped a column the spec needs (see {@link SchemaChangedException});
     * learns the types of needed columns it has not seen yet. Columns the spec does not need may come and go.
     */
    private void checkColumns(RawChange change, JsonNode v1Key) {
        if (change.columnTypes().isEmpty()) {
            return;
        }
        Map<String, String> learned = null;
        for (Map.Entry<String, String> required : requiredColumns.entrySet()) {
            String column = required.getKey();
            String type = change.columnTypes().get(column);
            String where = " at LSN " + change.source().lsn() + " (key " + v1Key + "), needed by " + required.getValue();
            if (type == null) {
                throw new SchemaChangedException("transform stopped: v1 table " + v1QualifiedTable + " no longer has column "
                        + column + where + ". Nothing of this change or later ones was written to v2. Map tables."
                        + v1Table + " without it (or restore the column on v1), then restart the transform: it resumes"
                        + " from this change.");
            }
            String known = state.columnTypes().get(column);
            if (known == null) {
                learned = learned == null ? new java.util.TreeMap<>(state.columnTypes()) : learned;
                learned.put(column, type);
            } else if (!known.equals(type)) {
                throw new SchemaChangedException("transform stopped: v1 column " + v1QualifiedTable + "." + column
                        + " changed type from " + known + " to " + type + where + ". Nothing of this change or later"
                        + " ones was written to v2. Check that the spec's tables." + v1Table + " still maps it right,"
                        + " change tables." + v1Table + " (any change makes the transform accept the new type), then"
                        + " restart the transform: it resumes from this change.");
            }
        }
        if (learned != null) {
            saveState(state.withTypes(state.jsonColumns(), learned));
        }
    }

    /**
     * Maps a change whose dimensions are resolved (or a delete), forwards the v2 changes and, as a lookup table, the
     * lookup change; then keeps the new image.
     */
    private void apply(RawChange change, JsonNode v1Key, Bytes imageKey, StoredImage previous, StreamPosition position,
                       ObjectNode dimensionValues, long timestamp) throws IOException {
        ObjectNode previousRow = previous == null ? null : previous.row();
        ObjectNode previousDimensions = previous == null ? JsonNodeFactory.instance.objectNode() : previous.dimensions();
        ObjectNode values = dimensionValues == null ? JsonNodeFactory.instance.objectNode() : dimensionValues;
        if (change.applied()) {
            // The backfill wrote this row's v2 rows with the same mapping: only its image and position are kept.
            sendLookupChange(v1Key, previousRow, change.after(), position, change.source(), timestamp);
            images.put(imageKey, new StoredImage(position, change.after(), values).bytes());
            mapped.increment();
            return;
        }
        TableMapping.Result result = mapping.map(change, v1Key, previousRow, previousDimensions, values);
        sendLookupChange(v1Key, previousRow, result.image(), position, change.source(), timestamp);
        forward(result.changes(), timestamp);
        images.put(imageKey, new StoredImage(position, result.image(), result.image() == null ? JsonNodeFactory.instance.objectNode() : values).bytes());
        mapped.increment();
    }

    private void forward(List<V2Change> changes, long timestamp) throws IOException {
        for (V2Change v2 : changes) {
            context.forward(new Record<>(Json.MAPPER.writeValueAsBytes(v2.key()), V2.serialize(null, v2), timestamp),
                    wiring.v2Child().apply(v2.table()));
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // This table as a lookup table of others
    // ------------------------------------------------------------------------------------------------------------

    /** Tells every dependent table about a change of the columns it reads; changes of other columns are not sent. */
    private void sendLookupChange(JsonNode v1Key, ObjectNode before, ObjectNode after, StreamPosition position,
                                  SourcePosition source, long timestamp) throws IOException {
        if (wiring.lookupChildren().isEmpty()) {
            return;
        }
        JsonNode key = lookupKey(v1Key);
        for (Map.Entry<String, Map.Entry<String, Set<String>>> dependent : wiring.lookupChildren().entrySet()) {
            Set<String> columns = dependent.getValue().getValue();
            ObjectNode was = before == null ? null : only(before, columns);
            ObjectNode now = after == null ? null : only(after, columns);
            if (Objects.equals(was, now) && before != null) {
                continue;
            }
            LookupChange change = new LookupChange(v1Table, key, now, position, source);
            context.forward(new Record<>(Json.MAPPER.writeValueAsBytes(key), LOOKUP.serialize(null, change), timestamp),
                    dependent.getValue().getKey());
        }
    }

    private JsonNode lookupKey(JsonNode v1Key) {
        if (v1Key.size() != 1) {
            throw new MappingException(null, "lookup table " + v1Table + " needs a single-column primary key, it has " + Rows.names(v1Key));
        }
        return v1Key.elements().next();
    }

    private static ObjectNode only(ObjectNode row, Set<String> columns) {
        ObjectNode picked = JsonNodeFactory.instance.objectNode();
        columns.forEach(c -> picked.set(c, row.get(c)));
        return picked;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Dimensions read from lookup rows: links, holding, releasing, re-keying
    // ------------------------------------------------------------------------------------------------------------

    private Dimensions.Resolution resolve(ObjectNode image, boolean waited) {
        return dimensions.resolve(image, Rows.parsed(image, state.jsonColumns()), this::lookupRow, waited);
    }

    private ObjectNode lookupRow(Dimensions.LookupRef ref) {
        if (lookupRows == null) {
            return null;
        }
        byte[] stored = lookupRows.get(bytes(ref.id()));
        return stored == null ? null : LOOKUP.deserialize(null, stored).row();
    }

    /** Records that the row at {@code imageKey} reads the lookup rows its image refers to. */
    private void link(Bytes imageKey, ObjectNode image) {
        if (links == null) {
            return;
        }
        for (Dimensions.LookupRef ref : dimensions.refs(image)) {
            links.put(linkKey(ref, imageKey), new byte[0]);
        }
    }

    /** Of the lookup rows {@code image} reads, the one this task learned last (by position); null if it knows none. */
    private LookupChange newestLookup(ObjectNode image) {
        LookupChange newest = null;
        for (Dimensions.LookupRef ref : dimensions.refs(image)) {
            byte[] stored = lookupRows == null ? null : lookupRows.get(bytes(ref.id()));
            LookupChange known = stored == null ? null : LOOKUP.deserialize(null, stored);
            if (known != null && (newest == null || known.position().compareTo(newest.position()) > 0)) {
                newest = known;
            }
        }
        return newest;
    }

    private void hold(Bytes imageKey, HeldRow row, Dimensions.Resolution resolution) {
        held.put(imageKey, HELD.serialize(null, row));
        countDimensions("held", null);
        LOGGER.debug("holding table={} key={} until {} arrive", v1Table, imageKey, resolution.waitingFor());
    }

    private HeldRow heldRow(Bytes imageKey) {
        if (held == null) {
            return null;
        }
        byte[] bytes = held.get(imageKey);
        return bytes == null ? null : HELD.deserialize(null, bytes);
    }

    /** A lookup row changed: store it, then release the rows waiting for it and re-key the rows that read it. */
    private void applyLookup(LookupChange change, long timestamp) {
        Bytes id = bytes(change.ref().id());
        byte[] stored = lookupRows.get(id);
        if (stored != null && change.position().replayOf(LOOKUP.deserialize(null, stored).position())) {
            return;
        }
        lookupRows.put(id, LOOKUP.serialize(null, change));
        List<Bytes> dependents = new ArrayList<>();
        byte[] prefix = (change.ref().id() + '\u0000').getBytes(StandardCharsets.UTF_8);
        try (KeyValueIterator<Bytes, byte[]> linked = links.prefixScan(Bytes.wrap(prefix), new BytesSerializer())) {
            while (linked.hasNext()) {
                byte[] key = linked.next().key.get();
                dependents.add(Bytes.wrap(java.util.Arrays.copyOfRange(key, prefix.length, key.length)));
            }
        }
        for (Bytes imageKey : dependents) {
            try {
                HeldRow waiting = heldRow(imageKey);
                if (waiting != null) {
                    release(imageKey, waiting, false, timestamp);
                } else {
                    rekey(imageKey, change, timestamp);
                }
            } catch (MappingException | IOException | UncheckedIOException e) {
                LOGGER.warn("table={} key={}: cannot apply lookup change of {} {}: {}", v1Table, imageKey, change.table(), change.key(), e.getMessage());
            }
        }
    }

    /**
     * Applies a held row if its dimensions resolve now; when {@code waited}, what is still unknown takes its default
     * or makes the row a dead letter.
     */
    private void release(Bytes imageKey, HeldRow row, boolean waited, long timestamp) throws IOException {
        Dimensions.Resolution resolution = resolve(row.image(), waited);
        if (resolution.waiting()) {
            return;
        }
        held.delete(imageKey);
        if (resolution.unresolved() != null) {
            deadLetter(row.topic(), row.partition(), row.offset(), row.key(), row.value(), timestamp,
                    resolution.unresolvedColumn(), resolution.unresolved());
            countDimensions("dead_lettered", null);
            return;
        }
        byte[] stored = images.get(imageKey);
        StoredImage previous = stored == null ? null : StoredImage.read(stored);
        JsonNode v1Key = Json.MAPPER.readTree(imageKey.get());
        RawChange change = new RawChange(row.op(), null, row.image(), row.source(), state.jsonColumns());
        countDimensions(resolution.defaulted().isEmpty() ? "released" : "defaulted", resolution.values());
        apply(change, v1Key, imageKey, previous, row.position(), resolution.values(), timestamp);
    }

    /** Re-resolves an applied row after a lookup row it reads changed; a different value moves it to its new key. */
    private void rekey(Bytes imageKey, LookupChange cause, long timestamp) throws IOException {
        byte[] stored = images.get(imageKey);
        StoredImage current = stored == null ? null : StoredImage.read(stored);
        if (current == null || current.row() == null) {
            return;
        }
        Dimensions.Resolution resolution = resolve(current.row(), false);
        if (resolution.values() == null || resolution.values().equals(current.dimensions())) {
            // Still unknown (the lookup row was deleted) or unchanged: the row keeps the dimensions it has.
            return;
        }
        JsonNode v1Key = Json.MAPPER.readTree(imageKey.get());
        SourcePosition source = new SourcePosition(v1QualifiedTable, cause.source().lsn(), cause.source().lastCommitLsn(),
                cause.source().txId(), cause.source().tsMs(), false);
        RawChange change = new RawChange(Op.UPDATE, null, current.row(), source, state.jsonColumns());
        forward(mapping.map(change, v1Key, current.row(), current.dimensions(), resolution.values()).changes(), timestamp);
        images.put(imageKey, new StoredImage(current.position(), current.row(), resolution.values()).bytes());
        countDimensions("retagged", resolution.values());
    }

    /** Releases, with their defaults or as dead letters, the rows that waited longer than {@code tenancy.holdSeconds}. */
    private void expireHeld(long now) {
        long deadline = now - tenancy.holdSeconds() * 1000L;
        List<KeyValue<Bytes, HeldRow>> expired = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> all = held.all()) {
            while (all.hasNext()) {
                KeyValue<Bytes, byte[]> entry = all.next();
                HeldRow row = HELD.deserialize(null, entry.value);
                if (row.sinceMs() <= deadline) {
                    expired.add(KeyValue.pair(entry.key, row));
                }
            }
        }
        for (KeyValue<Bytes, HeldRow> entry : expired) {
            try {
                release(entry.key, entry.value, true, now);
            } catch (IOException | RuntimeException e) {
                held.delete(entry.key);
                deadLetter(entry.value.topic(), entry.value.partition(), entry.value.offset(), entry.value.key(),
                        entry.value.value(), now, e instanceof MappingException m ? m.column() : null, e.getMessage());
            }
        }
    }

    private static Bytes linkKey(Dimensions.LookupRef ref, Bytes imageKey) {
        byte[] prefix = (ref.id() + '\u0000').getBytes(StandardCharsets.UTF_8);
        byte[] key = new byte[prefix.length + imageKey.get().length];
        System.arraycopy(prefix, 0, key, 0, prefix.length);
        System.arraycopy(imageKey.get(), 0, key, prefix.length, imageKey.get().length);
        return Bytes.wrap(key);
    }

    private static Bytes bytes(String text) {
        return Bytes.wrap(text.getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Snapshots taken again
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Ends the snapshot at {@code marker} on this partition: every stored row not read by it (and not changed since)
     * no longer existed on v1 when it was taken, so the v2 rows it produced are deleted, and rows still waiting from
     * before it are forgotten. On a first snapshot the store holds nothing older, and this finds nothing.
     */
    private void completeSnapshot(SnapshotCompleted marker, long timestamp) {
        long snapshotLsn = marker.snapshotLsn();
        if (snapshotLsn < state.epoch()) {
            LOGGER.warn("ignoring a snapshot-completed marker for LSN {} older than the current snapshot at LSN {} (table {})",
                    snapshotLsn, state.epoch(), v1Table);
            return;
        }
        List<SnapshotCompleted.Recopied> recopied = marker.recopied().stream().filter(r -> r.table().equals(v1QualifiedTable)).toList();
        saveState(state.withEpoch(snapshotLsn, snapshotLsn == state.epoch() && recopied.isEmpty() ? state.recopied() : recopied));
        StreamPosition superseded = StreamPosition.snapshotAt(snapshotLsn);
        if (marker.keyless().contains(v1QualifiedTable) && context.recordMetadata().map(RecordMetadata::partition).orElse(-1) == RawPartitions.KEYLESS) {
            // The copy wrote this table's rows to v2 and sent none here: without an entry at its snapshot a later v1
            // TRUNCATE would find nothing of the table to delete, and this marker's own truncate (below) must not
            // delete what the copy wrote.
            byte[] stored = images.get(KEYLESS_KEY);
            if (stored == null || StoredImage.read(stored).position().compareTo(superseded) < 0) {
                images.put(KEYLESS_KEY, new StoredImage(superseded, null).bytes());
            }
        }
        SourcePosition at = new SourcePosition(v1QualifiedTable, snapshotLsn, null, null, marker.tsMs(), false);
        truncateKeyless(superseded, at, timestamp);
        int gone = sweep(superseded, at, timestamp);
        swept.increment(gone);
        LOGGER.info("snapshot at LSN {} complete for table {}: {} rows it did not read deleted from v2", snapshotLsn, v1Table, gone);
    }

    /**
     * A TRUNCATE on v1: every row applied before it is deleted from v2 (a replayed truncate finds only newer rows).
     * One the snapshot of a whole recopied table sees is skipped: every row that snapshot copied came after it.
     */
    private void truncate(SourcePosition source, long timestamp) {
        if (recopied(source, null) != null) {
            LOGGER.info("v1 TRUNCATE of table {} at LSN {} skipped: the resumed copy's snapshot saw it", v1Table, source.lsn());
            return;
        }
        truncateKeyless(StreamPosition.of(source, state.epoch()), source, timestamp);
        int gone = sweep(StreamPosition.of(source, state.epoch()), source, timestamp);
        LOGGER.info("v1 TRUNCATE of table {} at LSN {}: {} rows deleted from v2", v1Table, source.lsn(), gone);
    }

    /**
     * For a table without a primary key whose last change here is older than {@code before} (a v1 truncate, or a
     * snapshot taken again that read none of its rows), deletes every v2 row it produced. Only the partition its
     * changes go to holds its entry, so the truncate that reaches every partition is applied once.
     */
    private void truncateKeyless(StreamPosition before, SourcePosition source, long timestamp) {
        byte[] stored = images.get(KEYLESS_KEY);
        if (stored == null || StoredImage.read(stored).position().compareTo(before) >= 0) {
            return;
        }
        try {
            forward(mapping.truncateKeyless(source), timestamp);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        images.put(KEYLESS_KEY, new StoredImage(before, null).bytes());
        LOGGER.info("v2 rows of table {} (no primary key) deleted at LSN {}", v1Table, source.lsn());
    }

    /**
     * Deletes from v2 the rows of every stored v1 row whose last change is older than {@code before}, keeping a
     * tombstone at {@code before}, and forgets the rows waiting from before it.
     *
     * @return how many rows were deleted
     */
    private int sweep(StreamPosition before, SourcePosition source, long timestamp) {
        List<KeyValue<Bytes, StoredImage>> gone = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> all = images.all()) {
            while (all.hasNext()) {
                KeyValue<Bytes, byte[]> entry = all.next();
                if (entry.key.equals(TASK_STATE_KEY)) {
                    continue;
                }
                StoredImage image = StoredImage.read(entry.value);
                if (image.row() != null && image.position().compareTo(before) < 0) {
                    gone.add(KeyValue.pair(entry.key, image));
                }
            }
        }
        if (held != null) {
            List<Bytes> stale = new ArrayList<>();
            try (KeyValueIterator<Bytes, byte[]> all = held.all()) {
                all.forEachRemaining(entry -> {
                    if (HELD.deserialize(null, entry.value).position().compareTo(before) < 0) {
                        stale.add(entry.key);
                    }
                });
            }
            stale.forEach(held::delete);
        }
        for (KeyValue<Bytes, StoredImage> entry : gone) {
            try {
                JsonNode v1Key = Json.MAPPER.readTree(entry.key.get());
                RawChange delete = new RawChange(Op.DELETE, entry.value.row(), null, source, state.jsonColumns());
                TableMapping.Result result = mapping.map(delete, v1Key, entry.value.row(), entry.value.dimensions(), JsonNodeFactory.instance.objectNode());
                sendLookupChange(v1Key, entry.value.row(), null, before, source, timestamp);
                forward(result.changes(), timestamp);
            } catch (IOException e) {
                throw new UncheckedIOException("unreadable image store key in " + wiring.images(), e);
            }
            images.put(entry.key, new StoredImage(before, null).bytes());
        }
        return gone.size();
    }

    private void saveState(TaskState next) {
        state = next;
        images.put(TASK_STATE_KEY, TASK_STATE.serialize(null, next));
    }

    /**
     * The raw record as a dead letter or a held row keeps it: key and value with their schemas inline, so that a replay
     * reads it on its own. Inlined only when asked: most records are never dead-lettered.
     */
    private record Original(Record<byte[], byte[]> record, RawSchemas schemas) {

        byte[] key() {
            return schemas.inline(record.key(), SchemaReferences.referenced(record.headers(), SchemaReferences.KEY_HEADER));
        }

        byte[] value() {
            return schemas.inline(record.value(), SchemaReferences.referenced(record.headers(), SchemaReferences.VALUE_HEADER));
        }
    }

    private void deadLetter(String topic, int partition, long offset, byte[] key, byte[] value, long timestamp,
                            String column, String reason) {
        DeadLetter letter = DeadLetter.of("transform", topic, partition, offset, v1Table, key, column, reason, value);
        LOGGER.warn("dead-lettered table={} topic={} partition={} offset={} column={} reason={}",
                v1Table, topic, partition, offset, column, reason);
        context.forward(new Record<>(key, DEAD.serialize(null, letter), timestamp), wiring.deadLetterChild());
        deadLettered.increment();
    }
}
