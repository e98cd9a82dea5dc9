package dev.cdcmigrator.avro.internal;

import dev.cdcmigrator.avro.V2Column;
import dev.cdcmigrator.avro.V2Column.Kind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a table's columns from PostgreSQL's catalog and maps each column's type to Avro; its primary key is
 * {@link dev.cdcmigrator.pg.Catalog#primaryKey}'s.
 */
public final class PgCatalog {

    private static final String COLUMNS = """
            SELECT a.attname, a.attnotnull, a.atttypid, a.atttypmod, a.attndims, a.attgenerated,
                   format_type(a.atttypid, a.atttypmod) AS pg_type, pg_get_expr(d.adbin, d.adrelid) AS default_expr
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""";

    private static final String TYPE = """
            SELECT t.typname, n.nspname, t.typtype, t.typelem, t.typlen, t.typbasetype, t.typtypmod, t.typnotnull
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.oid = ?""";

    private static final Pattern STRING_LITERAL = Pattern.compile("\\(*'((?:[^']|'')*)'(?:::[^'()]+)?\\)*(?:::[^'()]+)?");
    private static final Pattern NUMBER_LITERAL = Pattern.compile("\\(*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\)*(?:::[^'()]+)?");

    private record TypeInfo(String name, String namespace, char type, long elem, int len, long base, int baseTypmod, boolean notNull) {
    }

    private final Connection connection;
    private final Map<Long, TypeInfo> types = new HashMap<>();

    public PgCatalog(Connection connection) {
        this.connection = connection;
    }

    /**
     * The columns of {@code schema.table} in table order.
     *
     * @throws IllegalArgumentException if there is no such table (or view) or it has no columns
     */
    public List<V2Column> columns(String schema, String table) throws SQLException {
        List<V2Column> columns = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(COLUMNS)) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.add(column(rs));
                }
            }
        }
        if (columns.isEmpty()) {
            throw new IllegalArgumentException("table " + schema + "." + table + " does not exist (or has no columns) in "
                    + connection.getMetaData().getURL());
        }
        return columns;
    }

    private V2Column column(ResultSet rs) throws SQLException {
        String name = rs.getString("attname");
        boolean notNull = rs.getBoolean("attnotnull");
        int typmod = rs.getInt("atttypmod");
        int declaredDims = rs.getInt("attndims");
        String pgType = rs.getString("pg_type");
        boolean generated = !rs.getString("attgenerated").isEmpty();
        String defaultExpr = rs.getString("default_expr");

        TypeInfo type = type(rs.getLong("atttypid"));
        int dims = 0;
        // Unwrap domains and arrays (of domains...) down to the base element type.
        while (true) {
            if (type.type() == 'd') {
                notNull |= type.notNull() && dims == 0;
                if (typmod < 0) {
                    typmod = type.baseTypmod();
                }
                type = type(type.base());
            } else if (type.elem() != 0 && type.len() == -1) {
                dims++;
                type = type(type.elem());
            } else {
                break;
            }
        }
        if (dims > 0 && declaredDims > dims) {
            dims = declaredDims;
        }
        Kind kind = kind(type);
        int precision = 0;
        int scale = 0;
        if (kind == Kind.DECIMAL) {
            if (typmod < 4) {
                kind = Kind.TEXT;
            } else {
                precision = ((typmod - 4) >> 16) & 0xffff;
                scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
                if (scale < 0 || scale > precision) {
                    kind = Kind.TEXT;
                    precision = 0;
                    scale = 0;
                }
            }
        }
        String defaultText = !notNull || generated || dims > 0 || defaultExpr == null ? null : constant(defaultExpr);
        return new V2Column(name, AvroNames.field(name), pgType, kind, precision, scale, dims, !notNull, defaultText);
    }

    private static Kind kind(TypeInfo type) {
        if (type.type() == 'e') {
            return Kind.ENUM;
        }
        if (!type.namespace().equals("pg_catalog")) {
            return type.name().equals("citext") ? Kind.STRING : Kind.TEXT;
        }
        return switch (type.name()) {
            case "bool" -> Kind.BOOLEAN;
            case "int2", "int4" -> Kind.INT;
            case "int8", "oid" -> Kind.LONG;
            case "float4" -> Kind.FLOAT;
            case "float8" -> Kind.DOUBLE;
            case "numeric" -> Kind.DECIMAL;
            case "text", "varchar", "bpchar", "char", "name" -> Kind.STRING;
            case "uuid" -> Kind.UUID;
            case "json", "jsonb" -> Kind.JSON;
            case "bytea" -> Kind.BYTES;
            case "date" -> Kind.DATE;
            case "time" -> Kind.TIME_MICROS;
            case "timestamptz" -> Kind.TIMESTAMP_MICROS;
            case "timestamp" -> Kind.LOCAL_TIMESTAMP_MICROS;
            default -> Kind.TEXT;
        };
    }

    /**
     * The constant a default expression stands for, in text input form, or null if it is not a plain constant
     * ({@code 'x'::text}, {@code 0}, {@code (-1)}, {@code '0'::numeric}, {@code true}); anything else (a function
     * call, an escape string, an expression) gives no Avro default.
     */
    static String constant(String expression) {
        String e = expression.trim();
        if (e.equals("true") || e.equals("false")) {
            return e;
        }
        Matcher string = STRING_LITERAL.matcher(e);
        if (string.matches()) {
            return string.group(1).replace("''", "'");
        }
        Matcher number = NUMBER_LITERAL.matcher(e);
        if (number.matches()) {
            return number.group(1);
        }
        return null;
    }

    private TypeInfo type(long oid) throws SQLException {
        TypeInfo known = types.get(oid);
        if (known != null) {
            return known;
        }
        try (PreparedStatement ps = connection.prepareStatement(TYPE)) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("pg_type has no type with oid " + oid);
                }
                TypeInfo type = new TypeInfo(rs.getString("typname"), rs.getString("nspname"), rs.getString("typtype").charAt(0),
                        rs.getLong("typelem"), rs.getInt("typlen"), rs.getLong("typbasetype"), rs.getInt("typtypmod"),
                        rs.getBoolean("typnotnull"));
                types.put(oid, type);
                return type;
            }
        }
    }
}
