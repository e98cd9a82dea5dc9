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
 * @param copy the copy of the direct form ({@link MappingSpec#copy})
 * @param append the v1 table only ever gets rows inserted (an audit log): meant for a table without a primary key,
 *               whose inserts then stream without {@code REPLICA IDENTITY FULL}; an update or delete of it is a
 *               dead letter naming the table. Null means false
 * @param reverse the way back ({@code migrator run --reverse}): per v1 column, how it is made from the v2 row where the
 *                spec cannot invert its own mapping ({@code expr}, {@code java}, a many-to-one {@code map}); each is a
 *                column as under {@code columns}, reading the v2 row. Empty when the mapping inverts by itself.
 */
public record TableSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                        List<MappingSpec> split, List<String> drop, LinkedHashMap<String, DimensionSpec> dimensions,
                        MappingSpec.Copy copy, Boolean append, LinkedHashMap<String, ColumnSpec> reverse) {

    public TableSpec {
        boolean direct = into != null || key != null || where != null || columns != null || copy != null;
        if (split != null && direct) {
            throw new IllegalArgumentException("use either split or into/key/where/columns/copy, not both");
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
        for (MappingSpec mapping : split != null ? split : List.of(new MappingSpec(into, key, where, columns, copy))) {
            mapping.checkColumns(dimensionColumns);
        }
        reverse = reverse == null ? new LinkedHashMap<>() : new LinkedHashMap<>(reverse);
        reverse.keySet().forEach(name -> Identifiers.requireValid(name, "a v1 column name"));
    }

    /** A table without split, drop or dimensions. */
    public TableSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                     List<MappingSpec> split, List<String> drop) {
        this(into, key, where, columns, split, drop, null, null, null, null);
    }

    /** A table with split, drop, dimensions and copy as given, not declared append-only. */
    public TableSpec(String into, List<String> key, String where, LinkedHashMap<String, ColumnSpec> columns,
                     List<MappingSpec> split, List<String> drop, LinkedHashMap<String, DimensionSpec> dimensions,
                     MappingSpec.Copy copy) {
        this(into, key, where, columns, split, drop, dimensions, copy, null, null);
    }

    /** Whether the table is declared {@code append: true} (inserts only). */
    public boolean appendOnly() {
        return Boolean.TRUE.equals(append);
    }

    /** The direct form of a mapping. */
    public static TableSpec of(String into, List<String> key, LinkedHashMap<String, ColumnSpec> columns) {
        return new TableSpec(into, key, null, columns, null, null, null, null, null, null);
    }

    /** Whether a mapping of this table copies columns it does not name ({@code copy: all}), not yet resolved. */
    public boolean copies() {
        return copy != null || (split != null && split.stream().anyMatch(m -> m.copy() != null));
    }

    /**
     * This table with each {@code copy: all} replaced by the columns it copies: every column of {@code v1Columns} (in
     * their order) that is not in {@code drop}, not filled by a dimension and not in {@code skipped}; the columns the
     * mapping names keep their definition (in the v1 column's place when it has one, after the copied ones else).
     *
     * @param skipped v1 columns a copy must not take (e.g. generated columns, which the change stream does not carry)
     */
    TableSpec withCopiedColumns(List<String> v1Columns, java.util.Set<String> skipped) {
        java.util.Set<String> notCopied = new java.util.HashSet<>(skipped);
        notCopied.addAll(drop);
        DimensionSpec.byKind(dimensions).forEach((kind, dimension) -> notCopied.add(dimension.column(kind)));
        if (split != null) {
            return new TableSpec(null, null, null, null, split.stream().map(m -> m.resolved(v1Columns, notCopied)).toList(),
                    drop, dimensions, null, append, reverse);
        }
        MappingSpec direct = new MappingSpec(into, key, where, columns, copy).resolved(v1Columns, notCopied);
        return new TableSpec(into, key, where, direct.columns(), null, drop, dimensions, null, append, reverse);
    }

    @Override
    public LinkedHashMap<String, ColumnSpec> reverse() {
        return new LinkedHashMap<>(reverse);
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
        return split != null ? split : List.of(new MappingSpec(into, key, where, columns, copy));
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
