package dev.cdcmigrator.pg;

import dev.cdcmigrator.common.spec.JdbcUrl;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * Opens the v1 or v2 connection of a cutover tool or the copy backfill, with bounded waits and an error that names
 * the database.
 */
public final class Connections {

    private static final int CONNECT_TIMEOUT_SECONDS = 10;

    private Connections() {
    }

    /**
     * A connection in autocommit mode, whose errors leave out the server's DETAIL and CONTEXT.
     *
     * <p>As the sink's: the copy backfill writes v2 through these connections with COPY, and a refused row's error
     * would carry its values ("Failing row contains (...)", and the COPY line as context) into the log and the
     * backfill's failure; verify and status read rows through them too. None of the tools needs those parts to say
     * what failed: the message, the SQLSTATE and the object it names remain (and
     * {@link org.postgresql.util.PSQLException#getServerErrorMessage()} still holds every field for code that asks).
     *
     * @param what {@link UnreachableException.What#SOURCE} or {@link UnreachableException.What#TARGET}
     * @param application the {@code application_name} it shows in {@code pg_stat_activity}
     * @throws UnreachableException if it cannot be opened
     */
    public static Connection open(UnreachableException.What what, String url, String user, String password,
                                  String application) {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", String.valueOf(CONNECT_TIMEOUT_SECONDS));
        props.setProperty("loginTimeout", String.valueOf(CONNECT_TIMEOUT_SECONDS));
        props.setProperty("ApplicationName", application);
        props.setProperty("logServerErrorDetail", "false");
        try {
            return DriverManager.getConnection(url, props);
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
