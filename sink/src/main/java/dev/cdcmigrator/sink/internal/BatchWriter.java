package dev.cdcmigrator.sink.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.pg.Catalog;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes reduced v2 changes with one batched statement per table and shape: upserts as
 * {@code INSERT ... ON CONFLICT (key) DO UPDATE}, deletes by key, and a partial update ({@link V2Change#partial()}) as
 * an {@code UPDATE} of the columns it carries, which fails when the row is missing: it does not know every value to
 * insert one with. The caller owns the transaction.
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
     * @param types every column's type ({@code format_type}), to compare a keyless change's old values
     */
    private record Columns(Set<String> arrays, Set<String> identityAlways, Map<String, String> types) {
    }

    /**
     * Why a keyless update or delete, or a partial update, did not apply: no v2 row holds its old values, or has its
     * key (SQLSTATE no_data_found).
     */
    private static final String NO_MATCHING_ROW = "P0002";

    public BatchWriter(String targetSchema) {
        this.schema = SqlText.quote(targetSchema);
        this.schemaName = targetSchema;
    }

    /** A change the target refused, with the database's message. */
    public record Rejected(PendingChange pending, String reason) {
    }

    /**
     * Applies every change in the caller's transaction; any failure fails the whole batch, also a keyless update or
     * delete, or a partial update, that finds no row to act on ({@link #applyIsolating} then names it).
     */
    public void applyAll(Connection connection, Collection<PendingChange> changes) throws SQLException {
        // Keys are unique after reduction, so deletes and upserts of different rows commute and can be grouped freely.
        // Keyless changes have no key to reduce by: they keep their order, in runs of one statement.
        Map<String, List<V2Change>> groups = new LinkedHashMap<>();
        List<Map.Entry<String, List<V2Change>>> keylessRuns = new ArrayList<>();
        for (PendingChange p : changes) {
            String sql = statement(p.change(), columns(connection, p.change().table()));
            if (!p.change().keyless()) {
                groups.computeIfAbsent(sql, s -> new ArrayList<>()).add(p.change());
            } else if (!keylessRuns.isEmpty() && keylessRuns.get(keylessRuns.size() - 1).getKey().equals(sql)) {
                keylessRuns.get(keylessRuns.size() - 1).getValue().add(p.change());
            } else {
                keylessRuns.add(Map.entry(sql, new ArrayList<>(List.of(p.change()))));
            }
        }
        for (Map.Entry<String, List<V2Change>> run : keylessRuns) {
            try (PreparedStatement ps = connection.prepareStatement(run.getKey())) {
                for (V2Change change : run.getValue()) {
                    bindAll(ps, change, columns(connection, change.table()));
                    ps.addBatch();
                }
                failOnMissingRow(run.getValue(), ps.executeBatch());
            }
        }
        for (Map.Entry<String, List<V2Change>> group : groups.entrySet()) {
            try (PreparedStatement ps = connection.prepareStatement(group.getKey())) {
                for (V2Change change : group.getValue()) {
                    bindAll(ps, change, columns(connection, change.table()));
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                failOnMissingRow(group.getValue(), counts);
            }
        }
    }

    private static void failOnMissingRow(List<V2Change> changes, int[] counts) throws SQLException {
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] == 0 && actsOnARow(changes.get(i))) {
                throw new SQLException(noMatchingRow(changes.get(i)), NO_MATCHING_ROW);
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
                bindAll(ps, p.change(), table);
                if (ps.executeUpdate() == 0 && actsOnARow(p.change())) {
                    throw new SQLException(noMatchingRow(p.change()), NO_MATCHING_ROW);
                }
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

    /** Whether the change must find its row: one by its old values, or a partial update by its key. */
    private static boolean actsOnARow(V2Change change) {
        return change.keyless() ? change.op() == Op.UPDATE || change.op() == Op.DELETE : change.partial();
    }

    private static String noMatchingRow(V2Change change) {
        if (!change.keyless()) {
            return "v2 table " + change.table() + " has no row with key " + change.key() + " for this update, which"
                    + " leaves columns " + change.unchanged() + " as the row holds them (unchanged TOASTed values of"
                    + " the source the change did not carry, and no earlier image of the row was known): writing it"
                    + " would leave them NULL or their defaults. The target differs from the source there (see"
                    + " migrator verify); an update that carries those columns, or a new snapshot, brings the row";
        }
        return "no row of v2 table " + change.table() + " holds the old values " + change.before() + " of this "
                + change.op().name().toLowerCase(java.util.Locale.ROOT) + " (of a v1 table without a primary key):"
                + " v2 differs from v1 there (see migrator verify)";
    }

    /**
     * A keyless change's statement: an insert is an {@code INSERT} (two identical rows stay two rows); an update or
     * delete acts on one row whose every column the change writes equals the old value, compared as the text of the
     * column's type (so that json, point or xml, which have no equality operator, compare too; both sides went
     * through the same input function); a truncate deletes every row (in the batch's transaction, unlike TRUNCATE).
     */
    private String keylessStatement(V2Change change, Columns special) {
        String table = schema + "." + SqlText.quote(change.table());
        if (change.op() == Op.TRUNCATE) {
            return "DELETE FROM " + table;
        }
        if (change.op() == Op.CREATE || change.op() == Op.READ) {
            List<String> columns = names(change.after());
            boolean overriding = columns.stream().anyMatch(special.identityAlways()::contains);
            return "INSERT INTO " + table + " (" + Sql.columnList(columns) + ")" + (overriding ? " OVERRIDING SYSTEM VALUE" : "")
                    + " VALUES (" + columns.stream().map(c -> "?").collect(Collectors.joining(", ")) + ")";
        }
        // tableoid too: a ctid is unique only within one partition of a partitioned table.
        String oneRow = "(tableoid, ctid) = (SELECT tableoid, ctid FROM " + table + " WHERE "
                + names(change.before()).stream().map(c -> SqlText.quote(c) + "::text IS NOT DISTINCT FROM CAST(? AS "
                        + special.types().getOrDefault(c, "text") + ")::text").collect(Collectors.joining(" AND "))
                + " LIMIT 1)";
        if (change.op() == Op.DELETE) {
            return "DELETE FROM " + table + " WHERE " + oneRow;
        }
        return "UPDATE " + table + " SET " + names(change.after()).stream().filter(c -> !special.identityAlways().contains(c))
                .map(c -> SqlText.quote(c) + " = ?").collect(Collectors.joining(", ")) + " WHERE " + oneRow;
    }

    private String statement(V2Change change, Columns special) {
        if (change.keyless()) {
            return keylessStatement(change, special);
        }
        String table = schema + "." + SqlText.quote(change.table());
        List<String> key = names(change.key());
        if (change.op() == Op.DELETE) {
            return "DELETE FROM " + table + " WHERE "
                    + key.stream().map(c -> SqlText.quote(c) + " = ?").collect(Collectors.joining(" AND "));
        }
        List<String> columns = names(change.after());
        List<String> updated = columns.stream().filter(c -> !key.contains(c) && !special.identityAlways().contains(c)).toList();
        if (change.partial()) {
            // With nothing else to set, the key set to itself still counts the row, so a missing one is told.
            String set = updated.isEmpty() ? SqlText.quote(key.get(0)) + " = " + SqlText.quote(key.get(0))
                    : updated.stream().map(c -> SqlText.quote(c) + " = ?").collect(Collectors.joining(", "));
            return "UPDATE " + table + " SET " + set + " WHERE "
                    + key.stream().map(c -> SqlText.quote(c) + " = ?").collect(Collectors.joining(" AND "));
        }
        String placeholders = columns.stream().map(c -> "?").collect(Collectors.joining(", "));
        String onConflict = updated.isEmpty() ? "DO NOTHING" : "DO UPDATE SET "
                + updated.stream().map(c -> SqlText.quote(c) + " = EXCLUDED." + SqlText.quote(c)).collect(Collectors.joining(", "));
        boolean overriding = columns.stream().anyMatch(special.identityAlways()::contains);
        return "INSERT INTO " + table + " (" + Sql.columnList(columns) + ")" + (overriding ? " OVERRIDING SYSTEM VALUE" : "")
                + " VALUES (" + placeholders + ") ON CONFLICT (" + Sql.columnList(key) + ") " + onConflict;
    }

    private void bindAll(PreparedStatement ps, V2Change change, Columns special) throws SQLException {
        int i = 1;
        if (change.keyless()) {
            if (change.op() == Op.UPDATE) {
                i = bind(ps, i, change.after(), special, special.identityAlways());
            }
            if (change.before() != null) {
                bind(ps, i, change.before(), special, Set.of());
            } else if (change.after() != null) {
                bind(ps, i, change.after(), special, Set.of());
            }
            return;
        }
        if (change.partial()) {
            Set<String> notSet = new HashSet<>(special.identityAlways());
            change.key().fieldNames().forEachRemaining(notSet::add);
            i = bind(ps, i, change.after(), special, notSet);
            bind(ps, i, change.key(), special, Set.of());
            return;
        }
        bind(ps, i, change.op() == Op.DELETE ? change.key() : change.after(), special, Set.of());
    }

    /** Binds the values of {@code values} but those of {@code skipped} from {@code index} on; returns the next index. */
    private static int bind(PreparedStatement ps, int index, ObjectNode values, Columns special, Set<String> skipped)
            throws SQLException {
        int i = index;
        for (var it = values.fields(); it.hasNext(); ) {
            var column = it.next();
            if (!skipped.contains(column.getKey())) {
                Sql.bind(ps, i++, column.getValue(), special.arrays().contains(column.getKey()));
            }
        }
        return i;
    }

    private Columns columns(Connection connection, String table) throws SQLException {
        Columns known = columns.get(table);
        if (known != null) {
            return known;
        }
        Set<String> arrays = new HashSet<>();
        Set<String> identityAlways = new HashSet<>();
        Map<String, String> types = new HashMap<>();
        // A table v2 lacks has no columns here: the write then fails, naming it.
        Optional<Catalog.Relation> relation = Catalog.relation(connection, schemaName, table);
        if (relation.isPresent()) {
            for (Catalog.Column column : Catalog.columns(connection, relation.get().oid()).values()) {
                if (column.isArray()) {
                    arrays.add(column.name());
                }
                if (column.identity() == 'a') {
                    identityAlways.add(column.name());
                }
                types.put(column.name(), column.type());
            }
        }
        Columns found = new Columns(Set.copyOf(arrays), Set.copyOf(identityAlways), Map.copyOf(types));
        columns.put(table, found);
        return found;
    }

    private static List<String> names(ObjectNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
