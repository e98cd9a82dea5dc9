package dev.cdcmigrator.pg;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * One consistent view of a database shared by several connections: a read-only REPEATABLE READ transaction exports
 * its snapshot ({@code pg_export_snapshot}), and every other connection's transaction starts from it
 * ({@code SET TRANSACTION SNAPSHOT}), so parallel readers see the same committed rows. The exporting transaction
 * stays open until {@link #close()}, which importers need while they start.
 */
public final class Snapshot implements AutoCloseable {

    private final Connection exporter;
    private final String id;

    private Snapshot(Connection exporter, String id) {
        this.exporter = exporter;
        this.id = id;
    }

    /** Starts a snapshot transaction on {@code connection} (which it then owns) and exports it. */
    public static Snapshot export(Connection connection) throws SQLException {
        try {
            readOnlyRepeatableRead(connection);
            try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_export_snapshot()")) {
                rs.next();
                return new Snapshot(connection, rs.getString(1));
            }
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    /** The exporting connection, inside the snapshot; for reads that must see the same rows as the importers. */
    public Connection connection() {
        return exporter;
    }

    /** Starts a transaction on {@code connection} that sees exactly this snapshot; returns the connection. */
    public Connection share(Connection connection) throws SQLException {
        return join(connection, id);
    }

    /**
     * Starts a transaction on {@code connection} that sees exactly the exported snapshot {@code id} (from
     * {@code pg_export_snapshot} or a replication slot's creation); returns the connection, or closes it on failure.
     */
    public static Connection join(Connection connection, String id) throws SQLException {
        try {
            readOnlyRepeatableRead(connection);
            try (Statement st = connection.createStatement()) {
                // The id comes from pg_export_snapshot (hex digits and dashes); SET takes no parameters.
                st.execute("SET TRANSACTION SNAPSHOT '" + id.replace("'", "''") + "'");
            }
            return connection;
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private static void readOnlyRepeatableRead(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        connection.setReadOnly(true);
        connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
    }

    @Override
    public void close() throws SQLException {
        exporter.close();
    }
}
