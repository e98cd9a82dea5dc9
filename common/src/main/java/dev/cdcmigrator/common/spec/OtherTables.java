package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * What the spec does with the tables of {@code source.schema} it does not list ({@code otherTables}); not set, it maps
 * only the listed ones.
 */
public enum OtherTables {

    /**
     * Every v1 table not listed that {@code target.schema} has a table of the same name for is mapped as
     * {@code { copy: all }}. Which tables those are is read from both catalogs before any stage runs, and from then on
     * they are listed tables like any other ({@link Spec#withOtherTables}).
     */
    COPY;

    /** The spelling in the spec. */
    @JsonValue
    public String text() {
        return "copy";
    }

    /** Reads the spec's spelling exactly, so that a typo is an error rather than a guess. */
    @JsonCreator
    public static OtherTables of(String text) {
        if ("copy".equals(text)) {
            return COPY;
        }
        throw new IllegalArgumentException("otherTables must be copy (every v1 table the spec does not list that v2 also"
                + " has, copied as it is), was '" + text + "'");
    }
}
