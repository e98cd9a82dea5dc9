package dev.cdcmigrator.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Key ranges over a table's key, whatever its columns and types: bounds sampled in the key's own order and row
 * comparisons against them, as {@code migrator verify} and the copy backfill cut tables into chunks.
 *
 * <p>A bound is the key's column values as PostgreSQL prints them ({@code ::text}), compared as
 * {@code (a, b) > (CAST(? AS ta), CAST(? AS tb))}: each value is parsed back with its column's type, and a row
 * comparison orders as the key's btree index does (column by column, each by its type's default operator class), so
 * that a range is an index range scan. No {@code COLLATE} is added: a cast value has its type's default collation,
 * which gives way to the column's own, so text compares in the collation the index is sorted by.
 */
public final class KeyRanges {

    private KeyRanges() {
    }

    /**
     * The key of every {@code every}-th row in key order (the last rows, fewer than {@code every}, have none), each
     * column as PostgreSQL prints it; consecutive bounds cut the table into ranges of {@code every} rows. It costs one
     * pass over the key in order: a full scan of the key's index (or of the table and a sort), on {@code c}'s snapshot.
     *
     * @param qualified the quoted, schema-qualified table
     * @param quotedColumns the key's columns, quoted, in key order
     */
    public static List<List<String>> sample(Connection c, String qualified, List<String> quotedColumns, long every)
            throws SQLException {
        String key = String.join(", ", quotedColumns);
        String sql = "SELECT " + quotedColumns.stream().map(column -> column + "::text").collect(Collectors.joining(", "))
                + " FROM (SELECT " + key + ", row_number() OVER (ORDER BY " + key + ") AS n FROM " + qualified
                + ") k WHERE n % ? = 0 ORDER BY n";
        List<List<String>> bounds = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, every);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    List<String> bound = new ArrayList<>(quotedColumns.size());
                    for (int i = 1; i <= quotedColumns.size(); i++) {
                        bound.add(rs.getString(i));
                    }
                    bounds.add(List.copyOf(bound));
                }
            }
        }
        return bounds;
    }

    /**
     * A range between consecutive bounds; whether it holds the row at a bound is its comparison's choice
     * ({@link #compare}).
     *
     * @param index its position in key order
     * @param from its lower bound, null for the first range
     * @param to its upper bound, null for the last
     */
    public record Range(int index, List<String> from, List<String> to) {
    }

    /**
     * The ranges {@code bounds} (in key order, as {@link #sample} gives them) cut a table into: one more than there
     * are bounds, the first and the last open, so that rows added past the last bound after the sample are in one.
     */
    public static List<Range> between(List<List<String>> bounds) {
        List<Range> ranges = new ArrayList<>();
        for (int i = 0; i <= bounds.size(); i++) {
            ranges.add(new Range(i, i == 0 ? null : bounds.get(i - 1), i == bounds.size() ? null : bounds.get(i)));
        }
        return ranges;
    }

    /**
     * The comparison {@code (a, b) <op> (CAST(? AS ta), CAST(? AS tb))}, whose parameters are a bound's values in
     * column order ({@link #bind}).
     *
     * @param columns the key's columns as the query names them (quoted, qualified as needed), in key order
     * @param types their types as {@code format_type} prints them
     * @param op {@code >}, {@code >=}, {@code <} or {@code <=}
     */
    public static String compare(List<String> columns, List<String> types, String op) {
        if (columns.isEmpty() || columns.size() != types.size() || !List.of(">", ">=", "<", "<=").contains(op)) {
            throw new IllegalArgumentException("a key comparison needs as many types as columns (" + columns + ", "
                    + types + ") and one of > >= < <= (" + op + ")");
        }
        return "(" + String.join(", ", columns) + ") " + op + " "
                + IntStream.range(0, types.size()).mapToObj(i -> "CAST(? AS " + types.get(i) + ")")
                .collect(Collectors.joining(", ", "(", ")"));
    }

    /** Sets {@code bound}'s values from parameter {@code index} on; returns the next parameter's index. */
    public static int bind(PreparedStatement ps, int index, List<String> bound) throws SQLException {
        for (String value : bound) {
            ps.setString(index++, value);
        }
        return index;
    }
}
