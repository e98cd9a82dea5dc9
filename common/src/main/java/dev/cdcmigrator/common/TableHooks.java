package dev.cdcmigrator.common;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Triggers and rules on the tables the migrator keeps for itself (capture's heartbeat table on v1, the sink's state
 * tables on v2). The migrator makes none, and it writes these tables every few seconds: a role that may create a
 * trigger or rule on one (its owner, or anyone who could create it first) would run its own code with the migrator's
 * privileges on every write. So a stage refuses such a table, and {@code migrator check} says so first.
 */
public final class TableHooks {

    private TableHooks() {
    }

    /**
     * One refusal per table of {@code tables} in {@code schema} that has a trigger (other than the ones PostgreSQL
     * makes for constraints) or a rule; none for a table that does not exist.
     *
     * @param side {@code v1} or {@code v2}, for the refusal's subject
     */
    public static List<Refusal> refusals(Connection c, String side, String schema, List<String> tables) throws SQLException {
        Map<String, List<String>> hooks = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT c.relname, 'trigger ' || t.tgname, 'DROP TRIGGER ' || quote_ident(t.tgname) || ' ON '
                       || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ANY (?) AND NOT t.tgisinternal
                UNION ALL
                SELECT c.relname, 'rule ' || r.rulename, 'DROP RULE ' || quote_ident(r.rulename) || ' ON '
                       || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ANY (?) AND r.rulename <> '_RETURN'
                ORDER BY 1, 2""")) {
            Array names = c.createArrayOf("text", tables.toArray());
            ps.setString(1, schema);
            ps.setArray(2, names);
            ps.setString(3, schema);
            ps.setArray(4, names);
            Map<String, List<String>> drops = new LinkedHashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    hooks.computeIfAbsent(rs.getString(1), t -> new ArrayList<>()).add(rs.getString(2));
                    drops.computeIfAbsent(rs.getString(1), t -> new ArrayList<>()).add(rs.getString(3));
                }
            }
            List<Refusal> refusals = new ArrayList<>();
            hooks.forEach((table, found) -> refusals.add(new Refusal(side + " " + schema + "." + table, "has "
                    + String.join(", ", found) + ", which the migrator did not make: it writes this table itself, every"
                    + " few seconds, so the code would run with the migrator's privileges", "find out who made "
                    + (found.size() == 1 ? "it" : "them") + " and why, then " + String.join("; ", drops.get(table)))));
            return refusals;
        }
    }
}
