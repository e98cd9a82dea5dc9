package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.transform.internal.MappingException;
import dev.cdcmigrator.transform.internal.RawChange;
import dev.cdcmigrator.transform.internal.TableMapping;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The spec's mapping of one v1 table applied to whole v1 rows outside the stream, by the same compiled code as
 * {@link TransformTopology}: what v2 holds for a v1 row once the pipeline has applied it. For batch work over v1
 * (verification). One instance may map rows from several threads at once.
 *
 * <p>Rows are given in the transform's wire form, the form capture's change events take once decoded: the v1 columns
 * by name; booleans and integers as JSON booleans and numbers; float4 and float8 as exact decimals of their shortest
 * text ({@code Float.toString}, {@code Double.toString}), NaN and the infinities as doubles; numeric and money as
 * their text ({@code NAN}, {@code POSITIVE_INFINITY}, {@code NEGATIVE_INFINITY} for the special values); date as
 * {@code 2024-03-01}; timestamp as {@code 2024-03-01T12:34:56.000000}; timestamptz in UTC with as many fraction
 * digits as the column's precision, {@code 2024-03-01T10:34:56.000000Z}; time as {@code 12:34:56.500000}; timetz in
 * UTC as {@code 07:04:56.123Z}; interval as {@code P1Y2M3DT4H5M6.789S}; bytea as {@code \x} hex; json and jsonb as
 * their text; arrays, and other types, as PostgreSQL prints them.
 */
public final class RowMapper {

    private final TableMapping mapping;
    private final List<String> primaryKey;
    private final Set<String> jsonColumns;
    private final Lookups lookups;

    /** The lookup rows the table's dimensions read. */
    @FunctionalInterface
    public interface Lookups {

        /**
         * @param table the lookup table
         * @param key its primary key value, in wire form
         * @return the lookup row's columns that the dimensions read ({@link #lookupColumns()}), null if there is none
         */
        ObjectNode row(String table, JsonNode key);
    }

    /**
     * A v2 row that a v1 row produces.
     *
     * @param table the v2 table
     * @param key the v2 key columns and values
     * @param values every mapped v2 column, in spec order, as the sink writes them ({@link V2Change#inputText})
     */
    public record V2Row(String table, ObjectNode key, ObjectNode values) {
    }

    /** A v1 row the spec cannot map; the pipeline dead-letters such a row. */
    public static final class UnmappableRowException extends RuntimeException {

        private final String column;

        UnmappableRowException(String column, String message) {
            super(message);
            this.column = column;
        }

        /** The v2 (or v1) column at fault; null when the whole row is. */
        public String column() {
            return column;
        }
    }

    /**
     * Compiles the mapping of {@code v1Table}.
     *
     * @param spec the migration spec
     * @param v1Table a mapped v1 table
     * @param primaryKey its primary key columns, in key order (empty when it has none and every mapping names its key)
     * @param jsonColumns its json and jsonb columns, whose wire values are JSON text that expressions see parsed
     * @param lookups the lookup rows its dimensions read (as the transform holds them once caught up)
     * @throws dev.cdcmigrator.common.spec.SpecException naming the YAML path of the first problem
     */
    public RowMapper(Spec spec, String v1Table, List<String> primaryKey, Set<String> jsonColumns, Lookups lookups) {
        TableSpec table = spec.tables().get(v1Table);
        if (table == null) {
            throw new IllegalArgumentException("the spec does not map v1 table " + v1Table);
        }
        this.mapping = new TableMapping(v1Table, table);
        this.primaryKey = List.copyOf(primaryKey);
        this.jsonColumns = Set.copyOf(jsonColumns);
        this.lookups = lookups;
    }

    /** The lookup tables the table's dimensions read, with the columns each needs; empty without lookups. */
    public Map<String, Set<String>> lookupColumns() {
        return mapping.lookupColumns();
    }

    /**
     * The v2 key columns of each mapping of the table, in spec order.
     *
     * @throws IllegalStateException when a mapping names no key and does not map every primary key column
     */
    public List<List<String>> keyColumns() {
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        primaryKey.forEach(key::putNull);
        try {
            return mapping.keyColumns(key);
        } catch (MappingException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * The v2 rows one v1 row produces and the dimensions they are keyed by.
     *
     * @param dimensions the dimension columns and values the rows carry (empty without dimensions)
     * @param rows one per mapping whose {@code where} the row matches
     */
    public record Mapped(ObjectNode dimensions, List<V2Row> rows) {
    }

    /**
     * The v2 rows one v1 row produces: one per mapping whose {@code where} it matches.
     *
     * @param row the v1 row in wire form: every column of the table, or at least those capture carries
     *     ({@link ColumnReads#captured})
     * @throws UnmappableRowException naming the column when the row cannot be mapped
     */
    public List<V2Row> map(ObjectNode row) {
        return mapped(row).rows();
    }

    /**
     * As {@link #map}, with the dimensions the rows were resolved to: what the transform must know of a row another
     * process wrote to v2, to move it when its lookup rows change.
     *
     * @throws UnmappableRowException naming the column when the row cannot be mapped
     */
    public Mapped mapped(ObjectNode row) {
        ObjectNode key = JsonNodeFactory.instance.objectNode();
        primaryKey.forEach(column -> key.set(column, row.get(column)));
        ObjectNode dimensions;
        List<V2Change> changes;
        try {
            // A snapshot read with no earlier image: exactly what the topology does with a row it meets first.
            dimensions = mapping.resolveDimensions(row, jsonColumns, lookups::row);
            changes = mapping.mapFirst(new RawChange(Op.READ, null, row, null, jsonColumns), key, dimensions).changes();
        } catch (MappingException e) {
            throw new UnmappableRowException(e.column(), e.getMessage());
        } catch (RuntimeException e) {
            // The topology dead-letters these too, with the exception as the reason.
            throw new UnmappableRowException(null, e.toString());
        }
        List<V2Row> rows = new ArrayList<>(changes.size());
        changes.forEach(change -> rows.add(new V2Row(change.table(), change.key(), change.after())));
        return new Mapped(dimensions, rows);
    }
}
