package dev.cdcmigrator.bench;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Small JDBC helpers for the benchmark's own connections (every one in UTC, autocommit). */
final class Db {

    static final String DATABASE = "bench";

    private Db() {
    }

    static Connection connect(LocalPostgres pg) throws SQLException {
        Connection c = DriverManager.getConnection(pg.jdbcUrl(DATABASE) + "?ApplicationName=bench", pg.user(), "");
        try (Statement st = c.createStatement()) {
            st.execute("SET TimeZone = 'UTC'");
        }
        return c;
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    static long queryLong(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static String queryString(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
