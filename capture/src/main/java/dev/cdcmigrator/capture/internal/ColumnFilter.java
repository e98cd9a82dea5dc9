package dev.cdcmigrator.capture.internal;

import dev.cdcmigrator.common.CapturedColumns;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Debezium's {@code column.include.list} for what capture carries: per captured table its read and identity columns
 * (or all of them), and every column of the heartbeat table. Debezium applies it to the snapshot's SELECT and to every
 * streamed row image; the key (the primary key) it builds regardless. A column of no entry is left out, so a column
 * added to v1 later is not captured until the spec reads it, and a table capture does not read (published by hand)
 * arrives without values, to be counted as unmapped.
 *
 * <p>Debezium splits the list at commas and matches each entry, case-insensitively, against the whole
 * {@code schema.table.column}. So every entry turns case-insensitivity off ({@code (?-i)}: {@code "Name"} and
 * {@code name} are two columns), and names are escaped character by character ({@link #literal}) rather than with
 * {@code Pattern.quote}, whose {@code \Q...\E} Debezium would cut at a comma inside a name. (Debezium's splitter,
 * {@code Strings.RegExSplitter}, splits at every comma not preceded by a backslash and then turns {@code \,} into
 * {@code ,}; an escaped name holds no comma at all, {@code \x{2c}} instead, so no name needs refusing.)
 */
public final class ColumnFilter {

    private ColumnFilter() {
    }

    /**
     * @param schema the v1 schema of every table
     * @param heartbeatTable capture's heartbeat table, carried whole
     * @param columns what to carry of each captured table
     * @param identity each captured table's identity columns, carried always
     */
    public static String includeList(String schema, String heartbeatTable, CapturedColumns columns,
                                     Map<String, Set<String>> identity) {
        List<String> entries = new ArrayList<>();
        columns.tables().forEach((table, captured) -> {
            String prefix = "(?-i)" + literal(schema) + "\\." + literal(table) + "\\.";
            if (captured.everyColumn()) {
                entries.add(prefix + ".*");
                return;
            }
            Set<String> carried = new TreeSet<>(captured.read());
            carried.addAll(identity.getOrDefault(table, Set.of()));
            if (!carried.isEmpty()) {
                entries.add(prefix + "(?:" + String.join("|", carried.stream().map(ColumnFilter::literal).toList()) + ")");
            }
        });
        entries.add("(?-i)" + literal(schema) + "\\." + literal(heartbeatTable) + "\\..*");
        return String.join(",", entries);
    }

    /**
     * Debezium's {@code table.include.list} (or {@code snapshot.include.collection.list}) naming exactly these tables of
     * {@code schema}, in their order: matched, case-insensitively, against {@code schema.table} as for columns.
     */
    public static String tableList(String schema, List<String> tables) {
        return String.join(",", tables.stream().map(table -> "(?-i)" + literal(schema) + "\\." + literal(table)).toList());
    }

    /**
     * {@code name} as a regular expression matching exactly it: ASCII letters, digits and {@code _} as they are, any
     * other code point as {@code \x{...}}.
     */
    static String literal(String name) {
        StringBuilder regex = new StringBuilder(name.length());
        name.codePoints().forEach(cp -> {
            if (cp < 128 && (Character.isLetterOrDigit(cp) || cp == '_')) {
                regex.appendCodePoint(cp);
            } else {
                regex.append("\\x{").append(Integer.toHexString(cp)).append('}');
            }
        });
        return regex.toString();
    }
}
