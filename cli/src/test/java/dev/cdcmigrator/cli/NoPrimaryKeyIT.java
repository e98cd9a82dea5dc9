package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.testkit.PostgresServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tables without a primary key, migrated whole: under {@code REPLICA IDENTITY FULL} as multisets (identical rows stay
 * as many, an update or delete changes one of them, an unchanged TOASTed value is filled from the old image), verified
 * as multisets; declared {@code append: true} without a replica identity change (v1 itself refuses updates and
 * deletes; with REPLICA IDENTITY FULL an update is a dead letter naming the table).
 */
class NoPrimaryKeyIT {

    /** Every column, so that a multiset compares as a sorted list with its duplicates. */
    private static final String LEDGER = "SELECT account, amount, note, length(body), md5(body), doc::text FROM ledger"
            + " ORDER BY 1, 2, 3, 5, 6";
    private static final String EVENTS = "SELECT at, kind, payload::text FROM events ORDER BY 1, 2, 3";

    @RegisterExtension
    final Migration migration = new Migration("nopk");
    private final PostgresServer pg = migration.pg();
    private final String v1 = migration.v1();
    private final String v2 = migration.v2();

    @Test
    void identicalRowsStayAsManyThroughUpdatesAndDeletesAndVerifyCountsTheirCopies(@TempDir Path dir) throws Exception {
        String table = """
                CREATE TABLE ledger (account text, amount numeric(10,2), note text, body text, doc json);
                ALTER TABLE ledger ALTER COLUMN body SET STORAGE EXTERNAL;
                """;
        pg.execute(v1, table + """
                ALTER TABLE ledger REPLICA IDENTITY FULL;
                INSERT INTO ledger VALUES ('a', 1.00, 'twin', 'short', '{"k": [1, 2]}'), ('a', 1.00, 'twin', 'short', '{"k": [1, 2]}'),
                                          ('b', 2.50, 'triple', NULL, NULL), ('b', 2.50, 'triple', NULL, NULL),
                                          ('b', 2.50, 'triple', NULL, NULL),
                                          ('c', 3.00, 'toasted', repeat('0123456789', 10000), '{"big": true}');
                """);
        pg.execute(v2, table);
        Path file = migration.writeSpec(dir, "partitions: 3", """
                tables:
                  ledger:
                    columns:
                      account: { from: account }
                      amount: { from: amount }
                      note: { from: note }
                      body: { from: body }
                      doc: { from: doc }
                """);

        CliRun check = CliRun.of("check", "--spec", file.toString());
        assertThat(check.lines()).as(check.toString()).contains("OK      v1 public.ledger: has no primary key; REPLICA"
                + " IDENTITY FULL: its changes are applied by their values: an insert inserts, an update or delete acts"
                + " on one v2 row holding exactly its old values (two identical rows stay two rows; a delete removes"
                + " one), and verify compares the table as a multiset");
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);

        migration.start();
        migration.awaitTablesEqual(LEDGER);

        pg.execute(v1, """
                UPDATE ledger SET amount = 9.99 WHERE ctid = (SELECT ctid FROM ledger WHERE note = 'twin' LIMIT 1);
                DELETE FROM ledger WHERE ctid = (SELECT ctid FROM ledger WHERE note = 'triple' LIMIT 1);
                INSERT INTO ledger VALUES ('a', 1.00, 'twin', 'short', '{"k": [1, 2]}'), ('d', NULL, NULL, NULL, NULL);
                UPDATE ledger SET note = 'still toasted' WHERE account = 'c';
                DELETE FROM ledger WHERE account = 'd';
                """);
        migration.awaitTablesEqual(LEDGER);
        assertThat(pg.rows(v2, "SELECT note, amount::text, count(*)::text FROM ledger GROUP BY 1, 2 ORDER BY 1, 2"))
                .containsExactly(List.of("still toasted", "3.00", "1"), List.of("triple", "2.50", "2"),
                        List.of("twin", "1.00", "2"), List.of("twin", "9.99", "1"));
        assertThat(pg.rows(v2, "SELECT length(body)::text FROM ledger WHERE account = 'c'")).containsExactly(List.of("100000"));

        CliRun verify = CliRun.of("verify", "--spec", file.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(ExitCodes.OK);
        assertThat(verify.out()).as(verify.toString()).contains("verify: every table matches");

        // One copy too many on v2 is a difference, named with both counts.
        migration.stop();
        pg.execute(v2, "INSERT INTO ledger SELECT * FROM ledger WHERE note = 'triple' LIMIT 1");
        CliRun planted = CliRun.of("verify", "--spec", file.toString());
        assertThat(planted.exit()).as(planted.toString()).isNotEqualTo(ExitCodes.OK);
        assertThat(planted.out()).as(planted.toString()).contains("triple", "(2 copies from v1, 3 copies in v2)");
    }

    @Test
    void anAppendOnlyTableStreamsItsInsertsAndV1RefusesUpdatesUntilItsIdentityIsFull(@TempDir Path dir) throws Exception {
        String table = "CREATE TABLE events (at timestamptz NOT NULL, kind text, payload jsonb)";
        pg.execute(v1, table + """
                ;
                INSERT INTO events SELECT timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', 'seen', '{"n": 1}'
                    FROM generate_series(1, 100) g;
                INSERT INTO events SELECT * FROM events WHERE at < timestamptz '2026-01-01 00:10:00+00';
                """);
        pg.execute(v2, table);
        Path file = migration.writeSpec(dir, "partitions: 3", """
                tables:
                  events:
                    append: true
                    columns:
                      at: { from: at }
                      kind: { from: kind }
                      payload: { from: payload }
                """);

        CliRun check = CliRun.of("check", "--spec", file.toString());
        assertThat(check.out()).as(check.toString()).contains("WARNING v1 public.events: has no primary key and is"
                + " declared append: true (tables.events.append): its inserts stream as they are");
        assertThat(check.exit()).as(check.toString()).isEqualTo(ExitCodes.OK);

        migration.start();
        migration.awaitTablesEqual(EVENTS);
        pg.execute(v1, "INSERT INTO events SELECT * FROM events WHERE kind = 'seen' LIMIT 3");
        migration.awaitTablesEqual(EVENTS);

        // Capture reads one publication, which publishes updates: without a replica identity v1 refuses them itself.
        assertThatThrownBy(() -> pg.execute(v1, "UPDATE events SET kind = 'changed' WHERE at = (SELECT min(at) FROM events)"))
                .hasStackTraceContaining("cannot update table \"events\" because it does not have a replica identity"
                        + " and publishes updates");

        // With REPLICA IDENTITY FULL v1 takes the update, and the migration dead-letters it, naming the table.
        pg.execute(v1, "ALTER TABLE events REPLICA IDENTITY FULL");
        pg.execute(v1, "UPDATE events SET kind = 'changed' WHERE at = (SELECT max(at) FROM events)");
        pg.execute(v1, "INSERT INTO events VALUES (now(), 'after', NULL)");
        migration.awaitAsserted(Duration.ofMinutes(2), () ->
                assertThat(pg.rows(v2, "SELECT count(*)::text FROM events WHERE kind = 'after'")).containsExactly(List.of("1")));
        assertThat(pg.rows(v2, "SELECT count(*)::text FROM events WHERE kind = 'changed'")).containsExactly(List.of("0"));
        CliRun dlq = CliRun.of("dlq", "list", "--spec", file.toString());
        assertThat(dlq.out()).as(dlq.toString()).contains("1 dead letter in ", " stage=transform table=events ",
                "reason=v1 table events is declared append: true (inserts only), and this is an update of it");

        // A TRUNCATE on v1 empties the table on v2 too.
        pg.execute(v1, "TRUNCATE events");
        pg.execute(v1, "INSERT INTO events VALUES (now(), 'fresh', NULL)");
        migration.awaitTablesEqual(EVENTS);
    }
}
