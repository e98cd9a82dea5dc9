package dev.cdcmigrator.cutover.internal;

import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.DimensionSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.TableSpec;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which v1 columns the spec of one v1 table reads, and where in the spec. {@code from} is exact. Expressions
 * ({@code expr}, {@code where}, a text {@code default}) are scanned for {@code row.x}, {@code row.?x},
 * {@code row['x']} and {@code row[?'x']}, an approximation of the transform's own AST walk that needs no CEL here:
 * any other mention of {@code row}, and any {@code java} column, may read any column ({@link #wholeRow()}).
 */
public final class RowReads {

    private static final Pattern ROW = Pattern.compile("\\brow\\b");
    private static final Pattern READ = Pattern.compile(
            "\\brow\\s*(?:\\.\\s*\\??\\s*([A-Za-z_][A-Za-z0-9_]*)|\\[\\s*\\??\\s*'([^']*)'\\s*]|\\[\\s*\\??\\s*\"([^\"]*)\"\\s*])");

    /**
     * One read of a v1 column.
     *
     * @param column the v1 column
     * @param path the spec path that reads it, e.g. {@code tables.users.columns.name.from}
     * @param copied true for {@code from} (exact), false when found in an expression (approximate)
     */
    public record Read(String column, String path, boolean copied) {
    }

    private final List<Read> reads;
    private final boolean wholeRow;

    private RowReads(List<Read> reads, boolean wholeRow) {
        this.reads = List.copyOf(reads);
        this.wholeRow = wholeRow;
    }

    /** The reads of every mapping of {@code table}. */
    public static RowReads of(String v1Table, TableSpec table) {
        List<Read> reads = new ArrayList<>();
        boolean wholeRow = false;
        List<MappingSpec> mappings = table.mappings();
        for (int i = 0; i < mappings.size(); i++) {
            MappingSpec mapping = mappings.get(i);
            String path = table.mappingPath(v1Table, i);
            if (mapping.where() != null) {
                wholeRow |= scan(mapping.where(), path + ".where", reads);
            }
            for (Map.Entry<String, ColumnSpec> entry : mapping.columns().entrySet()) {
                ColumnSpec column = entry.getValue();
                String columnPath = path + ".columns." + entry.getKey();
                if (column.from() != null) {
                    reads.add(new Read(column.from(), columnPath + ".from", true));
                }
                if (column.expr() != null) {
                    wholeRow |= scan(column.expr(), columnPath + ".expr", reads);
                }
                if (column.defaultValue() != null && column.defaultValue().isTextual()) {
                    wholeRow |= scan(column.defaultValue().asText(), columnPath + ".default", reads);
                }
                if (column.java() != null) {
                    wholeRow = true;
                }
            }
        }
        for (var entry : table.dimensions().entrySet()) {
            DimensionSpec dimension = entry.getValue();
            String path = "tables." + v1Table + ".dimensions." + entry.getKey();
            if (dimension.from() != null) {
                reads.add(new Read(dimension.from(), path + ".from", true));
            }
            if (dimension.lookup() != null) {
                reads.add(new Read(dimension.lookup().key(), path + ".lookup.key", true));
            }
            if (dimension.expr() != null) {
                wholeRow |= scan(dimension.expr(), path + ".expr", reads);
            }
            if (dimension.defaultValue() != null && dimension.defaultValue().isTextual()) {
                wholeRow |= scan(dimension.defaultValue().asText(), path + ".default", reads);
            }
        }
        return new RowReads(reads, wholeRow);
    }

    /** Adds the named reads of {@code expression}; true if it also mentions {@code row} in another way. */
    private static boolean scan(String expression, String path, List<Read> reads) {
        int mentions = 0;
        for (Matcher m = ROW.matcher(expression); m.find(); ) {
            mentions++;
        }
        int named = 0;
        for (Matcher m = READ.matcher(expression); m.find(); ) {
            named++;
            String column = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
            reads.add(new Read(column, path, false));
        }
        return named < mentions;
    }

    /** Every read, in spec order. */
    public List<Read> reads() {
        return reads;
    }

    /** The v1 columns read by name. */
    public Set<String> columns() {
        Set<String> columns = new LinkedHashSet<>();
        reads.forEach(read -> columns.add(read.column()));
        return columns;
    }

    /** True when some part of the spec may read columns it does not name, so unread columns cannot be told. */
    public boolean wholeRow() {
        return wholeRow;
    }
}
