package dev.cdcmigrator.sink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The state schema on v2: how its tables are created. */
class SinkStateIT {

    private static final PostgresServer PG = TestPostgres.shared();
    private static final int CREATORS = 8;
    private static final int ROUNDS = 5;

    /**
     * Several sinks and the copy backfill start at once on a fresh v2: each creates the state schema and its tables.
     * Without a lock, PostgreSQL's IF NOT EXISTS lets two of them insert the same catalog row and one fails with
     * {@code duplicate key value violates unique constraint "pg_type_typname_nsp_index"} (seen on CI).
     */
    @Test
    void creatorsStartingAtOnceAllSucceed() throws Exception {
        String db = PG.createDatabase("sink_state_it");
        List<SinkState.Table> tables = List.of(new SinkState.Table("sink_offsets", "id int PRIMARY KEY"),
                new SinkState.Table("backfill", "slot text PRIMARY KEY"));
        ExecutorService pool = Executors.newFixedThreadPool(CREATORS);
        try {
            for (int round = 0; round < ROUNDS; round++) {
                String schema = "Migrator State " + round;
                CyclicBarrier start = new CyclicBarrier(CREATORS);
                List<Future<?>> creators = new ArrayList<>();
                for (int i = 0; i < CREATORS; i++) {
                    creators.add(pool.submit(() -> {
                        try (Connection c = PG.connect(db)) {
                            start.await(30, TimeUnit.SECONDS);
                            SinkState.create(c, schema, "sink-state-it", tables);
                            assertThat(c.getAutoCommit()).isTrue();
                        }
                        return null;
                    }));
                }
                for (Future<?> creator : creators) {
                    creator.get(60, TimeUnit.SECONDS);
                }
                assertThat(PG.rows(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = '"
                        + schema + "' ORDER BY 1")).containsExactly(List.of("backfill"), List.of("sink_offsets"));
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
