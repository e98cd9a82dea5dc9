package dev.cdcmigrator.testkit;

import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;

/** A real PostgreSQL server with wal_level=logical that tests can create databases in. */
public interface PostgresServer {

    /** @return the host name or address to connect to */
    String host();

    /** @return the TCP port to connect to */
    int port();

    /** @return a superuser, allowed to open replication connections */
    String user();

    /** @return the password of {@link #user()} */
    String password();

    /**
     * @param database a database name
     * @return the JDBC URL of that database on this server
     */
    String jdbcUrl(String database);

    /**
     * Creates a database with a unique name that starts with prefix (lower-case letters, digits, underscore) and
     * returns its name.
     *
     * @param prefix 1 to 40 characters of {@code [a-z0-9_]}, e.g. the test class name in snake case
     * @return the new database's name
     * @throws IllegalArgumentException if the prefix is not of that form
     */
    String createDatabase(String prefix);

    /** A new connection to {@code database} as {@link #user()}. */
    default Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database), user(), password());
    }

    /** Runs {@code sql} (one or more statements) in {@code database}, in autocommit. */
    default void execute(String database, String sql) {
        try (Connection c = connect(database); Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("SQL failed in " + database + ": " + e.getMessage() + "\n" + sql, e);
        }
    }

    /**
     * Every row of {@code query} as text in the server's own output format ({@code "null"} for SQL NULL), so that
     * values compare exactly across databases.
     */
    default List<List<String>> rows(String database, String query) {
        List<List<String>> rows = new ArrayList<>();
        try (Connection c = connect(database); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            int columns = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(columns);
                for (int i = 1; i <= columns; i++) {
                    row.add(String.valueOf(rs.getString(i)));
                }
                rows.add(row);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("query failed in " + database + ": " + e.getMessage() + "\n" + query, e);
        }
        return rows;
    }

    /**
     * Reads a logical replication slot (pgoutput) the way capture does, so that the slot is active until the returned
     * handle is closed; closing stops the stream and its connection. The slot becomes active asynchronously: await it.
     */
    default AutoCloseable readSlot(String database, String slot, String publication) throws SQLException {
        Properties props = new Properties();
        PGProperty.USER.set(props, user());
        PGProperty.PASSWORD.set(props, password());
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        Connection replication = DriverManager.getConnection(jdbcUrl(database), props);
        try {
            PGReplicationStream stream = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream()
                    .logical().withSlotName(slot).withSlotOption("proto_version", "1")
                    .withSlotOption("publication_names", publication).start();
            return () -> {
                try (replication) {
                    stream.close();
                }
            };
        } catch (SQLException | RuntimeException e) {
            replication.close();
            throw e;
        }
    }

    /**
     * Drops replication slot {@code slot} of {@code database} once no process reads it (within 30 s: the reader of a
     * stopped pipeline lets go of it asynchronously), so that it does not keep WAL on the shared server for the rest
     * of the run; nothing if there is no such slot.
     */
    default void dropSlotOnceReleased(String database, String slot) {
        String named = "FROM pg_replication_slots WHERE slot_name = '" + slot.replace("'", "''") + "'";
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> rows(database, "SELECT count(*) " + named + " AND active").get(0).get(0).equals("0"));
        execute(database, "SELECT pg_drop_replication_slot(slot_name) " + named);
    }
}
