package dev.cdcmigrator.common;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which columns of each captured v1 table leave v1: those the spec reads, and the table's identity (primary key and
 * replica identity index) columns, or every column when the spec may read any. Capture's Debezium filter, the copy
 * backfill's SELECT and {@code migrator check} all take it from here, so a column the spec drops reaches no raw topic,
 * transform store or dead letter. The transform computes it from its compiled mapping
 * ({@code dev.cdcmigrator.transform.ColumnReads#captured}); this class only carries the result across stages.
 */
public final class CapturedColumns {

    /**
     * What is captured of one v1 table.
     *
     * @param read the columns the spec reads by name (of this table's own mappings, and of the tables that look it up)
     * @param everyColumnBecause why every column is captured (a {@code java} column, an expression reading the row
     *                           whole), naming the spec path; null when only {@code read} and the identity are
     */
    public record Table(SortedSet<String> read, String everyColumnBecause) {

        public Table {
            read = Collections.unmodifiableSortedSet(new TreeSet<>(read));
        }

        /** Whether every column is captured. */
        public boolean everyColumn() {
            return everyColumnBecause != null;
        }

        /** Whether {@code column} is captured, given the table's identity columns. */
        public boolean captures(String column, Collection<String> identity) {
            return everyColumn() || read.contains(column) || identity.contains(column);
        }

        /**
         * The captured entries of {@code columns}, in its order.
         *
         * @param columns the table's columns (any value per column, e.g. its catalog entry)
         * @param identity the table's identity columns ({@link #identityColumns}), always kept
         */
        public <V> Map<String, V> retain(Map<String, V> columns, Collection<String> identity) {
            Map<String, V> kept = new LinkedHashMap<>();
            columns.forEach((column, value) -> {
                if (captures(column, identity)) {
                    kept.put(column, value);
                }
            });
            return kept;
        }
    }

    private final SortedMap<String, Table> tables;

    /** @param tables every captured v1 table */
    public CapturedColumns(Map<String, Table> tables) {
        this.tables = Collections.unmodifiableSortedMap(new TreeMap<>(tables));
    }

    /** Every captured v1 table, sorted. */
    public SortedMap<String, Table> tables() {
        return tables;
    }

    /**
     * @throws IllegalArgumentException for a table that is not captured
     */
    public Table of(String v1Table) {
        Table table = tables.get(v1Table);
        if (table == null) {
            throw new IllegalArgumentException("v1 table " + v1Table + " is not captured");
        }
        return table;
    }

    /**
     * The identity columns of a v1 table as v1's catalog has them now: its primary key (which keys its changes and
     * copied rows) and its replica identity index (what an update's or delete's old image carries), in key order;
     * empty for a table that does not exist.
     */
    public static Set<String> identityColumns(Connection v1, String schema, String table) throws SQLException {
        try (PreparedStatement ps = v1.prepareStatement("""
                SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indrelid = to_regclass(quote_ident(?) || '.' || quote_ident(?)) AND (i.indisprimary OR i.indisreplident)
                ORDER BY NOT i.indisprimary, array_position(i.indkey::int2[], a.attnum)""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            Set<String> columns = new LinkedHashSet<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.add(rs.getString(1));
                }
            }
            return columns;
        }
    }

    /** The identity columns of each of {@code tables} ({@link #identityColumns}). */
    public static Map<String, Set<String>> identityColumns(Connection v1, String schema, List<String> tables)
            throws SQLException {
        Map<String, Set<String>> identity = new TreeMap<>();
        for (String table : tables) {
            identity.put(table, identityColumns(v1, schema, table));
        }
        return identity;
    }
}
