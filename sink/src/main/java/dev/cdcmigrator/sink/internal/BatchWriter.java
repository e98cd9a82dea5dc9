package dev.cdcmigrator.sink.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes reduced v2 changes with one batched statement per table and shape: upserts as
 * {@code INSERT ... ON CONFLICT (key) DO UPDATE}, deletes by key. The caller owns the transaction.
 *
 * <p>A {@code GENERATED ALWAYS AS IDENTITY} column takes v1's value ({@code OVERRIDING SYSTEM VALUE}) when a row is
 * inserted, and is left out of the update of an existing row, which PostgreSQL refuses for it ("can only be updated
 * to DEFAULT"): an identity value is written once.
 */
public final class BatchWriter {

    private final String schema;
    private final String schemaName;
    /** Per v2 table, the columns written in a way of their own. */
    private final Map<String, Columns> columns = new HashMap<>();

    /**
     * The columns of a v2 table written in a way of their own.
     *
     * @param arrays of an array type: their values travel as JSON arrays and are bound as array literals
     * @param identityAlways {@code GENERATED ALWAYS AS IDENTITY}
     */
    private record Columns(Set<String> arrays, Set<String> identityAlways) {
    }

    public BatchWriter(String targetSchema) {
        this.schema = SqlText.quote(targetSchema);
        this.schemaName = targetSchema;
    }

    /** A change the target refused, with the database's message. */
    public record Rejected(PendingChange pending, String reason) {
    }

    /** Applies every change in the caller's transaction; any failure fails the whole batch. */
    public void applyAll(Connection connection, Collection<PendingChange> changes) throws SQLException {
        // Keys are unique after reduction, so deletes and upserts of different rows commute and can be grouped freely.
        Map<String, List<V2Change>> groups = new LinkedHashMap<>();
        for (PendingChange p : changes) {
            groups.computeIfAbsent(statement(p.change(), columns(connection, p.change().table())), s -> new ArrayList<>())
                    .add(p.change());
        }
        for (Map.Entry<String, List<V2Change>> group : groups.entrySet()) {
            try (PreparedStatement ps = connection.prepareStatement(group.getKey())) {
                for (V2Change change : group.getValue()) {
                    bindAll(ps, change, columns(connection, change.table()).arrays());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
    }

    /**
     * Applies each change under its own savepoint so that one refused row does not take the others with it.
     * Connection-level failures still propagate.
     */
    public List<Rejected> applyIsolating(Connection connection, Collection<PendingChange> changes) throws SQLException {
        List<Rejected> rejected = new ArrayList<>();
        for (PendingChange p : changes) {
            Savepoint savepoint = connection.setSavepoint();
            Columns table = columns(connection, p.change().table());
            try (PreparedStatement ps = connection.prepareStatement(statement(p.change(), table))) {
                bindAll(ps, p.change(), table.arrays());
                ps.executeUpdate();
                connection.releaseSavepoint(savepoint);
            } catch (SQLException e) {
                if (Retry.isTransient(e)) {
                    throw e;
                }
                connection.rollback(savepoint);
                rejected.add(new Rejected(p, e.getSQLState() + ": " + e.getMessage()));
            }
        }
        return rejected;
    }

    private String statement(V2Change change, Columns special) {
        String table = schema + "." + SqlText.quote(change.table());
        List<String> key = names(change.key());
        if (change.op() == Op.DELETE) {
            return "DELETE FROM " + table + " WHERE "
                    + key.stream().map(c -> SqlText.quote(c) + " = ?").collect(Collectors.joining(" AND "));
        }
        List<String> columns = names(change.after());
        List<String> updated = columns.stream().filter(c -> !key.contains(c) && !special.identityAlways().contains(c)).toList();
        String placeholders = columns.stream().map(c -> "?").collect(Collectors.joining(", "));
        String onConflict = updated.isEmpty() ? "DO NOTHING" : "DO UPDATE SET "
                + updated.stream().map(c -> SqlText.quote(c) + " = EXCLUDED." + SqlText.quote(c)).collect(Collectors.joining(", "));
        boolean overriding = columns.stream().anyMatch(special.identityAlways()::contains);
        return "INSERT INTO " + table + " (" + Sql.columnList(columns) + ")" + (overriding ? " OVERRIDING SYSTEM VALUE" : "")
                + " VALUES (" + placeholders + ") ON CONFLICT (" + Sql.columnList(key) + ") " + onConflict;
    }

    private static void bindAll(PreparedStatement ps, V2Change change, Set<String> arrays) throws SQLException {
        ObjectNode values = change.op() == Op.DELETE ? change.key() : change.after();
        int i = 1;
        for (var it = values.fields(); it.hasNext(); ) {
            var column = it.next();
            Sql.bind(ps, i++, column.getValue(), arrays.contains(column.getKey()));
        }
    }

    private Columns columns(Connection connection, String table) throws SQLException {
        Columns known = columns.get(table);
        if (known != null) {
            return known;
        }
        Set<String> arrays = new HashSet<>();
        Set<String> identityAlways = new HashSet<>();
        try (PreparedStatement ps = connection.prepareStatement("""
                SELECT a.attname, t.typcategory = 'A' FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_type t ON t.oid = a.atttypid
                WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped
                  AND (t.typcategory = 'A' OR a.attidentity = 'a')""")) {
            ps.setString(1, schemaName);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    // An identity column is an integer, never an array.
                    (rs.getBoolean(2) ? arrays : identityAlways).add(rs.getString(1));
                }
            }
        }
        Columns found = new Columns(Set.copyOf(arrays), Set.copyOf(identityAlways));
        columns.put(table, found);
        return found;
    }

    private static List<String> names(ObjectNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
