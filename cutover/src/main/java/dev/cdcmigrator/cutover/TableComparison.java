package dev.cdcmigrator.cutover;

import java.util.List;

/**
 * How one v2 table compares with what the spec makes of the v1 tables that feed it. Keys are listed as
 * {@code column=value[,column=value]} in v2 key order, at most {@link Verifier#MAX_KEYS_LISTED} per kind; the counts
 * are complete.
 *
 * @param v2Table the v2 table
 * @param v1Tables the v1 tables that feed it (one, unless several merge into it)
 * @param v1Rows rows read from them
 * @param mappedRows v2 rows the spec makes of those rows (fewer with a {@code where} filter or rejected rows)
 * @param v2Rows rows in the v2 table
 * @param chunks key ranges compared (1 when the table could not be cut into ranges)
 * @param differingChunks ranges whose row count or checksum differed, compared row by row
 * @param missingRows rows the spec makes of v1 that v2 lacks
 * @param extraRows v2 rows that no v1 row produces
 * @param differentRows rows present on both sides whose compared columns differ
 * @param rejectedRows v1 rows that cannot become v2 rows: the mapping fails, or v2 refuses a value (the pipeline
 *                     dead-letters such rows)
 * @param missing keys of missing rows
 * @param extra keys of extra rows
 * @param different keys of differing rows, each followed by the differing columns: {@code id=7 [score, seen]}
 * @param rejected the rejected v1 rows by v1 table and primary key, each with the reason
 * @param notCompared mapped v2 columns left out: those the spec marks non-deterministic, and in a merge those not
 *                    every v1 table writes
 */
public record TableComparison(String v2Table, List<String> v1Tables, long v1Rows, long mappedRows, long v2Rows,
                              int chunks, int differingChunks, long missingRows, long extraRows, long differentRows,
                              long rejectedRows, List<String> missing, List<String> extra, List<String> different,
                              List<String> rejected, List<String> notCompared) {

    public TableComparison {
        v1Tables = List.copyOf(v1Tables);
        missing = List.copyOf(missing);
        extra = List.copyOf(extra);
        different = List.copyOf(different);
        rejected = List.copyOf(rejected);
        notCompared = List.copyOf(notCompared);
    }

    /** Whether v2 holds exactly what the spec makes of v1 (the compared columns of every row). */
    public boolean matches() {
        return missingRows == 0 && extraRows == 0 && differentRows == 0 && rejectedRows == 0;
    }
}
