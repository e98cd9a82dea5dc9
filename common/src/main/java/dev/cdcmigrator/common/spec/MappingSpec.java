package dev.cdcmigrator.common.spec;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;

/**
 * How a v1 table feeds one v2 table.
 *
 * @param into the v2 table; default the v1 table's name
 * @param key the v2 key columns; default the v1 primary key columns, renamed through {@code from} columns
 * @param where a CEL predicate over the v1 row; rows for which it is false produce no row here (and a row that stops
 *              matching is deleted here)
 * @param columns the v2 columns, by name; with {@code copy}, the ones that differ from the v1 column of their name
 * @param copy {@code all}: every v1 column not in {@code columns} or the table's {@code drop} is copied as it is into
 *             the v2 column of its name. Resolved against v1 before any stage runs ({@link Spec#withCopiedColumns}).
 */
public record MappingSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                          Copy copy) {

    /** What a mapping copies without naming it. */
    public enum Copy {
        ALL;

        @com.fasterxml.jackson.annotation.JsonCreator
        public static Copy of(String text) {
            if ("all".equals(text)) {
                return ALL;
            }
            throw new IllegalArgumentException("copy must be all (every v1 column not listed, as it is), was '" + text + "'");
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public String text() {
            return "all";
        }
    }

    public MappingSpec {
        if (into != null) {
            Identifiers.requireValid(into, "a v2 table name");
        }
        if (where != null) {
            Identifiers.requireText(where, "where");
        }
        if (copy == null && (columns == null || columns.isEmpty())) {
            throw new IllegalArgumentException("columns is required and must name at least one v2 column (or copy: all)");
        }
        columns = columns == null ? new LinkedHashMap<>() : new LinkedHashMap<>(columns);
        columns.keySet().forEach(name -> Identifiers.requireValid(name, "a v2 column name"));
        if (key != null) {
            if (key.isEmpty()) {
                throw new IllegalArgumentException("key must name at least one v2 column when given");
            }
            key = List.copyOf(key);
        }
    }

    /**
     * Checks that every key column is a mapped column or one of the table's dimension columns, and that no mapped
     * column is also a dimension column.
     */
    void checkColumns(java.util.Set<String> dimensionColumns) {
        for (String column : columns.keySet()) {
            if (dimensionColumns.contains(column)) {
                throw new IllegalArgumentException("column '" + column + "' is also filled by a dimension; drop one of them");
            }
        }
        // With copy, a key column may be one of the copied columns, known once resolved.
        if (key != null && copy == null) {
            for (String column : key) {
                if (!columns.containsKey(column) && !dimensionColumns.contains(column)) {
                    java.util.Set<String> known = new java.util.LinkedHashSet<>(columns.keySet());
                    known.addAll(dimensionColumns);
                    throw new IllegalArgumentException("key column '" + column + "' is not one of the mapped or dimension columns " + known);
                }
            }
        }
    }

    /** The v2 table name, given the v1 table this mapping reads. */
    public String v2Table(String v1Table) {
        return into == null ? v1Table : into;
    }

    /** The explicit v2 key, if the spec gives one. */
    public Optional<List<String>> explicitKey() {
        return Optional.ofNullable(key);
    }

    /**
     * The v2 columns by name.
     *
     * @throws IllegalStateException while {@code copy} is not resolved: its columns are not known yet, and a stage that
     *                               went on with the listed ones only would silently leave the others out
     */
    @Override
    public LinkedHashMap<String, ColumnSpec> columns() {
        if (copy != null) {
            throw new IllegalStateException("a mapping with copy: all is used before its columns were read from v1"
                    + " (Spec.withCopiedColumns)");
        }
        return new LinkedHashMap<>(columns);
    }

    /** The columns the spec names itself: with {@code copy}, not the ones it copies. */
    public LinkedHashMap<String, ColumnSpec> namedColumns() {
        return new LinkedHashMap<>(columns);
    }

    /** The same mapping with {@code copy} replaced by the columns it copies from {@code v1Columns}. */
    MappingSpec resolved(List<String> v1Columns, java.util.Set<String> notCopied) {
        if (copy == null) {
            return this;
        }
        LinkedHashMap<String, ColumnSpec> resolved = new LinkedHashMap<>();
        for (String column : v1Columns) {
            if (columns.containsKey(column)) {
                resolved.put(column, columns.get(column));
            } else if (!notCopied.contains(column)) {
                resolved.put(column, ColumnSpec.from(column));
            }
        }
        columns.forEach(resolved::putIfAbsent);
        return new MappingSpec(into, key, where, resolved, null);
    }
}
