package dev.cdcmigrator.common.spec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * How one v1 table maps to v2: either one mapping given directly ({@code into}, {@code key}, {@code where},
 * {@code columns}), or several under {@code split} (one v1 row feeding several v2 tables). Several v1 tables may map
 * into the same v2 table (a merge; give it a discriminator column and a key that includes it).
 *
 * @param into the v2 table of the direct form
 * @param key the v2 key of the direct form
 * @param where the filter of the direct form
 * @param columns the columns of the direct form
 * @param split the mappings of the split form
 * @param drop v1 columns deliberately not carried to v2 (so that preflight does not report them as forgotten)
 * @param dimensions the isolation dimensions of its rows by kind ({@code tenant}, {@code agent}, {@code stream},
 *                   {@code platform}); each fills a v2 column of every mapping
 */
public record TableSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                        List<MappingSpec> split, List<String> drop, LinkedHashMap<String, DimensionSpec> dimensions) {

    public TableSpec {
        boolean direct = into != null || key != null || where != null || columns != null;
        if (split != null && direct) {
            throw new IllegalArgumentException("use either split or into/key/where/columns, not both");
        }
        if (split != null) {
            if (split.isEmpty()) {
                throw new IllegalArgumentException("split must list at least one mapping");
            }
            split = List.copyOf(split);
        }
        drop = drop == null ? List.of() : List.copyOf(drop);
        drop.forEach(name -> Identifiers.requireValid(name, "a v1 column name"));
        dimensions = dimensions == null ? new LinkedHashMap<>() : new LinkedHashMap<>(dimensions);
        java.util.Set<String> dimensionColumns = new java.util.LinkedHashSet<>();
        DimensionSpec.byKind(dimensions).forEach((kind, dimension) -> {
            if (!dimensionColumns.add(dimension.column(kind))) {
                throw new IllegalArgumentException("two dimensions fill the v2 column '" + dimension.column(kind) + "'");
            }
        });
        for (MappingSpec mapping : split != null ? split : List.of(new MappingSpec(into, key, where, columns))) {
            mapping.checkColumns(dimensionColumns);
        }
    }

    /** A table without split, drop or dimensions. */
    public TableSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                     List<MappingSpec> split, List<String> drop) {
        this(into, key, where, columns, split, drop, null);
    }

    /** The direct form of a mapping. */
    public static TableSpec of(String into, List<String> key, LinkedHashMap<String, ColumnSpec> columns) {
        return new TableSpec(into, key, null, columns, null, null, null);
    }

    @Override
    public LinkedHashMap<String, DimensionSpec> dimensions() {
        return new LinkedHashMap<>(dimensions);
    }

    /** The dimensions by kind. */
    public java.util.Map<DimensionSpec.Kind, DimensionSpec> dimensionsByKind() {
        return DimensionSpec.byKind(dimensions);
    }

    /** Every mapping of this v1 table, in spec order. */
    public List<MappingSpec> mappings() {
        return split != null ? split : List.of(new MappingSpec(into, key, where, columns));
    }

    /** The YAML path of mapping {@code index}: {@code tables.<t>} in the direct form, {@code tables.<t>.split[i]} else. */
    public String mappingPath(String v1Table, int index) {
        return split == null ? "tables." + v1Table : "tables." + v1Table + ".split[" + index + "]";
    }

    /**
     * The v2 columns {@code mapping} (one of {@link #mappings()}) writes: its mapped columns in spec order, then the
     * columns of this table's dimensions. Its v2 key is among them.
     */
    public java.util.Set<String> writtenColumns(MappingSpec mapping) {
        java.util.Set<String> columns = new java.util.LinkedHashSet<>(mapping.columns().keySet());
        dimensionsByKind().forEach((kind, dimension) -> columns.add(dimension.column(kind)));
        return columns;
    }

    /** The v2 tables this v1 table feeds, in spec order. */
    public List<String> v2Tables(String v1Table) {
        List<String> tables = new ArrayList<>();
        mappings().forEach(m -> tables.add(m.v2Table(v1Table)));
        return tables;
    }
}
