package dev.cdcmigrator.capture;

import static dev.cdcmigrator.common.SqlText.quote;

import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.SqlTransaction;
import dev.cdcmigrator.common.TableHooks;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Connections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The heartbeat table on v1, {@code <source schema>.<prefix>_heartbeat(id, at, nonce)}, one row: Debezium's heartbeat
 * action moves {@code at} (so an idle v1 still advances the slot), and {@code cutover wait} writes a {@code nonce}
 * whose arrival on the table's raw topic proves that capture has published every earlier commit.
 * {@code migrator cleanup} drops it.
 */
final class Heartbeats {

    private Heartbeats() {
    }

    /** The schema-qualified, quoted table name. */
    static String table(Spec spec) {
        return quote(spec.source().schema()) + "." + quote(new Topics(spec).heartbeatTable());
    }

    /** The statement Debezium runs on every heartbeat. */
    static String actionQuery(Spec spec) {
        return "UPDATE " + table(spec) + " SET at = now() WHERE id = 1";
    }

    /**
     * Creates the table and its row on v1 unless they exist (idempotent; run before capture starts), marked as this
     * migration's ({@link Marks}). A table the owner of the v1 tables made and marked (so that it could publish it with
     * them, as {@code check} advises a user who owns none) is used as it is: {@code CREATE TABLE IF NOT EXISTS} would
     * need CREATE on the schema even then.
     *
     * @throws IllegalStateException when v1 refuses, or capture refuses the table as it is ({@link #refusals})
     */
    static void createIfAbsent(Spec spec) {
        try (Connection c = Connections.connect(spec.source().url(), Connections.settings(spec.source().user(), spec.source().password(), "migrator-capture"));
             Statement st = c.createStatement()) {
            SqlTransaction.run(c, () -> {
                boolean exists;
                try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                    ps.setString(1, table(spec));
                    try (ResultSet rs = ps.executeQuery()) {
                        exists = rs.next() && rs.getBoolean(1);
                    }
                }
                if (!exists) {
                    // In one transaction with its mark: an unmarked table left by a crash here would be refused next time.
                    st.execute("CREATE TABLE " + table(spec) + " (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text)");
                    Marks.mark(c, subject(spec), spec.kafka().topicPrefix());
                } else {
                    // Before the first write: a planted trigger would run on it.
                    Refusal.throwIfAny("capture", refusals(c, spec));
                }
                st.execute("INSERT INTO " + table(spec) + " VALUES (1, now(), NULL) ON CONFLICT (id) DO NOTHING");
            });
        } catch (SQLException e) {
            throw new IllegalStateException("capture cannot create its heartbeat table " + table(spec) + " on v1 ("
                    + e.getMessage() + "); grant the capture user CREATE on schema " + spec.source().schema(), e);
        }
    }

    /**
     * Why capture refuses the heartbeat table as it is: another migration's, or not made for this one ({@link Marks});
     * triggers or rules on it ({@link TableHooks}). Empty when it does not exist.
     */
    static List<Refusal> refusals(Connection c, Spec spec) throws SQLException {
        List<Refusal> refusals = new ArrayList<>();
        Marks.refusal(c, subject(spec), spec.kafka().topicPrefix()).ifPresent(refusals::add);
        refusals.addAll(TableHooks.refusals(c, "v1", spec.source().schema(), List.of(new Topics(spec).heartbeatTable())));
        return refusals;
    }

    /** The table, for its mark. */
    static Marks.Subject subject(Spec spec) {
        return Marks.Subject.table("v1", spec.source().schema(), new Topics(spec).heartbeatTable());
    }
}
