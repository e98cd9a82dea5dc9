package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A v2 schema as an application's own migration tool makes it (issue 21): a foreign-key cycle (each store has a
 * manager in staff, each staff member works in a store), a self-reference (staff reports to staff), an
 * {@code ON DELETE CASCADE} child, {@code BEFORE UPDATE} triggers that set {@code last_update = now()}, a stored
 * generated column and a {@code GENERATED ALWAYS AS IDENTITY} key, migrated by a role that is no superuser while a
 * load inserts parents with their children and deletes parents with theirs in the same transactions. No row is a dead
 * letter for being early, v2 holds v1's values (not its triggers'), and {@code cutover enforce} gives every foreign
 * key back valid and every trigger as it was.
 */
class ForeignKeysIT {

    private static final Duration DEADLINE = Duration.ofSeconds(120);
    private static final String SCHEMA = """
            CREATE TABLE store (store_id int PRIMARY KEY, manager_id int NOT NULL, name text NOT NULL,
                                last_update timestamptz NOT NULL DEFAULT now());
            CREATE TABLE staff (staff_id int PRIMARY KEY, store_id int NOT NULL REFERENCES store,
                                reports_to int REFERENCES staff, name text NOT NULL,
                                last_update timestamptz NOT NULL DEFAULT now());
            ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff
                DEFERRABLE INITIALLY DEFERRED;
            CREATE TABLE rental (rental_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                 staff_id int NOT NULL REFERENCES staff ON DELETE CASCADE, amount numeric(8,2) NOT NULL,
                                 amount_cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED,
                                 last_update timestamptz NOT NULL DEFAULT now());
            CREATE TABLE payment (payment_id bigint PRIMARY KEY,
                                  rental_id bigint NOT NULL REFERENCES rental ON DELETE CASCADE,
                                  amount numeric(8,2) NOT NULL, last_update timestamptz NOT NULL DEFAULT now());
            CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.last_update = clock_timestamp(); RETURN NEW; END $$;
            CREATE TRIGGER store_touch BEFORE UPDATE ON store FOR EACH ROW EXECUTE FUNCTION touch();
            CREATE TRIGGER staff_touch BEFORE UPDATE ON staff FOR EACH ROW EXECUTE FUNCTION touch();
            CREATE TRIGGER rental_touch BEFORE INSERT OR UPDATE ON rental FOR EACH ROW EXECUTE FUNCTION touch();
            CREATE TRIGGER payment_touch BEFORE UPDATE ON payment FOR EACH ROW EXECUTE FUNCTION touch();
            """;
    private static final Map<String, String> ROWS = Map.of(
            "store", "SELECT store_id, manager_id, name, last_update FROM store ORDER BY 1",
            "staff", "SELECT staff_id, store_id, reports_to, name, last_update FROM staff ORDER BY 1",
            "rental", "SELECT rental_id, staff_id, amount, amount_cents, last_update FROM rental ORDER BY 1",
            "payment", "SELECT payment_id, rental_id, amount, last_update FROM payment ORDER BY 1");
    private static final String CONSTRAINTS = """
            SELECT r.relname, c.conname, pg_get_constraintdef(c.oid), c.convalidated FROM pg_constraint c
            JOIN pg_class r ON r.oid = c.conrelid WHERE c.contype = 'f' ORDER BY 1, 2""";
    private static final String TRIGGERS = """
            SELECT r.relname, t.tgname, t.tgenabled::text FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
            WHERE NOT t.tgisinternal ORDER BY 1, 2""";

    private final PostgresServer pg = TestPostgres.shared();
    private final AtomicReference<Throwable> loadFailure = new AtomicReference<>();
    private Pipeline pipeline;

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    @ParameterizedTest(name = "backfill.mode {0}")
    @ValueSource(strings = {"debezium", "copy"})
    void childrenBeforeParentsAreNeverDeadLettersV2KeepsV1sValuesAndTheCutoverEnforcesEverything(String mode,
            @TempDir Path dir) throws Exception {
        String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        String role = "app_owner_" + suffix;
        String v1 = pg.createDatabase("fk_v1");
        String v2 = pg.createDatabase("fk_v2");
        // The role a managed service gives: it owns the application's tables and may replicate; no superuser.
        pg.execute("postgres", "CREATE ROLE " + role + " LOGIN REPLICATION NOSUPERUSER PASSWORD 'pw'");
        for (String db : List.of(v1, v2)) {
            pg.execute(db, "GRANT CREATE ON DATABASE " + db + " TO " + role + "; GRANT CREATE ON SCHEMA public TO " + role);
            execute(db, role, SCHEMA);
        }
        // A table only v2 has (the application's new feature), referencing a mapped one.
        execute(v2, role, "CREATE TABLE rental_note (note_id int PRIMARY KEY,"
                + " rental_id bigint NOT NULL REFERENCES rental ON DELETE CASCADE, note text)");
        execute(v1, role, """
                BEGIN;
                INSERT INTO store SELECT s, s * 10, 'store ' || s FROM generate_series(1, 3) s;
                INSERT INTO staff SELECT s * 10 + i, s, CASE WHEN i > 0 THEN s * 10 END, 'staff ' || s || '/' || i
                    FROM generate_series(1, 3) s, generate_series(0, 2) i;
                COMMIT;
                INSERT INTO rental (staff_id, amount) SELECT 10 + g % 3, g FROM generate_series(1, 50) g;
                INSERT INTO payment SELECT g, 1 + g % 50, g / 2.0 FROM generate_series(1, 80) g;
                UPDATE staff SET name = name || ' (renamed)' WHERE staff_id % 2 = 0;
                """);
        List<List<String>> constraintsBefore = pg.rows(v2, CONSTRAINTS);
        List<List<String>> triggersBefore = pg.rows(v2, TRIGGERS);
        assertThat(constraintsBefore).hasSize(6);
        assertThat(triggersBefore).hasSize(4);

        Path specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: %s, password: pw }
                target: { url: "%s", user: %s, password: pw }
                kafka: { bootstrap: "%s", topicPrefix: fk_%s, partitions: 3 }
                backfill: { mode: %s }
                tables:
                  store: { columns: { store_id: { from: store_id }, manager_id: { from: manager_id }, name: { from: name },
                                      last_update: { from: last_update } } }
                  staff: { columns: { staff_id: { from: staff_id }, store_id: { from: store_id },
                                      reports_to: { from: reports_to }, name: { from: name },
                                      last_update: { from: last_update } } }
                  rental: { columns: { rental_id: { from: rental_id }, staff_id: { from: staff_id },
                                       amount: { from: amount }, last_update: { from: last_update } } }
                  payment: { columns: { payment_id: { from: payment_id }, rental_id: { from: rental_id },
                                        amount: { from: amount }, last_update: { from: last_update } } }
                """.formatted(pg.jdbcUrl(v1), role, pg.jdbcUrl(v2), role, TestKafka.bootstrapServers(), suffix, mode));

        // check names each foreign key and trigger with what happens to it, and the identity and generated columns.
        CliRun check = CliRun.of("check", "--spec", specFile.toString());
        assertThat(check.exit()).as(check.toString()).isZero();
        assertThat(check.lines()).as(check.toString())
                .anyMatch(l -> l.startsWith("OK      v2 public.rental_note: foreign key rental_note_rental_id_fkey"
                        + " (FOREIGN KEY (rental_id) REFERENCES rental(rental_id) ON DELETE CASCADE) is dropped while the"
                        + " migrator applies"))
                .anyMatch(l -> l.startsWith("OK      v2 public.rental: ") && l.contains("trigger rental_touch is disabled")
                        && l.contains("foreign key rental_staff_id_fkey"))
                .anyMatch(l -> l.startsWith("OK      v2 public.rental: identity column rental_id (GENERATED ALWAYS)"))
                .anyMatch(l -> l.startsWith("OK      v2 public.rental: generated column amount_cents: never written"));

        Load load = new Load(pg.jdbcUrl(v1), role);
        Thread writer = new Thread(load, "fk-load");
        writer.start();
        pipeline = Pipeline.start(new SpecParser().parse(specFile), dir.resolve("data"), 0, new SimpleMeterRegistry());
        await("stores and staff created while the pipeline runs").atMost(DEADLINE)
                .failFast(() -> pipeline.failure().isPresent() || loadFailure.get() != null)
                .until(() -> load.transactions.get() >= 150);
        load.stop();
        writer.join();
        assertThat(loadFailure.get()).isNull();
        assertThat(load.parentsDeletedWithChildren.get()).as("rentals deleted with their payments").isPositive();

        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");
        assertThat(wait.exit()).as(wait.toString()).isZero();
        assertThat(pipeline.failure()).isEmpty();
        CliRun dlq = CliRun.of("dlq", "list", "--spec", specFile.toString());
        assertThat(dlq.out()).as(dlq.toString()).startsWith("0 dead letters");
        for (Map.Entry<String, String> table : ROWS.entrySet()) {
            assertThat(pg.rows(v2, table.getValue())).as("v2 %s against v1", table.getKey())
                    .isNotEmpty().containsExactlyElementsOf(pg.rows(v1, table.getValue()));
        }
        // While the migration applies, v2's foreign keys and triggers are out of its way.
        assertThat(pg.rows(v2, CONSTRAINTS)).isEmpty();
        assertThat(pg.rows(v2, TRIGGERS)).allSatisfy(t -> assertThat(t.get(2)).as("%s", t).isEqualTo("D"));

        // A row without a parent (here written into v2 by hand) is named, and its foreign key stays NOT VALID.
        pg.execute(v2, "INSERT INTO payment VALUES (999999, 424242, 1)");
        CliRun refused = CliRun.of("cutover", "enforce", "--spec", specFile.toString());
        assertThat(refused.exit()).as(refused.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(refused.out()).contains("ERROR payment: foreign key payment_rental_id_fkey does not validate",
                "rows without a parent: (rental_id)=(424242)", "cutover enforce: 9 of 10 foreign keys and triggers back");
        pg.execute(v2, "DELETE FROM payment WHERE payment_id = 999999");

        CliRun enforced = CliRun.of("cutover", "enforce", "--spec", specFile.toString());
        assertThat(enforced.exit()).as(enforced.toString()).isZero();
        assertThat(enforced.out()).contains("OK    payment: foreign key payment_rental_id_fkey valid",
                "cutover enforce: 1 of 1 foreign keys and triggers back; v2 is enforced");
        assertThat(pg.rows(v2, CONSTRAINTS)).as("every foreign key back, validated").isEqualTo(constraintsBefore);
        assertThat(pg.rows(v2, TRIGGERS)).as("every trigger enabled as before").isEqualTo(triggersBefore);
        CliRun verify = CliRun.of("verify", "--spec", specFile.toString());
        assertThat(verify.exit()).as(verify.toString()).isZero();

        // v2 is the application's now: identity values follow on after sync-sequences, its triggers fire, and a
        // row without a parent is refused.
        CliRun sequences = CliRun.of("cutover", "sync-sequences", "--spec", specFile.toString());
        assertThat(sequences.exit()).as(sequences.toString()).isZero();
        execute(v2, role, "INSERT INTO rental (staff_id, amount) VALUES (10, 1)");
        execute(v2, role, "UPDATE store SET name = 'renamed on v2' WHERE store_id = 1");
        assertThat(pg.rows(v2, "SELECT last_update > now() - interval '1 minute' FROM store WHERE store_id = 1"))
                .as("store_touch fired").containsExactly(List.of("t"));
        assertThatThrownBy(() -> execute(v2, role, "INSERT INTO payment VALUES (999998, 424242, 1)"))
                .isInstanceOf(SQLException.class).hasMessageContaining("payment_rental_id_fkey");

        // Enforced for good: a restarted pipeline suspends nothing, and v2 now refuses what v1's schema refuses.
        pipeline.close();
        pipeline = Pipeline.start(new SpecParser().parse(specFile), dir.resolve("data"), 0, new SimpleMeterRegistry());
        await().atMost(DEADLINE).until(() -> pipeline.running() || pipeline.failure().isPresent());
        assertThat(pg.rows(v2, CONSTRAINTS)).isEqualTo(constraintsBefore);
        assertThat(pg.rows(v2, TRIGGERS)).isEqualTo(triggersBefore);
    }

    private void execute(String database, String role, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(database), role, "pw"); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /**
     * Transactions as an application makes them: a new store with its manager (the cycle, checked at commit), staff
     * reporting to staff, rentals with their payments, updates that fire the {@code last_update} triggers, and a
     * rental or a whole staff member deleted with everything below it.
     */
    private final class Load implements Runnable {

        private final String url;
        private final String role;
        private final Random random = new Random(21);
        private final AtomicLong transactions = new AtomicLong();
        private final AtomicInteger parentsDeletedWithChildren = new AtomicInteger();
        private volatile boolean stopped;
        private int nextStore = 100;
        private long nextPayment = 1000;

        Load(String url, String role) {
            this.url = url;
            this.role = role;
        }

        void stop() {
            stopped = true;
        }

        @Override
        public void run() {
            try (Connection c = DriverManager.getConnection(url, role, "pw")) {
                c.setAutoCommit(false);
                while (!stopped) {
                    int store = nextStore++;
                    int manager = store * 10;
                    update(c, "INSERT INTO store VALUES (?, ?, 'store ' || ?)", store, manager, store);
                    update(c, "INSERT INTO staff VALUES (?, ?, NULL, 'manager ' || ?)", manager, store, manager);
                    update(c, "INSERT INTO staff VALUES (?, ?, ?, 'clerk')", manager + 1, store, manager);
                    try (PreparedStatement ps = c.prepareStatement(
                            "INSERT INTO rental (staff_id, amount) VALUES (?, ?) RETURNING rental_id")) {
                        ps.setInt(1, manager + 1);
                        ps.setInt(2, 1 + random.nextInt(100));
                        try (var rs = ps.executeQuery()) {
                            rs.next();
                            long rental = rs.getLong(1);
                            for (int i = 0; i < 2; i++) {
                                update(c, "INSERT INTO payment VALUES (?, ?, 5)", nextPayment++, rental);
                            }
                        }
                    }
                    update(c, "UPDATE staff SET name = name || '+' WHERE staff_id = ?", 10 + 10 * random.nextInt(3));
                    c.commit();
                    int pick = random.nextInt(4);
                    if (pick == 0) {
                        // A rental with its payments (ON DELETE CASCADE on v1: the payments' deletes are in the WAL).
                        parentsDeletedWithChildren.addAndGet(update(c,
                                "DELETE FROM rental WHERE rental_id = (SELECT min(rental_id) FROM rental r"
                                        + " WHERE EXISTS (SELECT 1 FROM payment p WHERE p.rental_id = r.rental_id))"));
                    } else if (pick == 1 && store > 101) {
                        // A clerk with everything below: rentals, their payments.
                        update(c, "DELETE FROM staff WHERE staff_id = ?", (store - 1) * 10 + 1);
                    } else {
                        update(c, "UPDATE rental SET amount = amount + 1 WHERE staff_id = ?", manager + 1);
                    }
                    c.commit();
                    transactions.incrementAndGet();
                }
            } catch (Throwable e) {
                loadFailure.set(e);
            }
        }

        private int update(Connection c, String sql, Object... values) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < values.length; i++) {
                    ps.setObject(i + 1, values[i]);
                }
                return ps.executeUpdate();
            }
        }
    }
}
