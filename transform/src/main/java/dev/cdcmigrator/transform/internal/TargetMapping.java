package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.transform.internal.expr.Expression;
import dev.cdcmigrator.transform.internal.expr.ExpressionException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One mapping of a v1 table into a v2 table, compiled. */
final class TargetMapping {

    private final String v1Table;
    private final String v2Table;
    private final String path;
    private final Expression where;
    private final Map<String, ColumnMapping> columns = new LinkedHashMap<>();
    private final List<String> explicitKey;
    private volatile List<String> derivedKey;

    TargetMapping(String v1Table, MappingSpec spec, String path) {
        this.v1Table = v1Table;
        this.v2Table = spec.v2Table(v1Table);
        this.path = path;
        this.where = spec.where() == null ? null : ColumnMapping.compileFilter(spec.where(), path + ".where");
        for (Map.Entry<String, ColumnSpec> column : spec.columns().entrySet()) {
            columns.put(column.getKey(), new ColumnMapping(column.getKey(), v2Table + "." + column.getKey(), column.getValue(),
                    path + ".columns." + column.getKey()));
        }
        this.explicitKey = spec.explicitKey().orElse(null);
        if (explicitKey == null && columns.values().stream().allMatch(c -> c.from() == null)) {
            throw SpecException.invalid(path, "no column copies a v1 column, so the v2 key cannot default to the v1"
                    + " primary key; name it with key:", null);
        }
    }

    String v2Table() {
        return v2Table;
    }

    Map<String, ColumnMapping> columns() {
        return columns;
    }

    /** Adds what this mapping reads: its filter, then each column, each read with the v2 column (or filter) needing it. */
    void collectReads(SpecReads reads) {
        if (where != null) {
            reads.expression(where, path + ".where", "the filter of " + v1Table + " into " + v2Table);
        }
        columns.values().forEach(c -> c.collectReads(reads, "v2 column " + v2Table + "." + c.v2Column()));
    }

    /** Whether a v1 row produces a row here. */
    boolean matches(ObjectNode parsed) {
        if (where == null) {
            return true;
        }
        try {
            return where.test(parsed);
        } catch (ExpressionException e) {
            throw new MappingException(null, "where of " + v1Table + " into " + v2Table + " (" + where.source() + ") failed: " + e.getMessage());
        }
    }

    /**
     * Whether the filter reads only columns of {@code v1Key}, so that the key alone says whether a row produces a row
     * here (for the way back of a merge, whose v2 key holds the discriminator, the deciding case: a delete without an
     * image must not delete the row of the same key in another v1 table).
     */
    boolean decidedBy(JsonNode v1Key) {
        if (where == null) {
            return true;
        }
        java.util.Set<String> key = new java.util.HashSet<>(Rows.names(v1Key));
        return !where.readsWholeRow() && key.containsAll(where.referencedColumns());
    }

    /** The full v2 row for a v1 row, in spec column order, then the dimension columns. */
    ObjectNode row(ObjectNode wire, ObjectNode parsed, ObjectNode dimensions) {
        return row(wire, parsed, dimensions, List.of());
    }

    /** As {@link #row(ObjectNode, ObjectNode, ObjectNode)}, without the v2 columns {@code unchanged}. */
    ObjectNode row(ObjectNode wire, ObjectNode parsed, ObjectNode dimensions, List<String> unchanged) {
        ObjectNode row = JsonNodeFactory.instance.objectNode();
        columns.values().stream().filter(c -> !unchanged.contains(c.v2Column()))
                .forEach(c -> row.set(c.v2Column(), c.value(wire, parsed)));
        row.setAll(dimensions);
        return row;
    }

    /** The v2 columns that copy one of {@code v1Columns} as it is, in spec order. */
    List<String> plainCopies(java.util.Set<String> v1Columns) {
        return columns.values().stream().filter(c -> c.plainCopyOf() != null && v1Columns.contains(c.plainCopyOf()))
                .map(ColumnMapping::v2Column).toList();
    }

    /**
     * What of this mapping needs a value of {@code unavailable} (v1 columns whose value the change does not carry and
     * nothing else knows), so that the v2 row cannot be updated leaving its copies of them as they are: the filter, a
     * v2 key column, or a v2 column computed from one. Null when nothing does.
     */
    String needsUnavailable(java.util.Set<String> unavailable, JsonNode v1Key) {
        if (where != null && (where.readsWholeRow() || where.referencedColumns().stream().anyMatch(unavailable::contains))) {
            return "the filter of " + v1Table + " into " + v2Table + " reads it";
        }
        List<String> key = keyColumns(v1Key);
        for (ColumnMapping column : columns.values()) {
            if (!column.reads(unavailable)) {
                continue;
            }
            if (key.contains(column.v2Column())) {
                return "v2 key column " + v2Table + "." + column.v2Column() + " needs it";
            }
            if (column.plainCopyOf() == null) {
                return "v2 column " + v2Table + "." + column.v2Column() + " is computed from it, not copied as it is";
            }
        }
        return null;
    }

    /**
     * The v2 key of a v1 row with its dimensions; only the key columns are evaluated, so a key-only image suffices
     * when they copy it.
     */
    ObjectNode key(ObjectNode wire, ObjectNode parsed, JsonNode v1Key, ObjectNode dimensions) {
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        for (String column : keyColumns(v1Key)) {
            ColumnMapping mapped = columns.get(column);
            key.set(column, mapped != null ? mapped.value(wire, parsed) : dimensions.get(column));
        }
        return key;
    }

    /** The key of an already mapped v2 row. */
    ObjectNode keyOf(ObjectNode v2Row, JsonNode v1Key) {
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        for (String column : keyColumns(v1Key)) {
            key.set(column, v2Row.get(column));
        }
        return key;
    }

    /** The v2 key columns: the spec's, or the v1 primary key columns (the fields of the v1 key) renamed. */
    List<String> keyColumns(JsonNode v1Key) {
        if (explicitKey != null) {
            return explicitKey;
        }
        List<String> key = derivedKey;
        if (key == null) {
            key = new ArrayList<>();
            for (String v1Column : Rows.names(v1Key)) {
                key.add(columns.values().stream()
                        .filter(c -> v1Column.equals(c.from()))
                        .map(ColumnMapping::v2Column)
                        .findFirst()
                        .orElseThrow(() -> new MappingException(v1Column, "v1 key column " + v1Table + "." + v1Column
                                + " is not mapped into " + v2Table + "; map it or name the v2 key with 'key:'")));
            }
            derivedKey = List.copyOf(key);
        }
        return key;
    }
}
