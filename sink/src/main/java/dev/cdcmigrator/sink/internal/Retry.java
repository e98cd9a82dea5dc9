package dev.cdcmigrator.sink.internal;

import java.sql.SQLException;

/** Which database failures are worth retrying the whole batch for, as opposed to a row the target refuses. */
public final class Retry {

    private Retry() {
    }

    /**
     * Connection loss (class 08), server shutdown or restart (57P), insufficient resources (53), serialization
     * failure and deadlock (40001, 40P01) pass with time; a constraint or type violation does not.
     */
    public static boolean isTransient(SQLException e) {
        String state = e.getSQLState();
        if (state == null) {
            return true;
        }
        return state.startsWith("08") || state.startsWith("57P") || state.startsWith("53")
                || state.equals("40001") || state.equals("40P01");
    }

    /**
     * Whether a failure to open a connection is worth retrying: everything {@link #isTransient} accepts, and 55000,
     * which PostgreSQL reports while the database does not accept connections ({@code ALLOW_CONNECTIONS false}, e.g.
     * during maintenance or a cutover). On an open connection 55000 is a statement the target refuses (e.g. an update
     * of a published table without replica identity), so it is transient only here.
     */
    public static boolean isTransientOnConnect(SQLException e) {
        return isTransient(e) || "55000".equals(e.getSQLState());
    }
}
