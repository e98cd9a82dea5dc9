package dev.cdcmigrator.avro;

import dev.cdcmigrator.avro.internal.PgCatalog;
import dev.cdcmigrator.pg.Catalog;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;

/**
 * Derives the Avro schemas of v2 tables from PostgreSQL's catalog ({@code pg_attribute}, {@code pg_type},
 * {@code format_type}, {@code pg_index}), so the schemas follow the v2 tables: add a column to a v2 table, derive
 * again, and the next record registers a new (compatible) version.
 *
 * <p>Type mapping (arrays of any of these become Avro arrays of nullable elements, one level per dimension; domains
 * map as their base type):
 * <table>
 *   <caption>PostgreSQL to Avro</caption>
 *   <tr><th>PostgreSQL</th><th>Avro</th></tr>
 *   <tr><td>boolean</td><td>boolean</td></tr>
 *   <tr><td>smallint, integer</td><td>int</td></tr>
 *   <tr><td>bigint, oid</td><td>long</td></tr>
 *   <tr><td>real / double precision</td><td>float / double</td></tr>
 *   <tr><td>numeric(p,s)</td><td>bytes, logical type decimal(p,s)</td></tr>
 *   <tr><td>numeric (no precision), numeric with negative scale</td><td>string (PostgreSQL text; any scale, NaN and infinity)</td></tr>
 *   <tr><td>text, varchar, char, name, citext</td><td>string</td></tr>
 *   <tr><td>enum types</td><td>string (labels can be added mid-stream; see {@link V2Column.Kind#ENUM})</td></tr>
 *   <tr><td>uuid</td><td>string, logical type uuid</td></tr>
 *   <tr><td>json, jsonb</td><td>string (the JSON text)</td></tr>
 *   <tr><td>bytea</td><td>bytes</td></tr>
 *   <tr><td>date</td><td>int, logical type date</td></tr>
 *   <tr><td>time</td><td>long, logical type time-micros</td></tr>
 *   <tr><td>timestamp with time zone</td><td>long, logical type timestamp-micros</td></tr>
 *   <tr><td>timestamp without time zone</td><td>long, logical type local-timestamp-micros</td></tr>
 *   <tr><td>anything else (timetz, interval, money, inet, ranges, ...)</td><td>string (PostgreSQL text form)</td></tr>
 * </table>
 * A nullable column is a union {@code ["null", T]} with default null; see {@link V2TableSchema} for the records.
 */
public final class V2AvroSchemas {

    private final String namespace;

    /** Schemas named under {@link V2TableSchema#DEFAULT_NAMESPACE}. */
    public V2AvroSchemas() {
        this(V2TableSchema.DEFAULT_NAMESPACE);
    }

    /** Schemas named under {@code namespace} (each table's records in {@code <namespace>.<table>}). */
    public V2AvroSchemas(String namespace) {
        this.namespace = Objects.requireNonNull(namespace, "namespace");
    }

    /**
     * The schemas of {@code schema.table} keyed by its primary key.
     *
     * @throws IllegalArgumentException if the table does not exist or has no primary key
     * @throws SQLException if the catalog cannot be read
     */
    public V2TableSchema derive(Connection connection, String schema, String table) throws SQLException {
        return derive(connection, schema, table, null);
    }

    /**
     * The schemas of {@code schema.table} keyed by {@code key} (the spec's v2 key), or by its primary key when
     * {@code key} is null.
     *
     * @throws IllegalArgumentException if the table does not exist, a key column is not one of its columns, two
     *     columns map to one Avro name, or there is no key
     * @throws SQLException if the catalog cannot be read
     */
    public V2TableSchema derive(Connection connection, String schema, String table, List<String> key) throws SQLException {
        PgCatalog catalog = new PgCatalog(connection);
        List<V2Column> columns = catalog.columns(schema, table);
        List<String> keyColumns = key;
        if (keyColumns == null || keyColumns.isEmpty()) {
            keyColumns = Catalog.primaryKey(connection, schema, table);
            if (keyColumns.isEmpty()) {
                throw new IllegalArgumentException("table " + schema + "." + table
                        + " has no primary key; give its v2 key columns (the spec's key)");
            }
        }
        return V2TableSchema.of(namespace, table, columns, keyColumns);
    }

    /**
     * The columns of {@code schema.table} in table order, each mapped to Avro as above, without choosing a key: for
     * schemas of a subset of the columns ({@link V2TableSchema#of}), as {@link V2AvroWriter} makes them per change.
     *
     * @throws IllegalArgumentException if the table does not exist
     * @throws SQLException if the catalog cannot be read
     */
    public static List<V2Column> columns(Connection connection, String schema, String table) throws SQLException {
        return new PgCatalog(connection).columns(schema, table);
    }

    /** The namespace the schemas are named under. */
    public String namespace() {
        return namespace;
    }
}
