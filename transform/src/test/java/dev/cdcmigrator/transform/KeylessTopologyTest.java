package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.SnapshotCompleted;
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
 * Tables without a primary key: Debezium sends their changes without a record key. Each is mapped by its values, with
 * the old v2 row of an update or delete; capture's replays are dropped by the table's last position. The copy
 * backfill sends none of their rows, only its marker naming them.
 */
class KeylessTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    private final DebeziumEnvelopes ledger = new DebeziumEnvelopes("ledger").column("a", "int32").column("b", "string");
    private final DebeziumEnvelopes audit = new DebeziumEnvelopes("audit").column("a", "int32").column("b", "string");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @RegisterExtension
    final TestTopology topology = new TestTopology("keyless-test", """
                tables:
                  ledger: { columns: { a: { from: a }, b: { from: b } } }
                  audit: { append: true, columns: { a: { from: a }, b: { from: b } } }
                """, registry);
    private final TestInputTopic<byte[], byte[]> ledgerRaw = topology.raw("ledger");
    private final TestInputTopic<byte[], byte[]> auditRaw = topology.raw("audit");
    private final TestOutputTopic<byte[], byte[]> ledgerV2 = topology.v2("ledger");
    private final TestOutputTopic<byte[], byte[]> auditV2 = topology.v2("audit");
    private final TestOutputTopic<byte[], byte[]> dlq = topology.dlq();

    private static Map<String, Object> row(Integer a, String b) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("a", a);
        row.put("b", b);
        return row;
    }

    private static List<String> out(TestOutputTopic<byte[], byte[]> topic) {
        return topic.readRecordsToList().stream().map(r -> {
            V2Change c = V2.deserialize(null, r.value());
            assertThat(new String(r.key(), java.nio.charset.StandardCharsets.UTF_8)).as("one key for every change").isEqualTo("{}");
            return c.op().code() + (c.before() == null ? "" : c.before().toString()) + (c.after() == null ? "" : ">" + c.after());
        }).toList();
    }

    @Test
    void identicalRowsAreTwoInsertsAndReplaysAfterACaptureRestartAreDropped() {
        ledgerRaw.pipeInput(null, ledger.change("c", null, row(1, "x"), 110, 100L));
        ledgerRaw.pipeInput(null, ledger.change("c", null, row(1, "x"), 120, 100L));
        ledgerRaw.pipeInput(null, ledger.change("u", row(1, "x"), row(2, "x"), 210, 200L));
        // capture restarts from an older offset and delivers again
        ledgerRaw.pipeInput(null, ledger.change("c", null, row(1, "x"), 120, 100L));
        ledgerRaw.pipeInput(null, ledger.change("u", row(1, "x"), row(2, "x"), 210, 200L));
        ledgerRaw.pipeInput(null, ledger.change("d", row(1, "x"), null, 310, 300L));

        assertThat(out(ledgerV2)).containsExactly("c>{\"a\":1,\"b\":\"x\"}", "c>{\"a\":1,\"b\":\"x\"}",
                "u{\"a\":1,\"b\":\"x\"}>{\"a\":2,\"b\":\"x\"}", "d{\"a\":1,\"b\":\"x\"}");
        assertThat(registry.get("migrator.transform.records").tags("table", "ledger", "outcome", "duplicate").counter().count())
                .isEqualTo(2.0);
    }

    @Test
    void anUnchangedToastedValueIsFilledFromTheOldImage() {
        ledgerRaw.pipeInput(null, ledger.change("u", row(1, "big"), row(2, "__debezium_unavailable_value"), 110, 100L));

        assertThat(out(ledgerV2)).containsExactly("u{\"a\":1,\"b\":\"big\"}>{\"a\":2,\"b\":\"big\"}");
    }

    @Test
    void anUpdateWithoutOldValuesIsADeadLetterAskingForReplicaIdentityFull() {
        ledgerRaw.pipeInput(null, ledger.change("u", null, row(2, "x"), 110, 100L));

        assertThat(out(ledgerV2)).isEmpty();
        assertThat(dlq.readValuesToList()).singleElement().satisfies(b -> assertThat(DEAD.deserialize(null, b).reason())
                .isEqualTo("An update of v1 table ledger, which has no primary key, without its old values: ALTER TABLE"
                        + " ledger REPLICA IDENTITY FULL so that v2 can tell which row it changes"));
    }

    @Test
    void anUpdateOrDeleteOfAnAppendTableIsADeadLetterNamingTheTable() {
        auditRaw.pipeInput(null, audit.change("c", null, row(1, "x"), 110, 100L));
        auditRaw.pipeInput(null, audit.change("u", row(1, "x"), row(2, "x"), 210, 200L));
        auditRaw.pipeInput(null, audit.change("d", row(1, "x"), null, 310, 300L));

        assertThat(out(auditV2)).containsExactly("c>{\"a\":1,\"b\":\"x\"}");
        assertThat(dlq.readValuesToList()).map(b -> DEAD.deserialize(null, b)).satisfiesExactly(
                d -> {
                    assertThat(d.table()).isEqualTo("audit");
                    assertThat(d.reason()).startsWith("v1 table audit is declared append: true (inserts only), and this is"
                            + " an update of it: v2 is not changed");
                },
                d -> assertThat(d.reason()).contains("and this is a delete of it"));
    }

    @Test
    void aTruncateAndASnapshotTakenAgainDeleteTheTablesV2RowsFirst() {
        ledgerRaw.pipeInput(null, ledger.change("r", null, row(1, "x"), 50, null));
        ledgerRaw.pipeInput(null, ledger.change("r", null, row(1, "x"), 50, null));
        ledgerRaw.pipeInput(null, ledger.change("c", null, row(3, "y"), 110, 100L));
        // capture crashed before committing a streamed offset: Debezium takes the snapshot again, at a newer LSN
        ledgerRaw.pipeInput(null, ledger.change("r", null, row(1, "x"), 150, null));
        ledgerRaw.pipeInput(null, ledger.change("r", null, row(3, "y"), 150, null));
        ledgerRaw.pipeInput(null, ledger.change("t", null, null, 210, 200L));

        assertThat(out(ledgerV2)).containsExactly("r>{\"a\":1,\"b\":\"x\"}", "r>{\"a\":1,\"b\":\"x\"}", "c>{\"a\":3,\"b\":\"y\"}",
                "t", "r>{\"a\":1,\"b\":\"x\"}", "r>{\"a\":3,\"b\":\"y\"}", "t");
    }

    @Test
    void afterTheCopyAV1TruncateDeletesTheCopiedRowsAndTheMarkerItselfDeletesNothing() {
        copyCompleted(List.of(), List.of("public.ledger"));
        assertThat(out(ledgerV2)).isEmpty();

        ledgerRaw.pipeInput(null, ledger.change("t", null, null, 1110, 1100L));
        ledgerRaw.pipeInput(null, ledger.change("c", null, row(5, "after"), 1210, 1200L));

        assertThat(out(ledgerV2)).containsExactly("t", "c>{\"a\":5,\"b\":\"after\"}");
    }

    @Test
    void aResumedCopyOfTheWholeTableDropsTheStreamedChangesItsSnapshotSaw() {
        // The resumed copy's snapshot: transactions below 100 and 101..109 except 105 are visible.
        copyCompleted(List.of(new SnapshotCompleted.Recopied("public.ledger", null, null, 100, 110, List.of(105L), 2000)),
                List.of("public.ledger"));

        pipe(ledger.change("c", null, row(1, "x"), 1110, 1100L), 101);
        pipe(ledger.change("d", row(1, "x"), null, 1120, 1100L), 101);
        pipe(ledger.change("t", null, null, 1130, 1100L), 102);
        pipe(ledger.change("c", null, row(2, "in progress"), 1210, 1200L), 105);
        pipe(ledger.change("u", row(2, "in progress"), row(3, "later"), 1310, 1300L), 120);

        assertThat(out(ledgerV2)).containsExactly("c>{\"a\":2,\"b\":\"in progress\"}",
                "u{\"a\":2,\"b\":\"in progress\"}>{\"a\":3,\"b\":\"later\"}");
        assertThat(registry.get("migrator.transform.records").tags("table", "ledger", "outcome", "duplicate").counter().count())
                .isEqualTo(2.0);
    }

    @Test
    void aReplayedDeadLetterOfTheCopyIsInsertedByItsValues() {
        ObjectNode values = Json.MAPPER.createObjectNode().put("a", 7).put("b", "replayed");
        BackfilledRow letter = new BackfilledRow("public.ledger", 1000, 1000, false, List.of(), Json.MAPPER.createObjectNode(), values);
        ledgerRaw.pipeInput(null, BackfilledRow.recordValue(List.of(letter)));

        assertThat(out(ledgerV2)).containsExactly("r>{\"a\":7,\"b\":\"replayed\"}");
        assertThat(dlq.readValuesToList()).isEmpty();
    }

    private void copyCompleted(List<SnapshotCompleted.Recopied> recopied, List<String> keyless) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(SnapshotCompleted.HEADER, SnapshotCompleted.TYPE);
        byte[] value = JsonSerde.of(SnapshotCompleted.class).serialize(null, new SnapshotCompleted(1000, 0, recopied, keyless));
        ledgerRaw.pipeInput(new TestRecord<>(null, value, headers));
    }

    /** A change made by transaction {@code txId}. */
    private void pipe(byte[] envelope, long txId) {
        try {
            ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(envelope);
            ((ObjectNode) tree.path("payload").path("source")).put("txId", txId);
            ledgerRaw.pipeInput(null, Json.MAPPER.writeValueAsBytes(tree));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
