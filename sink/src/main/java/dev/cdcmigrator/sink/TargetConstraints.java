package dev.cdcmigrator.sink;

import static dev.cdcmigrator.common.SqlText.quote;
import static dev.cdcmigrator.common.SqlText.quoteIfNeeded;
import static dev.cdcmigrator.common.SqlText.literal;

import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.SqlTransaction;
import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * foreign keys of every mapped v2 table, and those of other tables in the target schema that reference one
 * ({@code pg_get_constraintdef}), in the state schema and drops them, and
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
    private final String migration;

    private TargetConstraints(String schema, String state, Set<String> tables, Set<String> firing, String migration) {
        this.schema = schema;
        this.state = state;
        this.migration = migration;
        this.tables = tables;
        this.firing = firing;
    }

    /** The mapped v2 tables of the spec and the triggers it keeps firing. */
    public static TargetConstraints of(Spec spec) {
        Set<String> tables = new TreeSet<>();
        spec.tables().forEach((v1, table) -> tables.addAll(table.v2Tables(v1)));
        return new TargetConstraints(spec.target().schema(), spec.target().stateSchema(), tables,
                new TreeSet<>(spec.target().triggers()), spec.kafka().topicPrefix());
    }

    /** A foreign key of a mapped v2 table, with its definition ({@code pg_get_constraintdef}). */
    public record ForeignKey(String table, String name, String definition) {
    }

    /** A trigger of a mapped v2 table, with its {@code tgenabled} ({@code O}, {@code R} or {@code A}). */
    public record Trigger(String table, String name, String enabled) {
    }

    /**
     * What {@link #suspend} finds on v2 now.
     *
     * @param enforced whether {@code cutover enforce} ran, so that nothing is suspended any more
     * @param foreignKeys what it suspends: those of the mapped v2 tables and those of other tables of the target
     *                    schema that reference one
     * @param triggers what it suspends
     * @param firing the triggers {@code target.triggers} keeps firing
     * @param missing what {@code target.triggers} names and no mapped table has
     * @param user the connection's user
     * @param notOwned tables with something to suspend that {@code user} does not own, each with its owner
     */
    public record Plan(boolean enforced, List<ForeignKey> foreignKeys, List<Trigger> triggers, List<Trigger> firing,
                       List<String> missing, String user, Map<String, String> notOwned) {
    }

    /** What {@link #suspend} would do on v2 now; reads only. */
    public Plan plan(Connection connection) throws SQLException {
        boolean enforced = false;
        try (PreparedStatement ps = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            ps.setString(1, quote(state) + ".target_enforced");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    enforced = enforced(connection);
                }
            }
        }
        // A foreign key of an unmapped table onto a mapped one is in the sink's way too: deleting a parent that
        // v1 deleted would fail on it, or cascade before v1's own deletes of the children arrive.
        List<ForeignKey> keys = rows(connection, """
                WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = ?),
                     mapped AS (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM ns) AND relname = ANY (?))
                SELECT r.relname, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
                WHERE c.contype = 'f' AND c.conparentid = 0 AND r.relnamespace = (SELECT oid FROM ns)
                  AND (c.conrelid IN (SELECT oid FROM mapped) OR c.confrelid IN (SELECT oid FROM mapped))
                ORDER BY r.relname, c.conname""", tables).stream().map(r -> new ForeignKey(r[0], r[1], r[2])).toList();
        List<Trigger> all = rows(connection, """
                SELECT r.relname, t.tgname, t.tgenabled::text
                FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND n.nspname = ? AND r.relname = ANY (?)
                ORDER BY r.relname, t.tgname""", tables).stream().map(r -> new Trigger(r[0], r[1], r[2])).toList();
        Set<String> existing = all.stream().map(t -> t.table() + "." + t.name()).collect(Collectors.toSet());
        List<Trigger> triggers = all.stream().filter(t -> !t.enabled().equals("D") && !firing.contains(t.table() + "." + t.name())).toList();
        Set<String> touched = new TreeSet<>();
        keys.forEach(k -> touched.add(k.table()));
        triggers.forEach(t -> touched.add(t.table()));
        Map<String, String> notOwned = new TreeMap<>();
        for (String[] row : rows(connection, """
                SELECT r.relname, pg_get_userbyid(r.relowner), ''
                FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE n.nspname = ? AND r.relname = ANY (?) AND NOT pg_has_role(r.relowner, 'USAGE')""", touched)) {
            notOwned.put(row[0], row[1]);
        }
        String user;
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user")) {
            rs.next();
            user = rs.getString(1);
        }
        return new Plan(enforced, keys, triggers,
                all.stream().filter(t -> firing.contains(t.table() + "." + t.name())).toList(),
                firing.stream().filter(t -> !existing.contains(t)).toList(), user, notOwned);
    }

    /**
     * Why {@link #suspend} would refuse what {@code plan} found: a trigger {@code target.triggers} names that no mapped
     * table has, and tables with something to suspend that the user does not own; nothing once enforced.
     */
    public List<Refusal> refusals(Plan plan) {
        List<Refusal> refusals = new ArrayList<>();
        if (plan.enforced()) {
            return refusals;
        }
        if (!plan.missing().isEmpty()) {
            refusals.add(new Refusal("spec target.triggers", "names " + String.join(", ", plan.missing()) + ", which no"
                    + " mapped v2 table in schema " + schema + " has", "correct target.triggers: each entry is"
                    + " <v2 table>.<trigger> of a mapped table"));
        }
        plan.notOwned().forEach((table, owner) -> refusals.add(new Refusal("v2 " + schema + "." + table, "user "
                + plan.user() + " does not own it (" + owner + " does), but the migrator must suspend its foreign keys"
                + " and triggers while it applies and restore them at migrator cutover enforce (ALTER TABLE needs"
                + " ownership, not superuser)", "GRANT " + quoteIfNeeded(owner) + " TO " + quoteIfNeeded(plan.user())
                + ", or run the migrator as " + owner)));
        return refusals;
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
        createStateTables(connection);
        List<Plan> planned = new ArrayList<>(1);
        SqlTransaction.run(connection, () -> {
            try (Statement st = connection.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(hashtext(" + literal(state + ".suspended") + "))");
                Plan plan = plan(connection);
                planned.add(plan);
                if (plan.enforced()) {
                    return;
                }
                List<Refusal> refusals = refusals(plan);
                if (!refusals.isEmpty()) {
                    throw new SQLException(refusals.stream().map(Refusal::toString).collect(Collectors.joining("; and ")), "42501");
                }
                for (ForeignKey key : plan.foreignKeys()) {
                    record(connection, "suspended_foreign_keys", key.table(), key.name(), key.definition());
                    alter(st, key.table(), "DROP CONSTRAINT " + quote(key.name()));
                }
                for (Trigger trigger : plan.triggers()) {
                    record(connection, "suspended_triggers", trigger.table(), trigger.name(), trigger.enabled());
                    alter(st, trigger.table(), "DISABLE TRIGGER " + quote(trigger.name()));
                }
            }
        });
        Plan plan = planned.get(0);
        if (plan.enforced()) {
            LOGGER.info("v2: migrator cutover enforce ran; no foreign key or trigger is suspended again");
        } else if (!plan.foreignKeys().isEmpty() || !plan.triggers().isEmpty()) {
            LOGGER.info("v2: suspended until migrator cutover enforce: foreign keys {}, triggers {}",
                    plan.foreignKeys().stream().map(k -> k.table() + "." + k.name()).toList(),
                    plan.triggers().stream().map(t -> t.table() + "." + t.name()).toList());
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
        createStateTables(connection);
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        List<Outcome> outcomes = new ArrayList<>();
        try (Statement st = connection.createStatement()) {
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
        List<String> names = new ArrayList<>();
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
                    names.add(rs.getString(2));
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
                found.add("(" + String.join(", ", names) + ")=("
                        + String.join(", ", values) + ")");
            }
        }
        connection.commit();
        return String.join(", ", found);
    }

    private void createStateTables(Connection connection) throws SQLException {
        SinkState.create(connection, state, migration, List.of(
                new SinkState.Table("suspended_foreign_keys", "v2_table text, name text, definition text NOT NULL,"
                        + " suspended_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (v2_table, name)"),
                new SinkState.Table("suspended_triggers", "v2_table text, name text, enabled text NOT NULL,"
                        + " suspended_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (v2_table, name)"),
                new SinkState.Table("target_enforced", "id int PRIMARY KEY, enforced_at timestamptz NOT NULL DEFAULT now()")));
    }

    private boolean enforced(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
             ResultSet rs = st.executeQuery("SELECT 1 FROM " + quote(state) + ".target_enforced")) {
            return rs.next();
        }
    }

    /** Runs {@code sql} with the target schema and {@code names} as its parameters; the first three columns. */
    private List<String[]> rows(Connection connection, String sql, Set<String> names) throws SQLException {
        List<String[]> rows = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setString(1, schema);
            ps.setArray(2, connection.createArrayOf("text", names.toArray()));
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

    /** A name as SQL shows it: plain when it needs no quotes. */
}
