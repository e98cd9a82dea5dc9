package dev.cdcmigrator.transform;

import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.transform.internal.SpecReads;
import dev.cdcmigrator.transform.internal.TableMapping;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which v1 columns the spec reads, from the mapping the transform compiles: {@code from} copies and lookup keys by
 * name, expressions ({@code expr}, {@code where}, text {@code default}s, of columns and dimensions) by their checked
 * AST. The one analysis of it: the transform's schema-change check, {@code migrator check} and what capture carries
 * ({@link #captured}) all rest on it.
 */
public final class ColumnReads {

    /**
     * One read of a v1 column.
     *
     * @param column the v1 column
     * @param path the spec path that reads it, e.g. {@code tables.users.columns.name.from}
     * @param copied true when the spec names the column itself ({@code from}, a lookup's {@code key}), false when an
     *               expression reads it
     */
    public record Read(String column, String path, boolean copied) {
    }

    private final List<Read> reads;
    private final List<String> wholeRow;

    private ColumnReads(SpecReads reads) {
        this.reads = reads.reads().stream().map(r -> new Read(r.column(), r.path(), r.copied())).toList();
        this.wholeRow = reads.wholeRow();
    }

    /**
     * The reads of the mappings and dimensions of one mapped v1 table.
     *
     * @throws dev.cdcmigrator.common.spec.SpecException when its spec does not compile
     *     ({@link TransformTopology#problems} reports it)
     */
    public static ColumnReads of(Spec spec, String v1Table) {
        TableSpec table = spec.tables().get(v1Table);
        if (table == null) {
            throw new IllegalArgumentException("the spec does not map v1 table " + v1Table);
        }
        return new ColumnReads(new TableMapping(v1Table, table).reads());
    }

    /** Every read, in spec order. */
    public List<Read> reads() {
        return reads;
    }

    /** The columns read by name, in spec order. */
    public Set<String> columns() {
        Set<String> columns = new LinkedHashSet<>();
        reads.forEach(read -> columns.add(read.column()));
        return columns;
    }

    /**
     * Why the mapping may read columns it does not name (a {@code java} column; an expression using {@code row} other
     * than by a constant name: {@code row.size()}, {@code 'x' in row}, {@code row[k]}), naming the first spec path;
     * empty when it reads only {@link #columns}.
     */
    public Optional<String> wholeRow() {
        return wholeRow.stream().findFirst();
    }

    /**
     * What capture carries of every captured v1 table (mapped and lookup tables): the columns the table's own mapping
     * reads and those that the tables looking it up read of its rows; every column when the mapping may read any.
     * Identity columns are added by whoever reads v1's catalog ({@link CapturedColumns#identityColumns}).
     *
     * @throws dev.cdcmigrator.common.spec.SpecException naming the YAML path when a mapping does not compile
     */
    public static CapturedColumns captured(Spec spec) {
        Map<String, TableMapping> mappings = TransformTopology.compile(spec);
        Map<String, CapturedColumns.Table> tables = new LinkedHashMap<>();
        mappings.forEach((v1, mapping) -> {
            ColumnReads own = new ColumnReads(mapping.reads());
            Set<String> read = new TreeSet<>(own.columns());
            for (String dependent : spec.lookupTables().getOrDefault(v1, new TreeSet<>())) {
                read.addAll(mappings.get(dependent).lookupColumns().getOrDefault(v1, Set.of()));
            }
            tables.put(v1, new CapturedColumns.Table(new TreeSet<>(read), own.wholeRow().orElse(null)));
        });
        return new CapturedColumns(tables);
    }
}
