package dev.cdcmigrator.pg;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * PostgreSQL catalog queries shared by the cutover tools, the copy backfill, the sink and the Avro schemas. Every name
 * is matched exactly (no case folding).
 */
public final class Catalog {

    private Catalog() {
    }

    /**
     * The primary key columns of {@code schema.table} in key order; empty when the table has no primary key.
     *
     * @throws SQLException if the table does not exist
     */
    public static List<String> primaryKey(Connection c, String schema, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND i.indisprimary
                ORDER BY array_position(i.indkey::int2[], a.attnum)""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            List<String> key = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    key.add(rs.getString(1));
                }
            }
            return key;
        }
    }

    /**
     * A relation as the current user sees it.
     *
     * @param oid its oid
     * @param kind {@code pg_class.relkind}: r table, p partitioned table, v view, m materialized view, f foreign table
     * @param replicaIdentity {@code pg_class.relreplident}: d default, f full, n nothing, i index
     * @param replicaIndex the index named by REPLICA IDENTITY USING INDEX, or null
     * @param owned whether the current user is (a member of) its owner
     * @param select whether the current user may SELECT it
     * @param insert whether the current user may INSERT into it
     * @param update whether the current user may UPDATE it
     * @param delete whether the current user may DELETE from it
     */
    public record Relation(long oid, char kind, char replicaIdentity, String replicaIndex, boolean owned,
                           boolean select, boolean insert, boolean update, boolean delete) {

        /** Whether it is a table (plain or partitioned). */
        public boolean isTable() {
            return kind == 'r' || kind == 'p';
        }

        /** What kind of relation it is, in words. */
        public String kindName() {
            return switch (kind) {
                case 'r' -> "table";
                case 'p' -> "partitioned table";
                case 'v' -> "view";
                case 'm' -> "materialized view";
                case 'f' -> "foreign table";
                case 'S' -> "sequence";
                case 'i', 'I' -> "index";
                default -> "relation of kind '" + kind + "'";
            };
        }
    }

    /** The relation {@code schema.name}, if it exists. */
    public static Optional<Relation> relation(Connection c, String schema, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT c.oid, c.relkind, c.relreplident,
                       (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                        WHERE i.indrelid = c.oid AND i.indisreplident LIMIT 1),
                       pg_has_role(c.relowner, 'USAGE'),
                       has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'INSERT'),
                       has_table_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ?""")) {
            ps.setString(1, schema);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Relation(rs.getLong(1), rs.getString(2).charAt(0), rs.getString(3).charAt(0),
                        rs.getString(4), rs.getBoolean(5), rs.getBoolean(6), rs.getBoolean(7), rs.getBoolean(8),
                        rs.getBoolean(9)));
            }
        }
    }

    /**
     * A column; a domain counts as its base type, with the domain's NOT NULL and default.
     *
     * @param name its name
     * @param type its type as PostgreSQL prints it, e.g. {@code character varying(20)}
     * @param baseType the name of its (base) type in {@code pg_type}, e.g. {@code varchar}, {@code int4}, {@code _text}
     * @param typmod the type modifier of the base type, -1 for none
     * @param notNull whether NULL is rejected
     * @param hasDefault whether it has a default (a column default, a domain default or an identity)
     * @param identity {@code attidentity}: a ALWAYS, d BY DEFAULT, or a space when not an identity column
     * @param generated whether it is a generated (computed) column
     * @param storage {@code attstorage}: p plain, e external, m main, x extended
     * @param elementType for an array, the name of its element type in {@code pg_type}; null otherwise
     * @param collation the collation it sorts by ({@code default:} and the database's {@code LC_COLLATE} for the
     *                  database default); null when its type has none
     * @param category the (base) type's {@code pg_type.typcategory}: N numeric, S string, B boolean, E enum, A array, ...
     */
    public record Column(String name, String type, String baseType, int typmod, boolean notNull, boolean hasDefault,
                         char identity, boolean generated, char storage, String elementType, String collation,
                         char category) {

        /**
         * Whether it is of an array type (a domain over one too): the spec's values for it travel as JSON arrays, which
         * v2 is given as array literals.
         */
        public boolean isArray() {
            return category == 'A';
        }
    }

    /** The live columns of a relation, in column order. */
    public static Map<String, Column> columns(Connection c, long relation) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,
                       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
                       a.attnotnull OR t.typnotnull,
                       a.atthasdef OR t.typdefault IS NOT NULL OR a.attidentity <> '',
                       a.attidentity, a.attgenerated <> '', a.attstorage, et.typname,
                       CASE WHEN co.oid IS NULL THEN NULL
                            WHEN co.collname = 'default'
                            THEN 'default:' || (SELECT datcollate FROM pg_database WHERE datname = current_database())
                            ELSE co.collname END,
                       CASE WHEN t.typtype = 'd' THEN bt.typcategory ELSE t.typcategory END
                FROM pg_attribute a
                JOIN pg_type t ON t.oid = a.atttypid
                LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
                LEFT JOIN pg_type et ON et.oid = CASE WHEN t.typtype = 'd' THEN bt.typelem ELSE t.typelem END
                                    AND et.typarray = CASE WHEN t.typtype = 'd' THEN bt.oid ELSE t.oid END
                LEFT JOIN pg_collation co ON co.oid = a.attcollation
                WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum""")) {
            ps.setLong(1, relation);
            Map<String, Column> columns = new LinkedHashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String identity = rs.getString(7);
                    columns.put(rs.getString(1), new Column(rs.getString(1), rs.getString(2), rs.getString(3),
                            rs.getInt(4), rs.getBoolean(5), rs.getBoolean(6),
                            identity == null || identity.isEmpty() ? ' ' : identity.charAt(0), rs.getBoolean(8),
                            rs.getString(9).charAt(0), rs.getString(10), rs.getString(11), rs.getString(12).charAt(0)));
                }
            }
            return columns;
        }
    }

    /** The live columns of a table, in column order; names the table when it does not exist. */
    public static Map<String, Column> tableColumns(Connection c, String schema, String table, String which)
            throws SQLException {
        Relation relation = relation(c, schema, table).filter(Relation::isTable)
                .orElseThrow(() -> new IllegalStateException(which + " table " + schema + "." + table + " does not exist"));
        return columns(c, relation.oid());
    }

    /**
     * A unique index that {@code INSERT ... ON CONFLICT (columns)} can use as its arbiter.
     *
     * @param name the index name
     * @param primary whether it is the primary key
     * @param columns its key columns (INCLUDE columns excluded)
     */
    public record UniqueIndex(String name, boolean primary, List<String> columns) {
    }

    /**
     * The unique indexes of a relation that can arbitrate ON CONFLICT: valid, not deferrable, not partial and on plain
     * columns only.
     */
    public static List<UniqueIndex> uniqueIndexes(Connection c, long relation) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT ic.relname, i.indisprimary,
                       array(SELECT a.attname FROM generate_series(0, i.indnkeyatts - 1) k
                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k]
                             ORDER BY k)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = ? AND i.indisunique AND i.indisvalid AND i.indimmediate
                  AND i.indpred IS NULL AND i.indexprs IS NULL
                ORDER BY NOT i.indisprimary, ic.relname""")) {
            ps.setLong(1, relation);
            List<UniqueIndex> indexes = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Array columns = rs.getArray(3);
                    indexes.add(new UniqueIndex(rs.getString(1), rs.getBoolean(2),
                            Arrays.asList((String[]) columns.getArray())));
                }
            }
            return indexes;
        }
    }
}
