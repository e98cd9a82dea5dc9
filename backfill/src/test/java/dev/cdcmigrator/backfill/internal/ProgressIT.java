package dev.cdcmigrator.backfill.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The copy backfill's chunk records in v2: any key's bounds kept exactly, an earlier version's integer bounds read. */
class ProgressIT {

    private static final String SLOT = "progress_slot";
    private static final SnapshotCompleted.Recopied SNAPSHOT = new SnapshotCompleted.Recopied("", null, null, 100, 110, List.of(105L), 42);

    private final PostgresServer pg = TestPostgres.shared();
    private final Progress progress = new Progress("migrator_state", "progress-it");

    private Connection connect(String database) throws Exception {
        return DriverManager.getConnection(pg.jdbcUrl(database), pg.user(), pg.password());
    }

    @Test
    void boundsOfACompositeKeyComeBackAsRecordedAndATableThatCommitsAsAWholeIsRecopiedWhole() throws Exception {
        String v2 = pg.createDatabase("progress");
        try (Connection c = connect(v2)) {
            progress.ensure(c);
            // Text that an array literal would have to escape: commas, braces, quotes, backslashes, NULL as a word.
            List<String> first = List.of("7", "2024-01-01 00:00:01.000001+00", "a,b {c} \"d\" \\e NULL");
            List<String> second = List.of("9", "2024-01-02 00:00:00+00", "");
            progress.start(c, SLOT, 42, List.of(new Progress.Chunk("events", 0, null, first, false),
                    new Progress.Chunk("events", 1, first, second, false), new Progress.Chunk("events", 2, second, null, false),
                    new Progress.Chunk("docs", 0, null, List.of("10"), false), new Progress.Chunk("docs", 1, List.of("10"), null, false)));

            assertThat(progress.chunks(c, SLOT)).containsExactly(new Progress.Chunk("docs", 0, null, List.of("10"), false),
                    new Progress.Chunk("docs", 1, List.of("10"), null, false), new Progress.Chunk("events", 0, null, first, false),
                    new Progress.Chunk("events", 1, first, second, false), new Progress.Chunk("events", 2, second, null, false));

            c.setAutoCommit(false);
            for (Progress.Chunk chunk : progress.chunks(c, SLOT)) {
                if (!chunk.equals(new Progress.Chunk("docs", 0, null, List.of("10"), false))) {
                    progress.copied(c, SLOT, chunk, 1, SNAPSHOT);
                }
            }
            c.commit();
            c.setAutoCommit(true);
            assertThat(progress.recopied(c, SLOT, "public", Set.of("docs"))).containsExactly(
                    new SnapshotCompleted.Recopied("public.docs", 10L, null, 100, 110, List.of(105L), 42),
                    new SnapshotCompleted.Recopied("public.events", null, null, 100, 110, List.of(105L), 42));
        }
    }

    @Test
    void integerBoundsAnEarlierVersionRecordedAreReadAsThisVersionRecordsThem() throws Exception {
        String v2 = pg.createDatabase("progress");
        try (Connection c = connect(v2)) {
            progress.ensure(c);
            // The table as an earlier version made it: bigint bounds, for one-integer-column keys only.
            c.createStatement().execute("ALTER TABLE migrator_state.backfill_chunks ALTER COLUMN after_key TYPE bigint USING NULL,"
                    + " ALTER COLUMN up_to_key TYPE bigint USING NULL;"
                    + " INSERT INTO migrator_state.backfill VALUES ('" + SLOT + "', 42);"
                    + " INSERT INTO migrator_state.backfill_chunks (slot, v1_table, chunk, after_key, up_to_key, copied_at) VALUES"
                    + " ('" + SLOT + "', 'docs', 0, NULL, 300, now()), ('" + SLOT + "', 'docs', 1, 300, NULL, NULL)");

            progress.ensure(c);
            progress.ensure(c);

            assertThat(progress.chunks(c, SLOT)).containsExactly(new Progress.Chunk("docs", 0, null, List.of("300"), true),
                    new Progress.Chunk("docs", 1, List.of("300"), null, false));
            assertThat(progress.run(c, SLOT)).contains(new Progress.Run(42, false));
        }
    }
}
