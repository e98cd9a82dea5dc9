package dev.cdcmigrator.backfill.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How a table without a primary key is cut into block ranges. */
class TableCopyTest {

    @Test
    void blocksAreCutIntoEqualRangesOfAboutChunkRowsRowsEachAndTheLastRangeHasNoEnd() {
        // 100 rows a block: 250 rows are 2.5 blocks, taken as 2.
        assertThat(TableCopy.blockBounds(10, 1_000, 250)).containsExactly(2L, 4L, 6L, 8L);
        assertThat(TableCopy.blockBounds(10, 1_000, 300)).containsExactly(3L, 6L, 9L);
    }

    @Test
    void aChunkIsAtLeastOneBlockHoweverManyRowsABlockHolds() {
        assertThat(TableCopy.blockBounds(3, 900, 10)).containsExactly(1L, 2L);
    }

    @Test
    void aTableOfOneChunkOrLessIsOneOpenRange() {
        assertThat(TableCopy.blockBounds(0, 0, 100)).isEmpty();
        assertThat(TableCopy.blockBounds(1, 500, 100)).isEmpty();
        assertThat(TableCopy.blockBounds(40, 100, 100)).isEmpty();
        // Blocks of dead rows only: no rows to cut by.
        assertThat(TableCopy.blockBounds(40, 0, 100)).isEmpty();
    }
}
