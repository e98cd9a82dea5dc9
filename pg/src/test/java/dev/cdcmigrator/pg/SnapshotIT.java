package dev.cdcmigrator.pg;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** Connections sharing a snapshot see the rows committed before it was exported, and none committed after. */
class SnapshotIT {

    private final PostgresServer pg = TestPostgres.shared();

    @Test
    void aSharedSnapshotSeesWhatTheExporterSawAndNothingCommittedSince() throws SQLException {
        String db = pg.createDatabase("snapshot");
        pg.execute(db, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");

        try (Snapshot snapshot = Snapshot.export(pg.connect(db))) {
            pg.execute(db, "INSERT INTO t VALUES (11); DELETE FROM t WHERE id = 1");
            try (Connection shared = snapshot.share(pg.connect(db)); Connection fresh = pg.connect(db)) {
                pg.execute(db, "INSERT INTO t VALUES (12)");

                assertThat(count(snapshot.connection())).isEqualTo(10);
                assertThat(count(shared)).isEqualTo(10);
                assertThat(count(fresh)).isEqualTo(11);
                assertThat(shared.isReadOnly()).isTrue();
            }
        }
    }

    private static long count(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*), sum(id) FROM t")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
