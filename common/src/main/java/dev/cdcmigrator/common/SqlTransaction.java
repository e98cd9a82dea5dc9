package dev.cdcmigrator.common;

import java.sql.Connection;
import java.sql.SQLException;

/** Work that must commit as a whole on one connection. */
public final class SqlTransaction {

    /** Work inside the transaction. */
    @FunctionalInterface
    public interface Work {
        void run() throws SQLException;
    }

    private SqlTransaction() {
    }

    /**
     * Runs {@code work} in one transaction on {@code c}: commits when it returns, rolls back and rethrows when it
     * throws. {@code c}'s auto-commit setting is the same afterwards; it must not be in the middle of other work.
     */
    public static void run(Connection c, Work work) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            work.run();
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }
}
