package dev.cdcmigrator.sink.internal;

import dev.cdcmigrator.avro.SchemaRegistryException;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.WrittenBy;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.event.ReplayOutcome.Outcome;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.JdbcUrl;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.sink.SinkState;
import dev.cdcmigrator.sink.TargetConstraints;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink's consumer loop: poll, reduce by key, apply in one transaction together with the offsets, retry the
 * batch while the target is unreachable, and isolate rows the target refuses into the dead-letter topic. A record that
 * is no v2 change, or names another table than its topic's or a column the spec does not write ({@link SpecWrites}),
 * is dead-lettered without being written. A dead
 * letter replayed by {@code migrator dlq replay} is applied only when it is newer than every change applied to its row
 * since ({@link DeadLetteredRows}); else it is superseded. Either way its outcome goes to the replay-outcome topic.
 */
public final class SinkLoop implements Runnable {

    private static final Logger LOGGER = LoggerFactory.getLogger(SinkLoop.class);
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final JsonSerde<ReplayOutcome> OUTCOME = JsonSerde.of(ReplayOutcome.class);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    /**
     * How to reach the target.
     *
     * @param migration the migration's id ({@code kafka.topicPrefix}), which marks the state schema
     */
    public record Target(String url, String user, String password, String schema, String stateSchema, String migration) {
    }

    private final Target target;
    private final Consumer<byte[], byte[]> consumer;
    private final Producer<byte[], byte[]> deadLetterProducer;
    private final String deadLetterTopic;
    private final String replayOutcomeTopic;
    private final Collection<String> topics;
    private final OffsetStore offsets;
    private final DeadLetteredRows deadLettered;
    private final BatchWriter writer;
    private final SinkMeters meters;
    private final RowLevelSecurity rowLevelSecurity;
    private final TargetConstraints constraints;
    private final V2Decoder decoder;
    private SpecWrites specWrites;
    /** The last known lag (end offset minus position) of each assigned partition; only the sink thread uses it. */
    private final Map<TopicPartition, Long> partitionLag = new HashMap<>();
    private final CountDownLatch stopping = new CountDownLatch(1);
    private volatile boolean running;
    private Connection connection;

    public SinkLoop(Target target, String group, Collection<String> topics, Consumer<byte[], byte[]> consumer,
                    Producer<byte[], byte[]> deadLetterProducer, String deadLetterTopic, String replayOutcomeTopic,
                    SinkMeters meters, RowLevelSecurity rowLevelSecurity, TargetConstraints constraints, V2Decoder decoder,
                    SpecWrites specWrites) {
        this.target = target;
        this.consumer = consumer;
        this.deadLetterProducer = deadLetterProducer;
        this.deadLetterTopic = deadLetterTopic;
        this.replayOutcomeTopic = replayOutcomeTopic;
        this.topics = List.copyOf(topics);
        this.offsets = new OffsetStore(target.stateSchema(), target.migration(), group);
        this.deadLettered = new DeadLetteredRows(target.stateSchema(), target.migration(), group);
        this.writer = new BatchWriter(target.schema());
        this.meters = meters;
        this.rowLevelSecurity = rowLevelSecurity;
        this.constraints = constraints;
        this.decoder = decoder;
        this.specWrites = specWrites;
    }

    /** Whether the loop has connected and is consuming. */
    public boolean running() {
        return running;
    }

    /** Asks the loop to finish the batch in flight and return. */
    public void stop() {
        stopping.countDown();
        consumer.wakeup();
    }

    @Override
    public void run() {
        boolean interrupted = false;
        try {
            connection = connectWithRetry();
            offsets.createIfAbsent(connection);
            deadLettered.createIfAbsent(connection);
            // Before the first write to a state table: a planted trigger would run on it with the sink's privileges.
            Refusal.throwIfAny("sink", SinkState.refusals(connection, target.stateSchema(), target.migration()));
            rowLevelSecurity.apply(connection);
            constraints.suspend(connection);
            specWrites = specWrites.withUniqueKeys(connection, target.schema());
            consumer.subscribe(topics, new SeekToStoredOffsets());
            running = true;
            LOGGER.info("sink started topics={} target={}", topics, JdbcUrl.shown(target.url()));
            while (stopping.getCount() > 0) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
                if (!records.isEmpty()) {
                    measureLag(records);
                    applyWithRetry(records);
                }
                measureLag(null);
            }
        } catch (WakeupException e) {
            if (stopping.getCount() > 0) {
                meters.failed();
                throw e;
            }
        } catch (InterruptedException e) {
            // Stopped during a retry: the clients below close as on any stop (an interrupted thread could not
            // close them), then the interrupt is passed on.
            interrupted = true;
        } catch (SQLException e) {
            meters.failed();
            throw new IllegalStateException("sink cannot use the target " + JdbcUrl.shown(target.url()) + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            meters.failed();
            throw e;
        } finally {
            running = false;
            closeConnection();
            try {
                consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(10)));
            } finally {
                deadLetterProducer.close(Duration.ofSeconds(10));
            }
            LOGGER.info("sink stopped");
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void applyWithRetry(ConsumerRecords<byte[], byte[]> records) throws InterruptedException {
        Map<TopicPartition, Long> applied = Map.of();
        boolean reconnected = false;
        Duration backoff = Duration.ofMillis(100);
        while (true) {
            try {
                if (reconnected) {
                    // A commit whose acknowledgement was lost changed them too.
                    deadLettered.load(connection, consumer.assignment());
                    reconnected = false;
                }
                Batch batch = new Batch(records, applied);
                meters.batchInFlight(batch.oldestSourceTsMs);
                if (!batch.nextOffsets.isEmpty()) {
                    apply(batch);
                }
                consumer.commitAsync(toCommit(nextOffsets(records)), null);
                return;
            } catch (SchemaRegistryException e) {
                rollbackQuietly();
                if (!V2Decoder.isTransient(e)) {
                    throw new IllegalStateException("sink cannot read the Avro v2 records: " + e.getMessage(), e);
                }
                meters.retried();
                LOGGER.warn("schema registry unavailable, retrying the batch in {} ms: {}", backoff.toMillis(), e.getMessage());
                if (stopping.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new InterruptedException("stopped while the schema registry was unavailable; the batch was not applied");
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            } catch (SQLException e) {
                rollbackQuietly();
                if (!Retry.isTransient(e)) {
                    throw new IllegalStateException("sink failed on the target outside any row: " + e.getMessage(), e);
                }
                meters.retried();
                LOGGER.warn("target unavailable, retrying the batch in {} ms: {}", backoff.toMillis(), describe(e));
                if (stopping.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new InterruptedException("stopped while the target was unavailable; the batch was not applied");
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
                closeConnection();
                connection = connectWithRetry();
                // The commit may have succeeded with only its acknowledgement lost: what the target stored says
                // which records of this batch it already holds.
                applied = storedOffsets(records.partitions());
                reconnected = true;
            }
        }
    }

    private Map<TopicPartition, Long> storedOffsets(Collection<TopicPartition> partitions) {
        try {
            return offsets.read(connection, partitions);
        } catch (SQLException e) {
            LOGGER.warn("cannot read the stored offsets after reconnecting ({}); the whole batch is retried", e.getMessage());
            return Map.of();
        }
    }

    /**
     * Records behind per table: for each assigned partition the consumer's own lag (last stable offset minus its
     * position, from the metadata of its last fetch: no request), plus the records of {@code inFlight}, the polled
     * batch not yet committed. A table with a partition whose lag is not known yet is left unmeasured; a table with
     * no partition assigned to this sink has nothing behind here.
     */
    private void measureLag(ConsumerRecords<byte[], byte[]> inFlight) {
        Set<TopicPartition> assignment = consumer.assignment();
        if (assignment.isEmpty()) {
            return;
        }
        Map<String, Long> behind = new HashMap<>();
        topics.forEach(t -> behind.put(tableOf(t), 0L));
        Set<String> unknown = new HashSet<>();
        for (TopicPartition tp : assignment) {
            OptionalLong lag = consumer.currentLag(tp);
            if (lag.isPresent()) {
                partitionLag.put(tp, lag.getAsLong());
            }
            Long known = partitionLag.get(tp);
            if (known == null) {
                unknown.add(tableOf(tp.topic()));
            } else {
                behind.merge(tableOf(tp.topic()), known, Long::sum);
            }
        }
        if (inFlight != null) {
            for (TopicPartition tp : inFlight.partitions()) {
                behind.merge(tableOf(tp.topic()), (long) inFlight.records(tp).size(), Long::sum);
            }
        }
        unknown.forEach(behind::remove);
        meters.recordsBehind(behind);
    }

    private static Map<TopicPartition, Long> nextOffsets(ConsumerRecords<byte[], byte[]> records) {
        Map<TopicPartition, Long> next = new HashMap<>();
        records.forEach(r -> next.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1));
        return next;
    }

    /**
     * The records of a poll not yet in the target, reduced by key: a full row image supersedes earlier ones. A replayed
     * dead letter no newer than its row's newest change (applied before, or earlier in this batch) is set aside as
     * superseded.
     */
    private final class Batch {
        final Map<TopicPartition, Long> nextOffsets = new HashMap<>();
        /** The records of this batch that are no v2 change, or one the spec does not let them write; dead-lettered. */
        final List<DeadLetter> unwritable = new ArrayList<>();
        final Map<String, PendingChange> reduced = new LinkedHashMap<>();
        /** Every change of a row in this batch, superseded ones included, in order (for latency and progress). */
        final Map<String, List<V2Change>> history = new HashMap<>();
        /** The oldest v1 commit time of each table's changes in this batch. */
        final Map<String, Long> oldestSourceTsMs = new HashMap<>();
        /** The replayed records of this batch that are newer than their rows, by row. */
        final Map<String, List<ConsumerRecord<byte[], byte[]>>> replays = new HashMap<>();
        /** The replayed records of this batch their rows have moved past, with their v2 tables. */
        final Map<ConsumerRecord<byte[], byte[]>, String> superseded = new LinkedHashMap<>();
        /** The replayed records of this batch that are still unwritable, dead-lettered again. */
        final List<ConsumerRecord<byte[], byte[]>> unwritableReplays = new ArrayList<>();

        Batch(ConsumerRecords<byte[], byte[]> records, Map<TopicPartition, Long> alreadyApplied) {
            for (TopicPartition tp : records.partitions()) {
                Map<String, Long> known = deadLettered.of(tp);
                for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
                    if (record.offset() < alreadyApplied.getOrDefault(tp, Long.MIN_VALUE)) {
                        continue;
                    }
                    nextOffsets.put(tp, record.offset() + 1);
                    try {
                        add(record, known);
                    } catch (SchemaRegistryException | IllegalStateException e) {
                        // Not this record's fault: the batch is retried or the sink stops (applyWithRetry, run).
                        throw e;
                    } catch (RuntimeException e) {
                        unwritable(record, null, "not a v2 change: " + e.getMessage());
                    }
                }
            }
        }

        private void add(ConsumerRecord<byte[], byte[]> record, Map<String, Long> known) {
            V2Change change = decoder.decode(record.topic(), record.value());
            SpecWrites.Refusal refusal = specWrites.check(record.topic(), change);
            if (refusal != null) {
                unwritable(record, refusal.column(), refusal.reason());
                return;
            }
            // A keyless change (no v1 primary key) is a row of its own: none supersedes another, and none is reduced.
            String row = change.keyless() ? change.table() + "@" + record.partition() + ":" + record.offset()
                    : change.table() + change.key();
            long replayOf = ReplayOutcome.replayOf(record.headers());
            long position = replayOf < 0 ? record.offset() : replayOf;
            if (replayOf >= 0) {
                PendingChange earlier = reduced.get(row);
                Long newest = earlier != null ? Long.valueOf(earlier.position()) : known == null ? null : known.get(row);
                if (newest != null && position <= newest && !change.keyless()) {
                    superseded.put(record, change.table());
                    return;
                }
                replays.computeIfAbsent(row, k -> new ArrayList<>(1)).add(record);
            }
            PendingChange earlier = reduced.remove(row);
            V2Change reducedChange = earlier == null ? change : change.onTopOf(earlier.change());
            reduced.put(row, new PendingChange(reducedChange, record, position, reducedChange != change));
            history.computeIfAbsent(row, k -> new ArrayList<>(1)).add(change);
            if (change.source() != null) {
                oldestSourceTsMs.merge(change.table(), change.source().tsMs(), Math::min);
            }
        }

        /** A record not to write, under the table of its topic: what it names itself is not to be trusted. */
        private void unwritable(ConsumerRecord<byte[], byte[]> record, String column, String reason) {
            unwritable.add(deadLetter(record, tableOf(record.topic()), column, reason));
            if (ReplayOutcome.isReplay(record.headers())) {
                unwritableReplays.add(record);
            }
        }
    }

    private void apply(Batch batch) throws SQLException {
        Collection<PendingChange> changes = batch.reduced.values();
        List<DeadLetter> unwritable = batch.unwritable;
        List<DeadLetter> deadLetters = new ArrayList<>(unwritable);
        Set<PendingChange> rejected = Collections.newSetFromMap(new IdentityHashMap<>());
        try {
            // First in the transaction, so that a capture of v2 (the way back) knows these rows came from here.
            WrittenBy.mark(connection, target.migration());
            writer.applyAll(connection, changes);
        } catch (SQLException e) {
            if (Retry.isTransient(e)) {
                throw e;
            }
            connection.rollback();
            LOGGER.info("batch refused ({}); applying row by row to isolate the rejected rows", describe(e));
            WrittenBy.mark(connection, target.migration());
            for (BatchWriter.Rejected r : writer.applyIsolating(connection, changes)) {
                deadLetters.add(refused(r.pending(), r.reason()));
                rejected.add(r.pending());
            }
        }
        List<ReplayOutcome> outcomes = replayOutcomes(batch, rejected);
        Map<TopicPartition, Map<String, Long>> rowChanges = deadLetteredRowChanges(changes, rejected);
        // Dead letters are durable before the offsets that skip their rows commit: nothing is lost on a crash here.
        // So are the outcomes of replays: a crash before the commit applies the batch again, to the same outcomes.
        publish(deadLetters, outcomes);
        if (!rowChanges.isEmpty()) {
            deadLettered.write(connection, rowChanges);
        }
        offsets.write(connection, batch.nextOffsets);
        connection.commit();
        deadLettered.committed(rowChanges);
        long committedAt = meters.now();
        // Counted only once committed (a batch retried after a lost connection is not counted twice), and a rejected
        // row only as dead-lettered.
        for (PendingChange p : changes) {
            V2Change last = p.change();
            if (rejected.contains(p)) {
                meters.applied(last.table(), SinkMeters.DEAD_LETTERED);
                continue;
            }
            meters.applied(last.table(), last.op() == Op.DELETE || last.op() == Op.TRUNCATE ? SinkMeters.DELETED : SinkMeters.UPSERTED);
            // A superseded change of the row is applied by this commit too (its effect is in the final image).
            for (V2Change c : batch.history.getOrDefault(last.table() + last.key(), List.of(last))) {
                if (c.source() == null) {
                    continue;
                }
                if (c.source().snapshot()) {
                    // A snapshot read's time is when the snapshot read it, not a commit: no latency, but progress.
                    if (c.op() == Op.READ) {
                        meters.snapshotRowApplied(c.table(), specWrites.v1Table(c.source()));
                    }
                } else {
                    meters.latency(c.table(), c.source().tsMs(), committedAt);
                }
            }
        }
        unwritable.forEach(d -> meters.applied(d.table(), SinkMeters.DEAD_LETTERED));
        batch.superseded.values().forEach(table -> meters.applied(table, SinkMeters.SUPERSEDED));
    }

    /**
     * The rows of this batch {@link DeadLetteredRows} must learn about: those the target refused now, and those it
     * knows that got a change applied. Without dead letters this looks at nothing.
     */
    private Map<TopicPartition, Map<String, Long>> deadLetteredRowChanges(Collection<PendingChange> changes,
                                                                         Set<PendingChange> rejected) {
        if (rejected.isEmpty() && deadLettered.isEmpty()) {
            return Map.of();
        }
        Map<TopicPartition, Map<String, Long>> rowChanges = new HashMap<>();
        for (PendingChange p : rejected) {
            if (p.change().keyless()) {
                continue; // no row identity to order a replay by: a replayed keyless letter is applied as it is
            }
            rowChanges.computeIfAbsent(partitionOf(p.record()), tp -> new HashMap<>())
                    .put(p.change().table() + p.change().key(), DeadLetteredRows.NOTHING_APPLIED);
        }
        Map<TopicPartition, Map<String, Long>> knownRows = new HashMap<>();
        for (PendingChange p : changes) {
            TopicPartition tp = partitionOf(p.record());
            Map<String, Long> known = knownRows.computeIfAbsent(tp, deadLettered::of);
            String row = p.change().table() + p.change().key();
            if (known != null && known.containsKey(row) && !rejected.contains(p)) {
                rowChanges.computeIfAbsent(tp, k -> new HashMap<>()).put(row, p.position());
            }
        }
        return rowChanges;
    }

    /** What became of each replayed record of the batch: superseded, or as its row's last change fared. */
    private List<ReplayOutcome> replayOutcomes(Batch batch, Set<PendingChange> rejected) {
        if (batch.replays.isEmpty() && batch.superseded.isEmpty() && batch.unwritableReplays.isEmpty()) {
            return List.of();
        }
        List<ReplayOutcome> outcomes = new ArrayList<>();
        batch.superseded.forEach((record, table) -> outcomes.add(outcome(record, table, Outcome.SUPERSEDED)));
        batch.unwritableReplays.forEach(record -> outcomes.add(outcome(record, tableOf(record.topic()), Outcome.FAILED_AGAIN)));
        batch.replays.forEach((row, replayed) -> {
            PendingChange last = batch.reduced.get(row);
            Outcome outcome = rejected.contains(last) ? Outcome.FAILED_AGAIN : Outcome.APPLIED;
            replayed.forEach(record -> outcomes.add(outcome(record, last.change().table(), outcome)));
        });
        return outcomes;
    }

    private static ReplayOutcome outcome(ConsumerRecord<byte[], byte[]> record, String table, Outcome outcome) {
        return new ReplayOutcome(ReplayOutcome.id(record.topic(), record.partition(), record.offset()), "sink", table, outcome);
    }

    private static TopicPartition partitionOf(ConsumerRecord<byte[], byte[]> record) {
        return new TopicPartition(record.topic(), record.partition());
    }

    private void publish(List<DeadLetter> deadLetters, List<ReplayOutcome> outcomes) throws SQLException {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (DeadLetter d : deadLetters) {
            LOGGER.warn("dead-lettered table={} topic={} partition={} offset={} key={} reason={}",
                    d.table(), d.topic(), d.partition(), d.offset(), d.key(), d.reason());
            sent.add(deadLetterProducer.send(new ProducerRecord<>(deadLetterTopic, d.key().toString().getBytes(StandardCharsets.UTF_8),
                    DEAD.serialize(deadLetterTopic, d))));
        }
        for (ReplayOutcome o : outcomes) {
            sent.add(deadLetterProducer.send(new ProducerRecord<>(replayOutcomeTopic, o.replayed().getBytes(StandardCharsets.UTF_8),
                    OUTCOME.serialize(replayOutcomeTopic, o))));
        }
        for (Future<RecordMetadata> f : sent) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while writing dead letters", "08000", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof AuthorizationException) {
                    // No retry grants it: stop (the batch is not committed, so nothing is skipped) and name the grant.
                    throw new IllegalStateException("sink may not write its dead letters to " + deadLetterTopic
                            + " or replay outcomes to " + replayOutcomeTopic + " (" + e.getCause().getMessage()
                            + "): grant its principal Write on both topics (docs/security.md, Kafka ACLs)", e.getCause());
                }
                // Treated like a lost target: the batch is retried, so the rows are not skipped.
                throw new SQLException("cannot write dead letters to " + deadLetterTopic + " or replay outcomes to "
                        + replayOutcomeTopic + ": " + e.getCause(), "08000", e);
            }
        }
    }

    /**
     * A row the target refused. From an Avro record the letter keeps the change as JSON, as a JSON record would be:
     * Avro binary is not text, and {@code migrator dlq list} shows the row to a person. So does the letter of a
     * partial update merged with earlier changes of its row: its record alone lacks the values they wrote.
     */
    private DeadLetter refused(PendingChange pending, String reason) {
        ConsumerRecord<byte[], byte[]> record = pending.record();
        V2Change change = pending.change();
        if (!V2Decoder.isAvro(record.value()) && !pending.merged()) {
            return deadLetter(record, change.table(), null, reason);
        }
        byte[] key;
        try {
            key = Json.MAPPER.writeValueAsBytes(change.key());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return DeadLetter.of("sink", record.topic(), record.partition(), record.offset(), change.table(), key, null, reason,
                V2.serialize(record.topic(), change));
    }

    private static DeadLetter deadLetter(ConsumerRecord<byte[], byte[]> record, String table, String column, String reason) {
        return DeadLetter.of("sink", record.topic(), record.partition(), record.offset(), table, record.key(), column, reason,
                record.value());
    }

    // From the spec, not the topic's text: a v2 table with characters Kafka does not take has a derived topic name.
    private String tableOf(String topic) {
        return specWrites.tableOf(topic);
    }

    private static Map<TopicPartition, OffsetAndMetadata> toCommit(Map<TopicPartition, Long> nextOffsets) {
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        nextOffsets.forEach((tp, offset) -> commit.put(tp, new OffsetAndMetadata(offset)));
        return commit;
    }

    private Connection connectWithRetry() throws InterruptedException {
        Duration backoff = Duration.ofMillis(100);
        while (true) {
            try {
                Properties props = Connections.settings(target.user(), target.password(), "cdc-migrator-sink");
                props.setProperty("stringtype", "unspecified");
                props.setProperty("reWriteBatchedInserts", "true");
                Connection c = Connections.connect(target.url(), props);
                c.setAutoCommit(false);
                return c;
            } catch (SQLException e) {
                if (!Retry.isTransientOnConnect(e)) {
                    throw new IllegalStateException("sink cannot connect to " + JdbcUrl.shown(target.url()) + ": " + e.getMessage(), e);
                }
                meters.retried();
                LOGGER.warn("cannot connect to the target {}, retrying in {} ms: {}", JdbcUrl.shown(target.url()), backoff.toMillis(), e.getMessage());
                if (stopping.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new InterruptedException("stopped before the target was reachable");
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
    }

    private void rollbackQuietly() {
        try {
            if (connection != null && !connection.isClosed()) {
                connection.rollback();
            }
        } catch (SQLException e) {
            LOGGER.debug("rollback after a failed batch failed too", e);
        }
    }

    private void closeConnection() {
        try {
            if (connection != null) {
                connection.close();
            }
        } catch (SQLException e) {
            LOGGER.debug("closing the target connection failed", e);
        }
    }

    /** On every assignment, positions the consumer where the target's own record of progress says. */
    private final class SeekToStoredOffsets implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            Map<TopicPartition, Long> stored;
            try {
                stored = offsets.read(connection, partitions);
                deadLettered.load(connection, partitions);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot read the sink offsets from the target: " + e.getMessage(), e);
            }
            for (TopicPartition tp : partitions) {
                Long next = stored.get(tp);
                if (next != null) {
                    consumer.seek(tp, next);
                } else {
                    consumer.seekToBeginning(Set.of(tp));
                }
            }
            LOGGER.info("sink assigned partitions={} stored offsets={}", partitions, stored);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            // Each batch commits its offsets with its rows, so nothing is pending at revocation.
            partitionLag.keySet().removeAll(partitions);
            deadLettered.forget(partitions);
        }
    }

    /**
     * The database's own error: pgjdbc's batch exception message repeats the whole multi-row statement, thousands of
     * values long, while the server's message (with its SQLSTATE) is the next exception.
     */
    private static String describe(SQLException e) {
        SQLException cause = e instanceof java.sql.BatchUpdateException && e.getNextException() != null ? e.getNextException() : e;
        return cause.getSQLState() + ": " + cause.getMessage();
    }
}
