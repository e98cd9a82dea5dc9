package dev.cdcmigrator.sink;

import static dev.cdcmigrator.common.SqlText.quote;
import static dev.cdcmigrator.common.SqlText.literal;

import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.TableHooks;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The migrator's own tables in {@code target.stateSchema} on v2 (the sink's and the copy backfill's), how they are
 * created, and why a stage refuses them as they are.
 */
public final class SinkState {

    /** Every table the migrator keeps in the state schema. */
    public static final List<String> TABLES = List.of("sink_offsets", "sink_dead_lettered_rows", "suspended_foreign_keys",
            "suspended_triggers", "target_enforced", "backfill", "backfill_chunks");

    /**
     * A state table.
     *
     * @param name its name, one of {@link #TABLES}
     * @param columns its column and constraint definitions, without the parentheses
     */
    public record Table(String name, String columns) {
    }

    private SinkState() {
    }

    /**
     * Creates the state schema and {@code tables} unless they exist, and commits. Concurrent callers (several sinks,
     * or a sink and the copy backfill, starting at once) wait for one another: PostgreSQL's {@code IF NOT EXISTS}
     * does not hold against a concurrent creator, which fails with a unique violation on its catalog.
     *
     * @param v2 a connection that is not in the middle of other work; its auto-commit setting is kept
     */
    public static void create(Connection v2, String stateSchema, List<Table> tables) throws SQLException {
        boolean autoCommit = v2.getAutoCommit();
        v2.setAutoCommit(false);
        try (Statement st = v2.createStatement()) {
            st.execute("SELECT pg_advisory_xact_lock(hashtext(" + literal("cdc-migrator state " + stateSchema) + "))");
            st.execute("CREATE SCHEMA IF NOT EXISTS " + quote(stateSchema));
            for (Table table : tables) {
                st.execute("CREATE TABLE IF NOT EXISTS " + quote(stateSchema) + "." + quote(table.name())
                        + " (" + table.columns() + ")");
            }
            v2.commit();
        } catch (SQLException e) {
            v2.rollback();
            throw e;
        } finally {
            v2.setAutoCommit(autoCommit);
        }
    }

    /** Triggers or rules on any of {@link #TABLES} ({@link TableHooks}); empty when there are none. */
    public static List<Refusal> refusals(Connection v2, String stateSchema) throws SQLException {
        return TableHooks.refusals(v2, "v2", stateSchema, TABLES);
    }
}
