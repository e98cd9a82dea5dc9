package dev.cdcmigrator.cutover;

import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.cutover.internal.Catalog;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Compares v2 with v1 seen through the spec's column mapping, row by row by key. Values compare in PostgreSQL's
 * text output form, so a value is equal only if both databases print it the same.
 * Holds one table at a time in memory: fine for the example and for tests; large tables need chunked checksums.
 */
public final class Verifier {

    /** How many keys a comparison lists per kind of difference. */
    public static final int MAX_KEYS_LISTED = 10;

    private Verifier() {
    }

    /** Compares every mapping of {@code spec}, in v1 table order. */
    public static List<TableComparison> verify(Spec spec, Connection v1, Connection v2) throws SQLException {
        List<TableComparison> results = new ArrayList<>();
        for (Map.Entry<String, TableSpec> table : new TreeMap<>(spec.tables()).entrySet()) {
            for (MappingSpec mapping : table.getValue().mappings()) {
                results.add(compare(spec, table.getKey(), mapping, v1, v2));
            }
        }
        return results;
    }

    private static TableComparison compare(Spec spec, String v1Table, MappingSpec mapping, Connection v1, Connection v2)
            throws SQLException {
        String v2Table = mapping.v2Table(v1Table);
        Map<String, ColumnSpec> columns = mapping.columns();
        // Only plain copies compare here; computed ones need the transform's own code (the verification issue).
        List<String> v2Columns = columns.keySet().stream().filter(c -> copies(columns.get(c))).toList();
        List<String> v1Columns = v2Columns.stream().map(c -> columns.get(c).from()).toList();
        List<String> v2Key = mapping.explicitKey().orElseGet(() -> primaryKey(v1, spec.source().schema(), v1Table).stream()
                .map(pk -> v2Columns.stream().filter(c -> pk.equals(columns.get(c).from())).findFirst()
                        .orElseThrow(() -> new IllegalStateException("v1 key column " + v1Table + "." + pk + " is not mapped")))
                .toList());
        if (!v2Columns.containsAll(v2Key)) {
            throw new IllegalStateException("v2 key " + v2Key + " of " + v2Table + " is computed; verify compares copied keys only");
        }
        List<String> v1Key = v2Key.stream().map(c -> columns.get(c).from()).toList();
        if (mapping.where() != null) {
            throw new IllegalStateException("the mapping of " + v1Table + " into " + v2Table + " has a where filter; verify does not evaluate filters yet");
        }

        Map<String, List<String>> source = rows(v1, spec.source().schema(), v1Table, v1Key, v2Key, v1Columns);
        Map<String, List<String>> target = rows(v2, spec.target().schema(), v2Table, v2Key, v2Key, v2Columns);
        List<String> missing = new ArrayList<>();
        List<String> different = new ArrayList<>();
        for (Map.Entry<String, List<String>> row : source.entrySet()) {
            List<String> other = target.get(row.getKey());
            if (other == null) {
                missing.add(row.getKey());
            } else if (!other.equals(row.getValue())) {
                List<String> differing = new ArrayList<>();
                for (int i = 0; i < v2Columns.size(); i++) {
                    if (!Objects.equals(row.getValue().get(i), other.get(i))) {
                        differing.add(v2Columns.get(i));
                    }
                }
                different.add(row.getKey() + " " + differing);
            }
        }
        List<String> extra = target.keySet().stream().filter(k -> !source.containsKey(k)).sorted().toList();
        List<String> notCompared = columns.keySet().stream().filter(c -> !copies(columns.get(c))).toList();
        return new TableComparison(v1Table, v2Table, source.size(), target.size(),
                firstSorted(missing), firstSorted(extra), firstSorted(different), notCompared);
    }

    /** A plain copy of a v1 column, compared here; non-deterministic columns differ between runs by definition. */
    private static boolean copies(ColumnSpec column) {
        return column.from() != null && column.map() == null && column.defaultValue() == null && !column.nonDeterministic();
    }

    private static List<String> firstSorted(List<String> keys) {
        return keys.stream().sorted().limit(MAX_KEYS_LISTED).toList();
    }

    private static List<String> primaryKey(Connection c, String schema, String table) {
        try {
            List<String> key = Catalog.primaryKey(c, schema, table);
            if (key.isEmpty()) {
                throw new IllegalStateException("v1 table " + schema + "." + table + " has no primary key; name the v2 key with 'key:'");
            }
            return key;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the primary key of " + schema + "." + table + ": " + e.getMessage(), e);
        }
    }

    /** Rows by key text; keys are labelled with the v2 key names on both sides so that they compare. */
    private static Map<String, List<String>> rows(Connection c, String schema, String table, List<String> key,
                                                  List<String> keyLabels, List<String> columns) throws SQLException {
        String sql = "SELECT " + quoted(key) + ", " + quoted(columns) + " FROM " + quote(schema) + "." + quote(table);
        Map<String, List<String>> rows = new HashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                List<String> keyValues = new ArrayList<>(key.size());
                for (int i = 1; i <= key.size(); i++) {
                    keyValues.add(keyLabels.get(i - 1) + "=" + rs.getString(i));
                }
                List<String> values = new ArrayList<>(columns.size());
                for (int i = 1; i <= columns.size(); i++) {
                    values.add(rs.getString(key.size() + i));
                }
                String k = String.join(",", keyValues);
                if (rows.put(k, values) != null) {
                    // Two rows on one key would be one v2 row: the spec's key does not identify rows of this table.
                    throw new IllegalStateException(schema + "." + table + " has more than one row with key " + k
                            + "; the v2 key " + keyLabels + " must identify one row");
                }
            }
        }
        return rows;
    }

    private static String quoted(List<String> identifiers) {
        return identifiers.stream().map(Verifier::quote).collect(Collectors.joining(", "));
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
