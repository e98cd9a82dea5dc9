package dev.cdcmigrator.cutover;

import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.cutover.internal.Connections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Resolves the spec's {@code copy: all} against v1: reads the columns of each such table from v1's catalog, so that
 * {@code check}, {@code run} and {@code verify} all work from the same named columns
 * ({@link Spec#withCopiedColumns}). A spec without {@code copy: all} is returned as it is, without a connection.
 */
public final class CopiedColumns {

    /**
     * What resolving gave.
     *
     * @param spec the spec with every {@code copy: all} replaced by the columns it copies
     * @param copied per table that copies, in words: the columns copied, the ones the spec names, the ones left out
     *               and why (for {@code check}, which shows the effective mapping)
     */
    public record Resolution(Spec spec, Map<String, String> copied) {
    }

    private CopiedColumns() {
    }

    /**
     * @throws SpecException naming {@code tables.<t>} when v1 has no such table
     * @throws UnreachableException when v1 does not answer
     */
    public static Resolution resolve(Spec spec) {
        Set<String> copying = spec.copyingTables();
        if (copying.isEmpty()) {
            return new Resolution(spec, Map.of());
        }
        var source = spec.source();
        Map<String, List<String>> columns = new LinkedHashMap<>();
        Map<String, Set<String>> generated = new LinkedHashMap<>();
        try (Connection v1 = Connections.open(UnreachableException.What.SOURCE, source.url(), source.user(),
                source.password(), "migrator-spec")) {
            for (String table : copying) {
                List<String> names = new ArrayList<>();
                Set<String> skipped = new TreeSet<>();
                read(v1, source.schema(), table, names, skipped);
                if (names.isEmpty()) {
                    throw SpecException.invalid("tables." + table, "copy: all, but v1 has no table " + source.schema()
                            + "." + table + " to copy the columns of", null);
                }
                columns.put(table, names);
                generated.put(table, skipped);
            }
        } catch (SQLException e) {
            throw new UnreachableException(UnreachableException.What.SOURCE, "cannot read the columns of "
                    + String.join(", ", copying) + " on v1: " + Connections.describe(e), e);
        }
        Spec resolved = spec.withCopiedColumns(columns, generated);
        Map<String, String> copied = new LinkedHashMap<>();
        for (String table : copying) {
            copied.put(table, describe(spec.tables().get(table), resolved.tables().get(table), table,
                    columns.get(table), generated.get(table)));
        }
        return new Resolution(resolved, copied);
    }

    /** The v1 table's columns in their order, the generated ones (which pgoutput does not publish) apart. */
    private static void read(Connection v1, String schema, String table, List<String> columns, Set<String> generated)
            throws SQLException {
        try (PreparedStatement ps = v1.prepareStatement("""
                SELECT attname, attgenerated <> '' FROM pg_attribute
                WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum""")) {
            ps.setString(1, SqlText.quote(schema) + "." + SqlText.quote(table));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.add(rs.getString(1));
                    if (rs.getBoolean(2)) {
                        generated.add(rs.getString(1));
                    }
                }
            }
        }
    }

    private static String describe(TableSpec given, TableSpec resolved, String table, List<String> v1Columns,
                                   Set<String> generated) {
        List<String> parts = new ArrayList<>();
        for (int index = 0; index < resolved.mappings().size(); index++) {
            int i = index;
            var mapping = resolved.mappings().get(i);
            var columns = mapping.columns();
            List<String> copied = columns.entrySet().stream()
                    .filter(e -> e.getKey().equals(e.getValue().from()) && v1Columns.contains(e.getKey())
                            && !namedIn(given, i, e.getKey()))
                    .map(Map.Entry::getKey).toList();
            List<String> named = columns.keySet().stream().filter(c -> namedIn(given, i, c)).toList();
            parts.add("into " + mapping.v2Table(table) + " copies " + (copied.isEmpty() ? "no column" : String.join(", ", copied))
                    + " as they are" + (named.isEmpty() ? "" : "; the spec maps " + String.join(", ", named)));
        }
        List<String> left = new ArrayList<>();
        if (!given.drop().isEmpty()) {
            left.add(String.join(", ", given.drop()) + " (drop)");
        }
        if (!generated.isEmpty()) {
            left.add(String.join(", ", generated) + " (generated on v1: the change stream does not carry it; map it "
                    + "with expr, or generate it on v2)");
        }
        return String.join("; ", parts) + (left.isEmpty() ? "" : "; leaves out " + String.join("; ", left));
    }

    /** Whether mapping {@code index} of {@code given} names v2 column {@code column} itself. */
    private static boolean namedIn(TableSpec given, int index, String column) {
        return given.mappings().get(index).namedColumns().containsKey(column);
    }
}
