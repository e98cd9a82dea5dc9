package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a v2 column's value comes from, and how it is adjusted. Exactly one source: {@code from}, {@code expr},
 * {@code value} or {@code java}. Then, in this order: a null value takes {@code default}; a non-null value is looked up
 * in {@code map} (by its text), and a value the map lacks takes {@code otherwise} (without {@code otherwise} the row
 * cannot be mapped and is dead-lettered).
 *
 * @param from the v1 column whose value is copied
 * @param expr a CEL expression over the v1 row ({@code row.<column>}; json/jsonb columns are objects)
 * @param value a constant (e.g. the discriminator of a merged table)
 * @param java the class name of a {@code dev.cdcmigrator.transform.ColumnFunction} for what no expression can say
 * @param defaultValue used when the value is null: a CEL expression when given as text, else the literal
 * @param map v1 value (as text) to v2 value
 * @param otherwise the v2 value for a value {@code map} lacks
 * @param nonDeterministic the value differs between runs (e.g. a migration timestamp); verification skips it
 */
public record ColumnSpec(String from, String expr, JsonNode value, String java,
                         @com.fasterxml.jackson.annotation.JsonProperty("default") JsonNode defaultValue,
                         Map<String, JsonNode> map, JsonNode otherwise, Boolean nonDeterministic) {

    public ColumnSpec {
        if (java != null) {
            Identifiers.requireText(java, "java");
        }
        Identifiers.requireOneSource("a column", from, expr, value, Collections.singletonMap("java", java));
        if (otherwise != null && map == null) {
            throw new IllegalArgumentException("otherwise is only meaningful with map");
        }
        map = map == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(map));
        nonDeterministic = nonDeterministic != null && nonDeterministic;
    }

    /** A column copied from v1 column {@code from}. */
    public static ColumnSpec from(String from) {
        return new ColumnSpec(from, null, null, null, null, null, null, null);
    }
}
