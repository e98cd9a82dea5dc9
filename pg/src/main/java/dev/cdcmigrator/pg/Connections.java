package dev.cdcmigrator.pg;

import dev.cdcmigrator.common.spec.JdbcUrl;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * How the migrator connects to v1 and v2: every connection, of every stage and tool, with the same bounded waits
 * (connect and log in within {@value #CONNECT_TIMEOUT_SECONDS} s, so that a database that does not answer is an error,
 * not a hang), an {@code application_name} saying whose it is, and errors without the server's DETAIL and CONTEXT.
 *
 * <p>Why no DETAIL: a refused row's error would carry its values ("Failing row contains (...)", and a COPY line as
 * context) into the log, {@code /ready} and dead letters; the sink applies and the copy backfill writes v2 through
 * these connections, and verify and status read rows through them. None of them needs those parts to say what failed:
 * the message, the SQLSTATE and the object it names remain (and
 * {@link org.postgresql.util.PSQLException#getServerErrorMessage()} still holds every field for code that asks).
 */
public final class Connections {

    static final int CONNECT_TIMEOUT_SECONDS = 10;

    private Connections() {
    }

    /**
     * The settings of a migrator connection (see the class comment), to which a caller may add its own.
     *
     * @param application the {@code application_name} it shows in {@code pg_stat_activity}
     */
    public static Properties settings(String user, String password, String application) {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password == null ? "" : password);
        props.setProperty("connectTimeout", String.valueOf(CONNECT_TIMEOUT_SECONDS));
        props.setProperty("loginTimeout", String.valueOf(CONNECT_TIMEOUT_SECONDS));
        props.setProperty("ApplicationName", application);
        props.setProperty("logServerErrorDetail", "false");
        return props;
    }

    /** The settings of a logical replication connection (as capture's), which runs replication commands. */
    public static Properties replicationSettings(String user, String password, String application) {
        Properties props = settings(user, password, application);
        props.setProperty("replication", "database");
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("assumeMinServerVersion", "10");
        return props;
    }

    /**
     * A connection with {@code settings} ({@link #settings}, perhaps with more), in autocommit mode; a failure is the
     * driver's, for a caller that retries or reports it in its own words.
     */
    public static Connection connect(String url, Properties settings) throws SQLException {
        return DriverManager.getConnection(url, settings);
    }

    /**
     * A connection with the migrator's {@link #settings}, in autocommit mode, whose failure says which database of the
     * spec it could not reach and what to check.
     *
     * @param what {@link UnreachableException.What#SOURCE} or {@link UnreachableException.What#TARGET}
     * @param application the {@code application_name} it shows in {@code pg_stat_activity}
     * @throws UnreachableException if it cannot be opened
     */
    public static Connection open(UnreachableException.What what, String url, String user, String password,
                                  String application) {
        try {
            return connect(url, settings(user, password, application));
        } catch (SQLException e) {
            String side = what == UnreachableException.What.SOURCE ? "source" : "target";
            String database = what == UnreachableException.What.SOURCE ? "v1" : "v2";
            throw new UnreachableException(what, "cannot connect to the " + database + " database " + JdbcUrl.shown(url) + " as "
                    + user + ": " + describe(e) + " (check " + side + ".url, " + side + ".user and " + side
                    + ".password in the spec, and that the server accepts connections from here)", e);
        }
    }

    /** An SQL error on one line, with its cause when that adds something. */
    public static String describe(SQLException e) {
        String message = String.valueOf(e.getMessage());
        Throwable cause = e.getCause();
        if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) {
            message += " (" + cause.getMessage() + ")";
        }
        return message.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
