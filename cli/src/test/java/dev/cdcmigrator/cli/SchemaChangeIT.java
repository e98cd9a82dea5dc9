package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * v1's schema changing during the migration (issue 5): a column added on v1 does not disturb the pipeline; a column
 * the spec needs, dropped on v1, stops the transform with an error naming the table, the column and the position,
 * writes nothing wrong, and a restart with a spec that no longer needs it resumes from that change.
 */
class SchemaChangeIT {

    private static final Duration DEADLINE = Duration.ofSeconds(90);
    private static final String V2_ROWS = "SELECT id, title, note FROM items ORDER BY id";

    @RegisterExtension
    final Migration migration = new Migration("schema");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();

    @BeforeEach
    void createTables() {
        pg.execute(v1, """
                CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL, note text);
                INSERT INTO items SELECT g, 'item ' || g, 'note ' || g FROM generate_series(1, 50) g;
                """);
        pg.execute(v2, "CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL, note text)");
    }

    @Test
    void anAddedColumnFlowsByAndADroppedNeededColumnStopsTheTransformUntilTheSpecFits(@TempDir Path dir) throws Exception {
        writeSpec(dir, "note: { from: note }");
        Pipeline first = migration.start();
        awaitRows(50);

        pg.execute(v1, """
                ALTER TABLE items ADD COLUMN color text;
                INSERT INTO items VALUES (51, 'item 51', 'note 51', 'red');
                UPDATE items SET title = 'renamed 1', color = 'blue' WHERE id = 1;
                """);
        awaitRows(51);
        assertThat(first.failure()).isEmpty();
        assertThat(pg.rows(v2, "SELECT title FROM items WHERE id = 1")).containsExactly(List.of("renamed 1"));

        pg.execute(v1, """
                ALTER TABLE items DROP COLUMN note;
                INSERT INTO items VALUES (52, 'item 52', 'green');
                UPDATE items SET title = 'renamed 2' WHERE id = 2;
                """);
        await().atMost(DEADLINE).until(() -> first.failure().isPresent());
        assertThat(first.failure().orElseThrow())
                .contains("transform stopped: v1 table public.items no longer has column note at LSN",
                        "(key {\"id\":52}), needed by v2 column items.note", "restart the transform");
        assertThat(pg.rows(v2, "SELECT count(*) FROM items WHERE id = 52 OR title = 'renamed 2'")).containsExactly(List.of("0"));
        migration.stop();

        // The spec no longer reads note: the restart resumes from the change that stopped it.
        writeSpec(dir, "");
        Pipeline restarted = migration.start();
        awaitRows(52);
        assertThat(pg.rows(v2, "SELECT id, title, note FROM items WHERE id IN (2, 51, 52) ORDER BY id")).containsExactly(
                List.of("2", "renamed 2", "note 2"), List.of("51", "item 51", "note 51"), List.of("52", "item 52", "null"));
        assertThat(restarted.failure()).isEmpty();
    }

    private void awaitRows(int count) {
        migration.awaitAsserted(DEADLINE, () -> {
            assertThat(pg.rows(v2, V2_ROWS)).hasSize(count);
            migration.assertTablesEqual("SELECT id, title FROM items ORDER BY id", "SELECT id, title FROM items ORDER BY id");
        });
    }

    private void writeSpec(Path dir, String noteColumn) throws IOException {
        migration.writeSpec(dir, "partitions: 1", """
                tables:
                  items:
                    columns:
                      id: { from: id }
                      title: { from: title }
                      %s
                """.formatted(noteColumn));
    }
}
