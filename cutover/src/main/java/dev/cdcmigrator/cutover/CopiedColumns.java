package dev.cdcmigrator.cutover;

import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Resolves what the spec maps without naming it, against the live catalogs, so that {@code check}, {@code run},
 * {@code verify} and every other command work from the same explicit tables and named columns: first
 * {@code otherTables: copy} (the v1 tables the spec does not list that v2 also has, read from both catalogs,
 * {@link Spec#withOtherTables}), then each {@code copy: all} (its columns read from v1, {@link Spec#withCopiedColumns}).
 * A spec without either is returned as it is, without a connection; a resolved spec resolves to itself.
 */
public final class CopiedColumns {

    /**
     * What resolving gave.
     *
     * @param spec the spec with {@code otherTables} replaced by the tables it maps and every {@code copy: all} by the
     *             columns it copies
     * @param copied per table that copies, in words: the columns copied, the ones the spec names, the ones left out
     *               and why (for {@code check}, which shows the effective mapping)
     * @param others per v1 table that {@code otherTables} mapped (sorted), its partitions, whose changes PostgreSQL
     *               publishes under its name (mostly none)
     * @param notMapped per v1 table (sorted) that {@code otherTables} left out although an operator might expect it
     *                  mapped, why, and what to do to migrate it
     */
    public record Resolution(Spec spec, Map<String, String> copied, Map<String, List<String>> others,
                             Map<String, Unmapped> notMapped) {

        public Resolution {
            copied = Map.copyOf(copied);
            others = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(others));
            notMapped = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(notMapped));
        }
    }

    /**
     * Why {@code otherTables} left a v1 table out.
     *
     * @param reason what keeps it out, e.g. {@code v2 has no such table}
     * @param fix how to migrate it all the same
     */
    public record Unmapped(String reason, String fix) {
    }

    private CopiedColumns() {
    }

    /**
     * @throws SpecException naming {@code tables.<t>} when v1 has no such table, or {@code otherTables} when the spec
     *                       then maps no table at all
     * @throws UnreachableException when v1 or (for {@code otherTables}) v2 does not answer
     */
    public static Resolution resolve(Spec given) {
        Spec spec = given;
        Map<String, List<String>> others = Map.of();
        Map<String, Unmapped> notMapped = Map.of();
        if (given.otherTables() != null) {
            others = new LinkedHashMap<>();
            notMapped = new LinkedHashMap<>();
            findOthers(given, others, notMapped);
            if (given.listedTables().isEmpty() && others.isEmpty()) {
                throw SpecException.invalid("otherTables", "otherTables: copy, and tables lists none, but no v1 table"
                        + " in " + given.source().schema() + " has a table of its name in v2's " + given.target().schema()
                        + (notMapped.isEmpty() ? "" : " that it may map (left out: " + String.join(", ", notMapped.keySet()) + ")"),
                        null);
            }
            try {
                spec = given.withOtherTables(others.keySet());
            } catch (IllegalArgumentException e) {
                // Two v1 tables whose names would share a topic: the spec refuses them as it would listed ones.
                throw SpecException.invalid("otherTables", e.getMessage(), e);
            }
        }
        Set<String> copying = spec.copyingTables();
        if (copying.isEmpty()) {
            return new Resolution(spec, Map.of(), others, notMapped);
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
        return new Resolution(resolved, copied, others, notMapped);
    }

    /** A table of {@code source.schema} on v1 as {@code otherTables} weighs it. */
    private record V1Table(String name, boolean unlogged, String root, boolean migrators) {
    }

    /**
     * Fills {@code others} with the v1 tables {@code otherTables} maps, each with its partitions, and {@code notMapped}
     * with those it leaves out that an operator might expect mapped. Never mapped, and not reported: views, materialized
     * views and foreign tables (PostgreSQL publishes changes of tables only), partitions (their changes are published
     * under their root's name, with {@code publish_via_partition_root}), and the tables any migration made for itself
     * (its heartbeat tables, marked by {@link Marks}; this migration's by name too).
     */
    private static void findOthers(Spec spec, Map<String, List<String>> others, Map<String, Unmapped> notMapped) {
        var source = spec.source();
        var target = spec.target();
        List<V1Table> v1Tables = new ArrayList<>();
        Map<String, Character> v2Kinds = new LinkedHashMap<>();
        Set<String> v2Marked = new TreeSet<>();
        try (Connection v1 = Connections.open(UnreachableException.What.SOURCE, source.url(), source.user(),
                source.password(), "migrator-spec")) {
            try (PreparedStatement ps = v1.prepareStatement("""
                    SELECT c.relname, c.relpersistence = 'u',
                           (SELECT a.relname FROM pg_partition_ancestors(c.oid) p JOIN pg_class a ON a.oid = p.relid
                            WHERE c.relispartition AND NOT a.relispartition AND a.relnamespace = c.relnamespace),
                           obj_description(c.oid, 'pg_class')
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ? AND c.relkind IN ('r', 'p') ORDER BY c.relname""")) {
                ps.setString(1, source.schema());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        v1Tables.add(new V1Table(rs.getString(1), rs.getBoolean(2), rs.getString(3),
                                Marks.isMark(rs.getString(4))));
                    }
                }
            }
        } catch (SQLException e) {
            throw new UnreachableException(UnreachableException.What.SOURCE, "cannot read the tables of "
                    + source.schema() + " on v1 (otherTables): " + Connections.describe(e), e);
        }
        try (Connection v2 = Connections.open(UnreachableException.What.TARGET, target.url(), target.user(),
                target.password(), "migrator-spec");
             PreparedStatement ps = v2.prepareStatement("""
                     SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class')
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = ? AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""")) {
            ps.setString(1, target.schema());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    v2Kinds.put(rs.getString(1), rs.getString(2).charAt(0));
                    if (Marks.isMark(rs.getString(3))) {
                        v2Marked.add(rs.getString(1));
                    }
                }
            }
        } catch (SQLException e) {
            throw new UnreachableException(UnreachableException.What.TARGET, "cannot read the tables of "
                    + target.schema() + " on v2 (otherTables): " + Connections.describe(e), e);
        }

        Map<String, TableSpec> listed = spec.listedTables();
        Map<String, String> fedBy = new TreeMap<>();
        listed.forEach((v1, table) -> table.v2Tables(v1).forEach(v2 -> fedBy.putIfAbsent(v2, v1)));
        Map<String, String> listedPartitionOf = new TreeMap<>();
        Map<String, List<String>> partitions = new TreeMap<>();
        for (V1Table table : v1Tables) {
            if (table.root() != null) {
                partitions.computeIfAbsent(table.root(), k -> new ArrayList<>()).add(table.name());
                if (listed.containsKey(table.name())) {
                    listedPartitionOf.putIfAbsent(table.root(), table.name());
                }
            }
        }
        String heartbeat = new Topics(spec).heartbeatTable();
        for (V1Table table : v1Tables) {
            String name = table.name();
            if (listed.containsKey(name) || table.root() != null || table.migrators() || name.equals(heartbeat)
                    || v2Marked.contains(name)) {
                continue;
            }
            Character v2Kind = v2Kinds.get(name);
            String shown = source.schema() + "." + name;
            if (v2Kind == null || (v2Kind != 'r' && v2Kind != 'p')) {
                notMapped.put(name, new Unmapped("v2 has no such table" + (v2Kind == null ? "" : " (v2's " + target.schema()
                        + "." + name + " is a " + (v2Kind == 'v' ? "view" : v2Kind == 'm' ? "materialized view" : "foreign table")
                        + ")"), "list it under tables (with into: for a v2 table of another name) to migrate it;"
                        + " otherwise its rows stay on v1 only"));
            } else if (table.unlogged()) {
                notMapped.put(name, new Unmapped("it is UNLOGGED: logical replication carries none of its changes",
                        "ALTER TABLE " + SqlText.quote(source.schema()) + "." + SqlText.quote(name) + " SET LOGGED"
                                + " before the migration to migrate it; otherwise its rows stay on v1 only"));
            } else if (fedBy.containsKey(name)) {
                notMapped.put(name, new Unmapped("v2's " + name + " is fed by tables." + fedBy.get(name)
                        + " already: mapping " + shown + " into it too would merge the two",
                        "list it under tables to merge it (with a discriminator column in the key), or with into: for"
                                + " another v2 table"));
            } else if (listedPartitionOf.containsKey(name)) {
                notMapped.put(name, new Unmapped("its partition " + listedPartitionOf.get(name) + " is listed under"
                        + " tables, and PostgreSQL publishes a partition's changes under one name only",
                        "list " + name + " itself (it carries the rows of all its partitions) instead of its partition"));
            } else {
                others.put(name, partitions.getOrDefault(name, List.of()));
            }
        }
    }

    /**
     * The v1 table's columns in their order, the generated ones (which pgoutput does not publish) apart; none when
     * it does not exist.
     */
    private static void read(Connection v1, String schema, String table, List<String> columns, Set<String> generated)
            throws SQLException {
        Optional<Catalog.Relation> relation = Catalog.relation(v1, schema, table);
        if (relation.isPresent()) {
            for (Catalog.Column column : Catalog.columns(v1, relation.get().oid()).values()) {
                columns.add(column.name());
                if (column.generated()) {
                    generated.add(column.name());
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
