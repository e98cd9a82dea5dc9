package dev.cdcmigrator.avro;

import dev.cdcmigrator.pg.Connections;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The columns of the v2 tables, from the target database's catalog ({@link V2AvroSchemas#columns}): each table read
 * once, and read again when a change carries a column the last read did not have (a column added to the v2 table
 * while the migration runs), at most once per {@code rereadInterval} per table so that a column that really is
 * missing does not query the catalog for every record. Thread-safe.
 */
public final class V2Catalog {

    /** Reads one table's columns. */
    @FunctionalInterface
    public interface Source {

        /**
         * The columns of v2 table {@code table}, in table order.
         *
         * @throws IllegalArgumentException if there is no such table
         */
        List<V2Column> columns(String table) throws SQLException;
    }

    private record Read(List<V2Column> columns, long atNanos) {
    }

    private final Source source;
    private final long rereadIntervalNanos;
    private final Map<String, Read> tables = new ConcurrentHashMap<>();

    /**
     * @param source where the columns come from
     * @param rereadInterval the least time between two reads of one table
     */
    public V2Catalog(Source source, Duration rereadInterval) {
        this.source = Objects.requireNonNull(source, "source");
        this.rereadIntervalNanos = rereadInterval.toNanos();
    }

    /**
     * The catalog of the tables in schema {@code schema} of the database at {@code url}, each read on a connection of
     * its own (reads are rare: once per table, then only for an unknown column), re-read at most every 5 s.
     */
    public static V2Catalog of(String url, String user, String password, String schema) {
        return new V2Catalog(table -> {
            try (Connection connection = Connections.connect(url, Connections.settings(user, password, "cdc-migrator-avro-schemas"))) {
                return V2AvroSchemas.columns(connection, schema, table);
            }
        }, Duration.ofSeconds(5));
    }

    /**
     * The columns of {@code table} as last read, reading them if they never were.
     *
     * @throws IllegalArgumentException if there is no such table
     * @throws IllegalStateException if the catalog cannot be read
     */
    public List<V2Column> columns(String table) {
        Read read = tables.get(table);
        return read != null ? read.columns() : read(table).columns();
    }

    /**
     * The columns of {@code table} read again, for a column the last read did not have; the last read when that was
     * less than the re-read interval ago.
     *
     * @throws IllegalArgumentException if there is no such table
     * @throws IllegalStateException if the catalog cannot be read
     */
    public List<V2Column> reread(String table) {
        Read read = tables.get(table);
        if (read != null && System.nanoTime() - read.atNanos() < rereadIntervalNanos) {
            return read.columns();
        }
        return read(table).columns();
    }

    private Read read(String table) {
        List<V2Column> columns;
        try {
            columns = List.copyOf(source.columns(table));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the columns of v2 table " + table + " for its Avro schema: " + e.getMessage(), e);
        }
        Read read = new Read(columns, System.nanoTime());
        tables.put(table, read);
        return read;
    }
}
