package dev.cdcmigrator.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class KeyRangesTest {

    @Test
    void aCompositeKeyIsComparedAsARowWithEachBoundValueCastToItsColumnsType() {
        assertThat(KeyRanges.compare(List.of("\"id\"", "\"happened_at\""), List.of("bigint", "timestamp(3) with time zone"), ">"))
                .isEqualTo("(\"id\", \"happened_at\") > (CAST(? AS bigint), CAST(? AS timestamp(3) with time zone))");
    }

    @Test
    void aTextKeyGetsNoCollateClauseSoThatItComparesInTheColumnsOwnCollation() {
        String upTo = KeyRanges.compare(List.of("t.\"name\""), List.of("text"), "<=");
        assertThat(upTo).isEqualTo("(t.\"name\") <= (CAST(? AS text))").doesNotContainIgnoringCase("collate");
    }

    @Test
    void boundsCutATableIntoOneMoreRangeThanThereAreBoundsOpenAtBothEnds() {
        assertThat(KeyRanges.between(List.of(List.of("10"), List.of("20")))).containsExactly(
                new KeyRanges.Range(0, null, List.of("10")),
                new KeyRanges.Range(1, List.of("10"), List.of("20")),
                new KeyRanges.Range(2, List.of("20"), null));
        assertThat(KeyRanges.between(List.of())).containsExactly(new KeyRanges.Range(0, null, null));
    }

    @Test
    void aComparisonNeedsATypePerColumnAndAnOrderingOperator() {
        assertThatThrownBy(() -> KeyRanges.compare(List.of("a", "b"), List.of("int4"), ">")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyRanges.compare(List.of("a"), List.of("int4"), "<>")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyRanges.compare(List.of(), List.of(), ">")).isInstanceOf(IllegalArgumentException.class);
    }
}
