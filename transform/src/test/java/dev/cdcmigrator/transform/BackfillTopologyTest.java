package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.event.SnapshotCompleted.Recopied;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The copy backfill sends each v1 row to the raw topic before any streamed change: the transform keeps its image and
 * position as for a snapshot read, writes nothing for a row the backfill already applied to v2, and skips the streamed
 * changes a recopied key range already holds.
 */
class BackfillTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final String TABLE = "public.docs";
    private static final long SNAPSHOT_LSN = 1000;
    private static final String UNAVAILABLE = "__debezium_unavailable_value";

    private final DebeziumEnvelopes docs = new DebeziumEnvelopes("docs")
            .column("id", "int64").column("body", "string").column("n", "int32").column("status", "string");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @RegisterExtension
    final TestTopology topology = new TestTopology("backfill-test", """
                tables:
                  docs:
                    columns:
                      id: { from: id }
                      body: { from: body }
                      n: { from: n }
                      status: { from: status, map: { open: o, done: d } }
                """, registry);
    private final TestInputTopic<byte[], byte[]> raw = topology.raw("docs");
    private final TestOutputTopic<byte[], byte[]> v2 = topology.v2("docs");
    private final TestOutputTopic<byte[], byte[]> dlq = topology.dlq();

    @Test
    void anAppliedBackfilledRowWritesNothingButItsImageFillsALaterUnchangedToastedValue() {
        backfill(1, "long text 1", 1, "open", true);
        backfill(2, "long text 2", 1, "done", true);
        assertThat(v2.isEmpty()).isTrue();

        // the marker after the backfill must not take the backfilled rows for rows the snapshot did not read
        snapshotCompleted(List.of());
        assertThat(v2.isEmpty()).isTrue();

        streamed("u", 1, UNAVAILABLE, 2, "open", 1110, 1100L, 750);

        List<V2Change> out = v2Changes();
        assertThat(summary(out)).containsExactly("u {\"id\":1} {\"id\":1,\"body\":\"long text 1\",\"n\":2,\"status\":\"o\"}");
        assertThat(deadLetters()).isEmpty();
        assertThat(registry.get("migrator.transform.snapshot.swept.rows").tags("table", "docs").counter().count()).isZero();
    }

    @Test
    void anUnappliedBackfilledRowIsWrittenLikeASnapshotRead() {
        backfill(7, "replayed", 3, "done", false);

        List<V2Change> out = v2Changes();
        assertThat(summary(out)).containsExactly("r {\"id\":7} {\"id\":7,\"body\":\"replayed\",\"n\":3,\"status\":\"d\"}");
        assertThat(out.get(0).op()).isEqualTo(Op.READ);
        assertThat(out.get(0).source().snapshot()).isTrue();
        assertThat(out.get(0).source().lsn()).isEqualTo(SNAPSHOT_LSN);
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void anAppliedBackfilledRowTheSpecCannotMapIsNeitherWrittenNorDeadLettered() {
        backfill(1, "b", 1, "weird", true);

        assertThat(v2.isEmpty()).isTrue();
        assertThat(deadLetters()).isEmpty();

        // the same row not applied (a replayed dead letter) does fail to map, and is dead-lettered
        backfill(2, "b", 1, "weird", false);

        assertThat(v2.isEmpty()).isTrue();
        assertThat(deadLetters()).singleElement().satisfies(d -> {
            assertThat(d.column()).isEqualTo("status");
            assertThat(d.reason()).contains("is not in its map");
        });
    }

    @Test
    void streamedChangesARecopiedRangeAlreadyHoldsAreDropped() {
        for (long id = 1; id <= 4; id++) {
            backfill(id, "b" + id, 0, "open", true);
        }
        snapshotCompleted(List.of(new Recopied(TABLE, 2L, 4L, 100, 110, List.of(105L), SNAPSHOT_LSN)));
        assertThat(v2.isEmpty()).isTrue();

        // transaction 101: seen by the recopy's snapshot; id 3 is in the recopied range (2, 4], id 1 is not
        streamed("u", 3, "b3", 1, "open", 1110, 1100L, 101);
        streamed("u", 1, "b1", 1, "open", 1120, 1100L, 101);
        // transaction 105: in progress when the recopy's snapshot was taken
        streamed("u", 3, "b3", 2, "done", 1210, 1200L, 105);
        // transaction 120: at or after the snapshot's xmax
        streamed("u", 4, UNAVAILABLE, 3, "open", 1310, 1300L, 120);

        assertThat(summary(v2Changes())).containsExactly(
                "u {\"id\":1} {\"id\":1,\"body\":\"b1\",\"n\":1,\"status\":\"o\"}",
                "u {\"id\":3} {\"id\":3,\"body\":\"b3\",\"n\":2,\"status\":\"d\"}",
                "u {\"id\":4} {\"id\":4,\"body\":\"b4\",\"n\":3,\"status\":\"o\"}");
        assertThat(registry.get("migrator.transform.records").tags("table", "docs", "outcome", "duplicate").counter().count())
                .isEqualTo(1.0);
        assertThat(deadLetters()).isEmpty();
    }

    @Test
    void aDeleteTheRecopySawForgetsTheImageAnInterruptedCopySentButNotTheRecopiedOne() {
        long recopiedAt = 2000;
        // id 2: sent by a copy interrupted before its chunk committed; id 3: sent again by the resumed copy.
        backfill(2, "b2", 0, "open", true, SNAPSHOT_LSN);
        backfill(3, "b3", 0, "open", true, SNAPSHOT_LSN);
        backfill(3, "b3", 0, "open", true, recopiedAt);
        snapshotCompleted(List.of(new Recopied(TABLE, 1L, 4L, 100, 110, List.of(), recopiedAt)));

        // Deletes by transaction 101, which the resumed copy's snapshot saw: id 2 was gone when it read, id 3 deleted
        // and inserted again before it.
        streamedDelete(2, 1110, 1100L, 101);
        streamedDelete(3, 1120, 1100L, 101);
        // Later updates leaving the TOASTed body unchanged: id 3's image is the resumed copy's; id 2 has none now.
        streamed("u", 3, UNAVAILABLE, 1, "open", 1210, 1200L, 120);
        streamed("u", 2, UNAVAILABLE, 1, "open", 1220, 1200L, 120);

        assertThat(summary(v2Changes())).containsExactly("u {\"id\":3} {\"id\":3,\"body\":\"b3\",\"n\":1,\"status\":\"o\"}");
        assertThat(deadLetters()).singleElement().satisfies(d -> assertThat(d.column()).isEqualTo("body"));
    }

    @Test
    void everyRowOfABatchIsKeptOnItsOwnAndARowThatFailsTakesOnlyItselfToTheDeadLetters() {
        raw.pipeInput(null, bytes(Map.of(BackfilledRow.FIELD, List.of(
                row(1, "long text 1", 1, "open", true, SNAPSHOT_LSN),
                row(2, "b", 1, "weird", true, SNAPSHOT_LSN),
                row(3, "long text 3", 1, "done", true, SNAPSHOT_LSN)))));
        assertThat(v2.isEmpty()).isTrue();
        assertThat(deadLetters()).isEmpty();

        streamed("u", 1, UNAVAILABLE, 2, "open", 1110, 1100L, 750);
        streamed("u", 3, UNAVAILABLE, 2, "open", 1120, 1100L, 750);
        assertThat(summary(v2Changes())).containsExactly(
                "u {\"id\":1} {\"id\":1,\"body\":\"long text 1\",\"n\":2,\"status\":\"o\"}",
                "u {\"id\":3} {\"id\":3,\"body\":\"long text 3\",\"n\":2,\"status\":\"o\"}");

        // Replayed dead letters are not applied: the row that cannot be mapped is dead-lettered alone, with its key,
        // and replaying that letter is a batch of only that row.
        raw.pipeInput(null, bytes(Map.of(BackfilledRow.FIELD, List.of(
                row(4, "b", 1, "weird", false, SNAPSHOT_LSN),
                row(5, "five", 1, "done", false, SNAPSHOT_LSN)))));
        assertThat(summary(v2Changes())).containsExactly("r {\"id\":5} {\"id\":5,\"body\":\"five\",\"n\":1,\"status\":\"d\"}");
        DeadLetter letter = deadLetters().get(0);
        assertThat(letter.column()).isEqualTo("status");
        assertThat(letter.key()).isEqualTo(Json.MAPPER.valueToTree(Map.of("payload", Map.of("id", 4))));
        assertThat(letter.record().path(BackfilledRow.FIELD)).hasSize(1);
        assertThat(letter.record().path(BackfilledRow.FIELD).path(0).path("row").path("id").asLong()).isEqualTo(4);
    }

    // ------------------------------------------------------------------------------------------------------------

    private void backfill(long id, String body, int n, String status, boolean applied) {
        backfill(id, body, n, status, applied, SNAPSHOT_LSN);
    }

    private void backfill(long id, String body, int n, String status, boolean applied, long copiedLsn) {
        raw.pipeInput(null, bytes(Map.of(BackfilledRow.FIELD, List.of(row(id, body, n, status, applied, copiedLsn)))));
    }

    private static BackfilledRow row(long id, String body, int n, String status, boolean applied, long copiedLsn) {
        ObjectNode row = Json.MAPPER.createObjectNode().put("id", id).put("body", body).put("n", n).put("status", status);
        return new BackfilledRow(TABLE, SNAPSHOT_LSN, copiedLsn, applied, List.of(), Json.MAPPER.createObjectNode().put("id", id), row);
    }

    /** A streamed change made by transaction {@code txId}. */
    private void streamed(String op, long id, String body, int n, String status, long lsn, Long lastCommitLsn, long txId) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.put("body", body);
        row.put("n", n);
        row.put("status", status);
        pipeWithTxId(id, docs.change(op, null, row, lsn, lastCommitLsn), txId);
    }

    private void streamedDelete(long id, long lsn, Long lastCommitLsn, long txId) {
        pipeWithTxId(id, docs.change("d", Map.of("id", id), null, lsn, lastCommitLsn), txId);
    }

    private void pipeWithTxId(long id, byte[] envelope, long txId) {
        try {
            ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(envelope);
            ((ObjectNode) tree.path("payload").path("source")).put("txId", txId);
            envelope = Json.MAPPER.writeValueAsBytes(tree);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        raw.pipeInput(docs.key("id", id), envelope);
    }

    private void snapshotCompleted(List<Recopied> recopied) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(SnapshotCompleted.HEADER, SnapshotCompleted.TYPE);
        byte[] value = JsonSerde.of(SnapshotCompleted.class).serialize(null, new SnapshotCompleted(SNAPSHOT_LSN, 0, recopied));
        raw.pipeInput(new TestRecord<>(null, value, headers));
    }

    private List<V2Change> v2Changes() {
        return v2.readValuesToList().stream().map(b -> V2.deserialize(null, b)).toList();
    }

    private List<DeadLetter> deadLetters() {
        return dlq.readValuesToList().stream().map(b -> DEAD.deserialize(null, b)).toList();
    }

    private static List<String> summary(List<V2Change> changes) {
        return changes.stream().map(c -> c.op().code() + " " + c.key() + (c.after() == null ? "" : " " + c.after())).toList();
    }

    private static byte[] bytes(Object value) {
        try {
            return Json.MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
