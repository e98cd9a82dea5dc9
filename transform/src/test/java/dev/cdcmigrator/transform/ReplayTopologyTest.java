package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Capture is at-least-once: the transform drops what a row has already been through, by source position. */
class ReplayTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);

    private final DebeziumEnvelopes items = new DebeziumEnvelopes("items").column("id", "int64").column("v", "int32");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @RegisterExtension
    final TestTopology topology = new TestTopology("replay-test", """
                tables:
                  items: { columns: { id: { from: id }, v: { from: v } } }
                """, registry);
    private final TestInputTopic<byte[], byte[]> raw = topology.raw("items");
    private final TestOutputTopic<byte[], byte[]> v2 = topology.v2("items");
    private final TestOutputTopic<byte[], byte[]> outcomes = topology.output("app.replays");

    private void change(String op, long id, Integer v, long lsn, Long lastCommit) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("v", v);
        raw.pipeInput(items.key("id", id), items.change(op, op.equals("d") ? row : null, op.equals("d") ? null : row, lsn, lastCommit));
    }

    private List<String> out() {
        return v2.readValuesToList().stream().map(b -> V2.deserialize(null, b))
                .map(c -> c.op().code() + (c.after() == null ? c.key().toString() : c.after().toString())).toList();
    }

    private double duplicates() {
        return registry.get("migrator.transform.records").tags("table", "items", "outcome", "duplicate").counter().count();
    }

    @Test
    void changesReplayedAfterACaptureRestartAreDropped() {
        change("r", 1, 0, 50, null);
        change("u", 1, 1, 110, 100L);
        change("u", 1, 2, 120, 100L);
        // capture restarts from an older offset and delivers again
        change("u", 1, 1, 110, 100L);
        change("u", 1, 2, 120, 100L);
        change("r", 1, 0, 50, null);
        change("u", 1, 3, 210, 200L);

        assertThat(out()).containsExactly("r{\"id\":1,\"v\":0}", "u{\"id\":1,\"v\":1}", "u{\"id\":1,\"v\":2}", "u{\"id\":1,\"v\":3}");
        assertThat(duplicates()).isEqualTo(3.0);
    }

    @Test
    void aLaterTransactionWithALowerLsnIsNotAReplay() {
        // Transaction B wrote its change at LSN 40 but committed after transaction A (commit at 60): commit order wins.
        change("u", 1, 1, 50, 30L);
        change("u", 1, 2, 40, 60L);

        assertThat(out()).containsExactly("u{\"id\":1,\"v\":1}", "u{\"id\":1,\"v\":2}");
        assertThat(duplicates()).isZero();
    }

    @Test
    void aReplayedChangeCannotBringADeletedRowBack() {
        change("c", 1, 1, 110, 100L);
        change("d", 1, null, 210, 200L);
        change("c", 1, 1, 110, 100L);
        change("c", 1, 5, 310, 300L);

        assertThat(out()).containsExactly("c{\"id\":1,\"v\":1}", "d{\"id\":1}", "c{\"id\":1,\"v\":5}");
        assertThat(duplicates()).isEqualTo(1.0);
    }

    @Test
    void aSnapshotTakenAgainIsAppliedButNeverOverAStreamedChange() {
        change("r", 1, 0, 50, null);
        change("r", 1, 7, 50, null);
        change("u", 1, 8, 110, 100L);
        change("r", 1, 7, 50, null);

        assertThat(out()).containsExactly("r{\"id\":1,\"v\":0}", "r{\"id\":1,\"v\":7}", "u{\"id\":1,\"v\":8}");
        assertThat(duplicates()).isEqualTo(1.0);
    }

    /**
     * Capture crashed during or just after its initial snapshot and took it again: the new snapshot (a new epoch) wins
     * over everything published before it, rows it no longer contains are deleted at its completion marker, and the
     * streamed changes after it win over its reads even when their LSNs are lower than the snapshot's.
     */
    @Test
    void aSnapshotTakenAgainAfterACrashSupersedesEverythingBeforeIt() {
        change("r", 1, 0, 50, null);
        change("r", 2, 0, 50, null);
        change("r", 3, 0, 50, null);
        snapshotCompleted(50);
        change("u", 1, 1, 110, 100L);
        change("d", 2, null, 120, 100L);
        // crash before capture committed a streamed offset; meanwhile row 3 is deleted, row 1 updated, row 4 inserted
        change("r", 1, 5, 300, null);
        change("r", 4, 4, 300, null);
        snapshotCompleted(300);
        // the first transaction streamed after it began before the snapshot: lower LSNs, yet newer
        change("u", 4, 9, 290, 250L);
        // a replayed read of the snapshot is still a replay
        change("r", 1, 5, 300, null);

        assertThat(out()).containsExactly("r{\"id\":1,\"v\":0}", "r{\"id\":2,\"v\":0}", "r{\"id\":3,\"v\":0}",
                "u{\"id\":1,\"v\":1}", "d{\"id\":2}",
                "r{\"id\":1,\"v\":5}", "r{\"id\":4,\"v\":4}", "d{\"id\":3}",
                "u{\"id\":4,\"v\":9}", "r{\"id\":1,\"v\":5}");
        assertThat(registry.get("migrator.transform.snapshot.swept.rows").tags("table", "items").counter().count()).isEqualTo(1.0);
    }

    /**
     * A snapshot taken again that reads nothing on this partition (every row of it deleted on v1 meanwhile) still
     * deletes the rows stored before it, although the store was empty when the first snapshot began.
     */
    @Test
    void aSnapshotTakenAgainThatReadsNothingHereStillDeletesWhatCameBeforeIt() {
        change("r", 1, 0, 50, null);
        change("r", 2, 0, 50, null);
        snapshotCompleted(50);
        change("u", 1, 1, 110, 100L);
        snapshotCompleted(300);

        assertThat(out()).containsExactly("r{\"id\":1,\"v\":0}", "r{\"id\":2,\"v\":0}", "u{\"id\":1,\"v\":1}",
                "d{\"id\":1}", "d{\"id\":2}");
        assertThat(registry.get("migrator.transform.snapshot.swept.rows").tags("table", "items").counter().count()).isEqualTo(2.0);
    }

    /** A v1 TRUNCATE deletes every row applied before it; replayed, it spares the rows inserted after it. */
    @Test
    void aTruncateDeletesEveryRowAppliedBeforeIt() {
        change("c", 1, 1, 110, 100L);
        change("c", 2, 2, 120, 100L);
        change("d", 2, null, 130, 100L);
        change("c", 3, 3, 140, 100L);
        raw.pipeInput(null, items.change("t", null, null, 210, 200L));
        change("c", 4, 4, 310, 300L);
        // capture restarts from an older offset: the truncate and a change before it come again
        change("c", 3, 3, 140, 100L);
        raw.pipeInput(null, items.change("t", null, null, 210, 200L));

        assertThat(out()).containsExactly("c{\"id\":1,\"v\":1}", "c{\"id\":2,\"v\":2}", "d{\"id\":2}", "c{\"id\":3,\"v\":3}",
                "d{\"id\":1}", "d{\"id\":3}", "c{\"id\":4,\"v\":4}");
    }

    /**
     * Issue 16: a dead letter replayed by {@code migrator dlq replay} is ordered like any change. One its row has moved
     * past since (updated, deleted) is dropped and reported as superseded, never applied over the newer state; one that
     * is still its row's newest change is applied; one that fails again is a new dead letter. Each reports its outcome
     * under the position it was replayed to; changes that are not replays report nothing.
     */
    @Test
    void aReplayedDeadLetterIsAppliedOnlyWhenItIsNewerThanItsRowAndItsOutcomeIsReported() {
        change("c", 1, 1, 110, 100L);
        change("c", 2, 2, 120, 100L);
        // the dead-lettered changes were at LSN 160 (row 1) and 170 (row 2); row 1 was deleted and row 2 updated later
        change("d", 1, null, 210, 200L);
        change("u", 2, 3, 220, 200L);
        change("c", 3, 3, 230, 200L);
        assertThat(out()).hasSize(5);
        assertThat(outcomes.isEmpty()).isTrue();

        replayed(1, 7, 160, 150L, "app.dlq/0/0");
        replayed(2, 8, 170, 150L, "app.dlq/0/1");
        replayed(3, 9, 310, 300L, "app.dlq/0/2");
        RecordHeaders headers = replayHeaders("app.dlq/0/3");
        raw.pipeInput(new TestRecord<>(items.key("id", 4), "not JSON".getBytes(StandardCharsets.UTF_8), headers));

        assertThat(out()).containsExactly("u{\"id\":3,\"v\":9}");
        assertThat(outcomes.readValuesToList().stream().map(b -> JsonSerde.of(ReplayOutcome.class).deserialize(null, b)))
                .containsExactly(
                        new ReplayOutcome("app.raw.public.items/0/5", "transform", "items", ReplayOutcome.Outcome.SUPERSEDED),
                        new ReplayOutcome("app.raw.public.items/0/6", "transform", "items", ReplayOutcome.Outcome.SUPERSEDED),
                        new ReplayOutcome("app.raw.public.items/0/7", "transform", "items", ReplayOutcome.Outcome.APPLIED),
                        new ReplayOutcome("app.raw.public.items/0/8", "transform", "items", ReplayOutcome.Outcome.FAILED_AGAIN));
        assertThat(registry.get("migrator.transform.records").tags("table", "items", "outcome", "superseded").counter().count())
                .isEqualTo(2.0);
        assertThat(duplicates()).isZero();
        TestOutputTopic<byte[], byte[]> dlq = topology.dlq();
        assertThat(dlq.readValuesToList()).singleElement()
                .satisfies(b -> assertThat(JsonSerde.of(DeadLetter.class).deserialize(null, b).offset()).isEqualTo(8));
    }

    private void replayed(long id, int v, long lsn, Long lastCommit, String from) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("v", v);
        raw.pipeInput(new TestRecord<>(items.key("id", id), items.change("u", null, row, lsn, lastCommit), replayHeaders(from)));
    }

    private static RecordHeaders replayHeaders(String from) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(ReplayOutcome.REPLAYED_FROM, from.getBytes(StandardCharsets.UTF_8));
        return headers;
    }

    private void snapshotCompleted(long snapshotLsn) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(SnapshotCompleted.HEADER, SnapshotCompleted.TYPE);
        raw.pipeInput(new TestRecord<>(null, JsonSerde.of(SnapshotCompleted.class).serialize(null, new SnapshotCompleted(snapshotLsn, 0)), headers));
    }
}
