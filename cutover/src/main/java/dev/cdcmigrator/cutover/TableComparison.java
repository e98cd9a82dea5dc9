package dev.cdcmigrator.cutover;

import java.util.List;

/**
 * How one v2 table compares with its v1 table seen through the spec.
 *
 * @param v1Table the v1 table
 * @param v2Table the v2 table
 * @param v1Rows rows in v1
 * @param v2Rows rows in v2
 * @param missing keys of v1 rows that v2 lacks (at most {@link Verifier#MAX_KEYS_LISTED})
 * @param extra keys of v2 rows that v1 lacks (likewise)
 * @param different keys of rows whose mapped columns differ, with the columns (likewise)
 * @param notCompared v2 columns this comparison did not check: computed ones, and those the spec marks non-deterministic
 */
public record TableComparison(String v1Table, String v2Table, long v1Rows, long v2Rows,
                              List<String> missing, List<String> extra, List<String> different, List<String> notCompared) {

    /** Whether v2 holds exactly what the spec makes of v1. */
    public boolean matches() {
        return missing.isEmpty() && extra.isEmpty() && different.isEmpty();
    }
}
