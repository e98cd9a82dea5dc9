package dev.cdcmigrator.common.event;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SnapshotCompletedTest {

    private static final long EPOCH = 3L << 32;

    @Test
    void aRecopiedSnapshotSeesExactlyTheTransactionsCommittedBeforeIt() {
        SnapshotCompleted.Recopied snapshot = new SnapshotCompleted.Recopied("public.t", null, null, EPOCH + 100, EPOCH + 110, List.of(EPOCH + 104), 0);
        assertThat(snapshot.sees(99)).isTrue();
        assertThat(snapshot.sees(103)).isTrue();
        assertThat(snapshot.sees(104)).as("in progress when it was taken").isFalse();
        assertThat(snapshot.sees(110)).as("xmax").isFalse();
        assertThat(snapshot.sees(5000)).as("later").isFalse();
    }

    @Test
    void transactionIdsAreReadAcrossTheirWraparound() {
        SnapshotCompleted.Recopied snapshot = new SnapshotCompleted.Recopied("public.t", null, null, EPOCH + 2, EPOCH + 5, List.of(), 0);
        assertThat(snapshot.sees(0xFFFF_FFF0L)).as("just before the epoch turned").isTrue();
        assertThat(snapshot.sees(7)).isFalse();
    }

    @Test
    void aRangeHoldsTheIntegerKeysAboveItsLowerAndUpToItsUpperBound() {
        SnapshotCompleted.Recopied range = new SnapshotCompleted.Recopied("public.t", 10L, 20L, 1, 2, List.of(), 0);
        assertThat(range.holds(10L)).isFalse();
        assertThat(range.holds(11L)).isTrue();
        assertThat(range.holds(20L)).isTrue();
        assertThat(range.holds(21L)).isFalse();
        assertThat(range.holds(null)).isFalse();
        assertThat(new SnapshotCompleted.Recopied("public.t", null, null, 1, 2, List.of(), 0).holds(null)).as("a whole table").isTrue();
    }

    @Test
    void aMarkerOfAnEarlierVersionNamesNoKeylessTables() throws Exception {
        SnapshotCompleted old = dev.cdcmigrator.common.serde.Json.MAPPER.readValue(
                "{\"snapshotLsn\": 5, \"tsMs\": 1, \"recopied\": []}", SnapshotCompleted.class);
        assertThat(old.keyless()).isEmpty();
        SnapshotCompleted copied = new SnapshotCompleted(5, 1, List.of(), List.of("public.ledger"));
        assertThat(dev.cdcmigrator.common.serde.Json.MAPPER.readValue(dev.cdcmigrator.common.serde.Json.MAPPER.writeValueAsBytes(copied),
                SnapshotCompleted.class)).isEqualTo(copied);
    }
}
