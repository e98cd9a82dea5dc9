package dev.cdcmigrator.sink;

import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What v2 suspends while the migrator applies v1's rows, and gets back at the cutover.
 *
 * <p>Each v2 table is applied on its own and in parallel per key, so a child row may arrive before its parent (and a
 * parent's delete before its children's); and v2's own triggers would rewrite the values v1 sent ({@code last_update
 * = now()}). So before the first row is written (by the sink or the copy backfill), {@link #suspend} records the
 * foreign keys of every mapped v2 table ({@code pg_get_constraintdef}) in the state schema and drops them, and
 * records and disables its triggers, except those {@code target.triggers} names; all in one transaction, so a
 * definition is never dropped without its record. That needs ownership of the tables, not superuser. {@link #enforce}
 * ({@code migrator cutover enforce}) adds the foreign keys back ({@code NOT VALID}, then {@code VALIDATE CONSTRAINT}),
 * naming the rows that have no parent if one does not validate, and enables each trigger as it was. Once it ran,
 * nothing is suspended again.
 */
public final class TargetConstraints {

    private static final Logger LOGGER = LoggerFactory.getLogger(TargetConstraints.class);
    /** How many rows without a parent a failed validation names. */
    private static final int ORPHANS_SHOWN = 5;

    private final String schema;
    private final String state;
    private final Set<String> tables;
    private final Set<String> firing;

    private TargetConstraints(String schema, String state, Set<String> tables, Set<String> firing) {
        this.schema = schema;
        this.state = state;
        this.tables = tables;
        this.firing = firing;
    }

    /** The mapped v2 tables of the spec and the triggers it keeps firing. */
    public static TargetConstraints of(Spec spec) {
        Set<String> tables = new TreeSet<>();
        spec.tables().forEach((v1, table) -> tables.addAll(table.v2Tables(v1)));
        return new TargetConstraints(spec.target().schema(), spec.target().stateSchema(), tables,
                new TreeSet<>(spec.target().triggers()));
    }

    /** One foreign key or trigger that {@link #enforce} handled. */
    public record Outcome(String table, String kind, String name, boolean ok, String detail) {

        @Override
        public String toString() {
            return (ok ? "OK    " : "ERROR ") + table + ": " + kind + " " + name + " " + detail;
        }
    }

    /**
     * Suspends the foreign keys and triggers of the mapped v2 tables (idempotent; concurrent callers wait for one
     * another). Commits on {@code connection}, which must not be in the middle of other work.
     *
     * @throws SQLException naming the table and the fix, e.g. when the user does not own it, or a trigger that
     *                      {@code target.triggers} names does not exist
     */
    public void suspend(Connection connection) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement st = connection.createStatement()) {
            createStateTables(st);
            st.execute("SELECT pg_advisory_xact_lock(hashtext(" + literal(state + ".suspended") + "))");
            if (enforced(connection)) {
                connection.commit();
                return;
            }
            missingFiringTriggers(connection);
            List<String[]> keys = foreignKeys(connection);
            for (String[] key : keys) {
                record(connection, "suspended_foreign_keys", key[0], key[1], key[2]);
                alter(st, key[0], "DROP CONSTRAINT " + quote(key[1]));
            }
            List<String[]> triggers = triggers(connection);
            for (String[] trigger : triggers) {
                record(connection, "suspended_triggers", trigger[0], trigger[1], trigger[2]);
                alter(st, trigger[0], "DISABLE TRIGGER " + quote(trigger[1]));
            }
            connection.commit();
            if (!keys.isEmpty() || !triggers.isEmpty()) {
                LOGGER.info("v2: suspended until migrator cutover enforce: foreign keys {}, triggers {}",
                        keys.stream().map(k -> k[0] + "." + k[1]).toList(), triggers.stream().map(t -> t[0] + "." + t[1]).toList());
            }
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    /**
     * Adds back every suspended foreign key and validates it, enables every suspended trigger as it was, each in a
     * transaction of its own; from then on nothing is suspended again. A foreign key that does not validate stays
     * {@code NOT VALID} (enforced for new rows) and is reported with rows that have no parent; running this again
     * retries it.
     *
     * @return one outcome per foreign key and trigger, in table order
     */
    public List<Outcome> enforce(Connection connection) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        List<Outcome> outcomes = new ArrayList<>();
        try (Statement st = connection.createStatement()) {
            createStateTables(st);
            st.execute("SELECT pg_advisory_xact_lock(hashtext(" + literal(state + ".suspended") + "))");
            st.execute("INSERT INTO " + quote(state) + ".target_enforced (id) VALUES (1) ON CONFLICT (id) DO NOTHING");
            connection.commit();
            for (String[] key : suspended(connection, "suspended_foreign_keys")) {
                outcomes.add(restoreForeignKey(connection, st, key[0], key[1], key[2]));
            }
            for (String[] trigger : suspended(connection, "suspended_triggers")) {
                String enable = switch (trigger[2]) {
                    case "A" -> "ENABLE ALWAYS TRIGGER ";
                    case "R" -> "ENABLE REPLICA TRIGGER ";
                    default -> "ENABLE TRIGGER ";
                };
                alter(st, trigger[0], enable + quote(trigger[1]));
                forget(connection, "suspended_triggers", trigger[0], trigger[1]);
                connection.commit();
                outcomes.add(new Outcome(trigger[0], "trigger", trigger[1], true, "enabled again ("
                        + enable.trim().toLowerCase().replace(" trigger", "") + ")"));
            }
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
        outcomes.sort(java.util.Comparator.comparing(Outcome::table));
        return outcomes;
    }

    private Outcome restoreForeignKey(Connection connection, Statement st, String table, String name, String definition)
            throws SQLException {
        if (!constraintExists(connection, table, name)) {
            alter(st, table, "ADD CONSTRAINT " + quote(name) + " " + notValid(definition));
            connection.commit();
        }
        try {
            alter(st, table, "VALIDATE CONSTRAINT " + quote(name));
            forget(connection, "suspended_foreign_keys", table, name);
            connection.commit();
            return new Outcome(table, "foreign key", name, true, "valid: " + definition);
        } catch (SQLException e) {
            connection.rollback();
            if (!"23503".equals(e.getSQLState())) {
                throw e;
            }
            return new Outcome(table, "foreign key", name, false, "does not validate (" + e.getMessage().lines().findFirst()
                    .orElse("") + "); rows without a parent: " + orphans(connection, table, name) + "; it stays NOT VALID"
                    + " (new rows are checked); fix the rows, then run migrator cutover enforce again");
        }
    }

    /** Up to {@link #ORPHANS_SHOWN} referencing values of {@code table} that {@code name}'s parent table lacks. */
    private String orphans(Connection connection, String table, String name) throws SQLException {
        List<String> columns = new ArrayList<>();
        List<String> parentColumns = new ArrayList<>();
        String parent;
        try (PreparedStatement ps = connection.prepareStatement("""
                SELECT c.confrelid::regclass::text, a.attname, pa.attname
                FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(child, parent, i)
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child
                JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent
                WHERE n.nspname = ? AND r.relname = ? AND c.conname = ? ORDER BY k.i""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            ps.setString(3, name);
            try (ResultSet rs = ps.executeQuery()) {
                parent = null;
                while (rs.next()) {
                    parent = rs.getString(1);
                    columns.add(quote(rs.getString(2)));
                    parentColumns.add(quote(rs.getString(3)));
                }
            }
        }
        StringBuilder match = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            match.append(i == 0 ? "" : " AND ").append("p.").append(parentColumns.get(i)).append(" = c.").append(columns.get(i));
        }
        String sql = "SELECT DISTINCT " + columns.stream().map(col -> "c." + col + "::text").collect(Collectors.joining(", "))
                + " FROM " + qualified(table) + " c WHERE "
                + columns.stream().map(col -> "c." + col + " IS NOT NULL").collect(Collectors.joining(" AND "))
                + " AND NOT EXISTS (SELECT 1 FROM " + parent + " p WHERE " + match + ") LIMIT " + ORPHANS_SHOWN;
        List<String> found = new ArrayList<>();
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                List<String> values = new ArrayList<>();
                for (int i = 1; i <= columns.size(); i++) {
                    values.add(rs.getString(i));
                }
                found.add("(" + columns.stream().map(c -> c.replace("\"", "")).collect(Collectors.joining(", ")) + ")=("
                        + String.join(", ", values) + ")");
            }
        }
        connection.commit();
        return String.join(", ", found);
    }

    private void createStateTables(Statement st) throws SQLException {
        st.execute("CREATE SCHEMA IF NOT EXISTS " + quote(state));
        st.execute("CREATE TABLE IF NOT EXISTS " + quote(state) + ".suspended_foreign_keys (v2_table text, name text,"
                + " definition text NOT NULL, suspended_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (v2_table, name))");
        st.execute("CREATE TABLE IF NOT EXISTS " + quote(state) + ".suspended_triggers (v2_table text, name text,"
                + " enabled text NOT NULL, suspended_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (v2_table, name))");
        st.execute("CREATE TABLE IF NOT EXISTS " + quote(state) + ".target_enforced (id int PRIMARY KEY,"
                + " enforced_at timestamptz NOT NULL DEFAULT now())");
    }

    private boolean enforced(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT enforced_at FROM " + quote(state) + ".target_enforced")) {
            if (rs.next()) {
                LOGGER.info("v2: constraints and triggers were enforced by migrator cutover enforce at {}; nothing is"
                        + " suspended", rs.getTimestamp(1).toInstant());
                return true;
            }
            return false;
        }
    }

    /** Foreign keys declared on the mapped tables (not the copies on their partitions): table, name, definition. */
    private List<String[]> foreignKeys(Connection connection) throws SQLException {
        return rows(connection, """
                SELECT r.relname, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE c.contype = 'f' AND c.conparentid = 0 AND n.nspname = ? AND r.relname = ANY (?)
                ORDER BY r.relname, c.conname""");
    }

    /** Enabled user triggers of the mapped tables that the spec does not keep firing: table, name, tgenabled. */
    private List<String[]> triggers(Connection connection) throws SQLException {
        return rows(connection, """
                SELECT r.relname, t.tgname, t.tgenabled::text
                FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgenabled <> 'D'
                  AND n.nspname = ? AND r.relname = ANY (?)
                ORDER BY r.relname, t.tgname""").stream().filter(t -> !firing.contains(t[0] + "." + t[1])).toList();
    }

    private void missingFiringTriggers(Connection connection) throws SQLException {
        Set<String> existing = rows(connection, """
                SELECT r.relname, t.tgname, ''
                FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE NOT t.tgisinternal AND n.nspname = ? AND r.relname = ANY (?)""").stream()
                .map(t -> t[0] + "." + t[1]).collect(Collectors.toSet());
        List<String> missing = firing.stream().filter(t -> !existing.contains(t)).toList();
        if (!missing.isEmpty()) {
            throw new SQLException("target.triggers names " + String.join(", ", missing) + ", which no mapped v2 table"
                    + " in schema " + schema + " has; fix: correct target.triggers (table.trigger)", "42704");
        }
    }

    private List<String[]> rows(Connection connection, String sql) throws SQLException {
        List<String[]> rows = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setString(1, schema);
            ps.setArray(2, connection.createArrayOf("text", tables.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
                }
            }
        }
        return rows;
    }

    private List<String[]> suspended(Connection connection, String table) throws SQLException {
        List<String[]> rows = new ArrayList<>();
        String value = table.equals("suspended_triggers") ? "enabled" : "definition";
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT v2_table, name, " + value + " FROM " + quote(state) + "." + table + " ORDER BY v2_table, name")) {
            while (rs.next()) {
                rows.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
            }
        }
        connection.commit();
        return rows;
    }

    private void record(Connection connection, String table, String v2Table, String name, String value) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + quote(state) + "." + table
                + " VALUES (?, ?, ?) ON CONFLICT (v2_table, name) DO NOTHING")) {
            ps.setString(1, v2Table);
            ps.setString(2, name);
            ps.setString(3, value);
            ps.executeUpdate();
        }
    }

    private void forget(Connection connection, String table, String v2Table, String name) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("DELETE FROM " + quote(state) + "." + table
                + " WHERE v2_table = ? AND name = ?")) {
            ps.setString(1, v2Table);
            ps.setString(2, name);
            ps.executeUpdate();
        }
    }

    private boolean constraintExists(Connection connection, String table, String name) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("""
                SELECT 1 FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE n.nspname = ? AND r.relname = ? AND c.conname = ?""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            ps.setString(3, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private void alter(Statement st, String table, String action) throws SQLException {
        try {
            st.execute("ALTER TABLE " + qualified(table) + " " + action);
        } catch (SQLException e) {
            throw new SQLException("v2 table " + schema + "." + table + ": ALTER TABLE ... " + action + ": " + e.getMessage()
                    + ("42501".equals(e.getSQLState()) ? "; the migrator suspends v2's foreign keys and triggers while it"
                    + " applies, and restores them at migrator cutover enforce, which needs ownership of the table: GRANT"
                    + " the table's owner role to the migrator's user" : ""), e.getSQLState(), e);
        }
    }

    /** A foreign key's definition added back without checking existing rows; {@code VALIDATE} checks them after. */
    private static String notValid(String definition) {
        return definition.endsWith(" NOT VALID") ? definition : definition + " NOT VALID";
    }

    private String qualified(String table) {
        return quote(schema) + "." + quote(table);
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    private static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }
}
