package dev.cdcmigrator.sink;

import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.TableHooks;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/** The sink's own tables in {@code target.stateSchema}, and why the sink refuses them as they are. */
public final class SinkState {

    /** Every table the sink keeps in the state schema. */
    public static final List<String> TABLES = List.of("sink_offsets", "sink_dead_lettered_rows", "suspended_foreign_keys",
            "suspended_triggers", "target_enforced");

    private SinkState() {
    }

    /** Triggers or rules on any of {@link #TABLES} ({@link TableHooks}); empty when there are none. */
    public static List<Refusal> refusals(Connection v2, String stateSchema) throws SQLException {
        return TableHooks.refusals(v2, "v2", stateSchema, TABLES);
    }
}
