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
 * @param columns the v2 columns, by name
 */
public record MappingSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns) {

    public MappingSpec {
        if (into != null) {
            Identifiers.requireValid(into, "a v2 table name");
        }
        if (where != null) {
            Identifiers.requireText(where, "where");
        }
        if (columns == null || columns.isEmpty()) {
            throw new IllegalArgumentException("columns is required and must name at least one v2 column");
        }
        columns.keySet().forEach(name -> Identifiers.requireValid(name, "a v2 column name"));
        columns = new LinkedHashMap<>(columns);
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
        if (key != null) {
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

    @Override
    public LinkedHashMap<String, ColumnSpec> columns() {
        return new LinkedHashMap<>(columns);
    }
}
