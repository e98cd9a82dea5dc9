package dev.cdcmigrator.sink;

import static dev.cdcmigrator.common.SqlText.quote;
import static dev.cdcmigrator.common.SqlText.literal;

import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.SqlTransaction;
import dev.cdcmigrator.common.TableHooks;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
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
     * does not hold against a concurrent creator, which fails with a unique violation on its catalog. A schema it
     * creates is marked as {@code migration}'s ({@link Marks}); an existing schema without that mark is refused before
     * anything is created in it.
     *
     * @param v2 a connection that is not in the middle of other work; its auto-commit setting is kept
     * @param migration the migration's id, {@code kafka.topicPrefix}
     * @throws IllegalStateException naming the schema and the fix, when it is not this migration's
     */
    public static void create(Connection v2, String stateSchema, String migration, List<Table> tables) throws SQLException {
        SqlTransaction.run(v2, () -> {
            try (Statement st = v2.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(hashtext(" + literal("cdc-migrator state " + stateSchema) + "))");
                Marks.Subject schema = Marks.Subject.schema(stateSchema);
                Refusal.throwIfAny("the migrator", Marks.refusal(v2, schema, migration).stream().toList());
                // Not IF NOT EXISTS: PostgreSQL would demand CREATE on the database even when the schema exists.
                if (!schemaExists(v2, stateSchema)) {
                    st.execute("CREATE SCHEMA " + quote(stateSchema));
                    Marks.mark(v2, schema, migration);
                }
                for (Table table : tables) {
                    st.execute("CREATE TABLE IF NOT EXISTS " + quote(stateSchema) + "." + quote(table.name())
                            + " (" + table.columns() + ")");
                }
            }
        });
    }

    /**
     * Why a stage refuses the state schema as it is: another migration's, or not made for this one ({@link Marks});
     * triggers or rules on any of {@link #TABLES} ({@link TableHooks}). Empty when there are none.
     */
    public static List<Refusal> refusals(Connection v2, String stateSchema, String migration) throws SQLException {
        List<Refusal> refusals = new ArrayList<>();
        Marks.refusal(v2, Marks.Subject.schema(stateSchema), migration).ifPresent(refusals::add);
        refusals.addAll(TableHooks.refusals(v2, "v2", stateSchema, TABLES));
        return refusals;
    }

    private static boolean schemaExists(Connection v2, String name) throws SQLException {
        try (PreparedStatement ps = v2.prepareStatement("SELECT 1 FROM pg_namespace WHERE nspname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }
}
