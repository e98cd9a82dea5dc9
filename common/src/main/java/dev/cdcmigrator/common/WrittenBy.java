package dev.cdcmigrator.common;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The mark a sink leaves first in each transaction it commits: a transactional logical decoding message
 * ({@code pg_logical_emit_message}, which any user may call) with prefix {@link #PREFIX} and the migration
 * ({@code kafka.topicPrefix}) as its content. A capture of the same database reads it in the transaction's place in the
 * change stream, ahead of the transaction's rows, and so can tell the rows a migration's other direction wrote (while
 * a migration and its way back run at once) and not carry them back where they came from.
 */
public final class WrittenBy {

    /** The prefix of the mark's message. */
    public static final String PREFIX = "cdc-migrator.written-by";

    private WrittenBy() {
    }

    /** Marks the transaction open on {@code c} as written by {@code migration}. */
    public static void mark(Connection c, String migration) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_logical_emit_message(true, ?, ?)")) {
            ps.setString(1, PREFIX);
            ps.setString(2, migration);
            ps.executeQuery().close();
        }
    }
}
