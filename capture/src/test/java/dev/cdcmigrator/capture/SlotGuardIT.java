package dev.cdcmigrator.capture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.embedded.LocalPostgres;
import dev.cdcmigrator.testkit.TestKafka;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Capture's slot guard against a PostgreSQL of its own (the lost-slot test lowers max_slot_wal_keep_size, which is
 * server-wide) and a real Kafka. WAL grows while a transaction stays open on v1: the slot's restart position cannot
 * pass its start, whatever capture confirms.
 */
class SlotGuardIT {

    private static final Duration DEADLINE = Duration.ofSeconds(90);
    private static final String RESTART = "start the migration over from a new snapshot: stop the migrator, empty the"
            + " v2 tables, then migrator cutover enforce, migrator cleanup --kafka --state --yes and migrator run, each"
            + " with --spec (docs/runbook.md, \"Restarting after the slot was dropped or lost\")";

    private static LocalPostgres pg;
    private final List<Capture> captures = new ArrayList<>();
    private final List<Connection> open = new ArrayList<>();
    private String v1;
    private String prefix;

    @BeforeAll
    static void startPostgres() throws Exception {
        pg = LocalPostgres.start(Files.createTempDirectory("slot-guard-it-"));
    }

    @AfterAll
    static void stopPostgres() {
        pg.close();
    }

    @BeforeEach
    void createV1() throws SQLException {
        prefix = "guard_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        v1 = prefix + "_v1";
        pg.createDatabase(v1);
        execute("CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL); INSERT INTO items VALUES (1, 'apple')");
    }

    @AfterEach
    void cleanUp() throws SQLException {
        for (Connection c : open) {
            c.close();
        }
        captures.forEach(Capture::close);
        // ALTER SYSTEM refuses to run in a transaction block, which several statements at once make.
        execute("ALTER SYSTEM RESET max_slot_wal_keep_size");
        execute("SELECT pg_reload_conf()");
    }

    @Test
    void pastMaxRetainedWalCaptureDropsItsSlotAndStopsSayingWhatIsLostAndHowToStartOver() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Spec spec = spec("slot: { maxRetainedWal: 4MB }");
        Capture capture = start(spec, registry);
        await("capture streaming").atMost(DEADLINE).until(() -> capture.running() && Capture.streamedBefore(spec, TestKafka.bootstrapServers()));
        assertThat(registry.get("migrator.capture.slot.retained.limit").gauge().value()).isEqualTo(4 << 20);
        assertThat(registry.get("migrator.capture.slot.retained.warning").gauge().value()).isZero();

        holdRestartPosition();
        // A WAL switch moves v1's position to the next 16 MB segment: the slot retains more than the 4 MB allowed.
        execute("INSERT INTO items VALUES (2, 'pear'); SELECT pg_switch_wal()");

        await("capture stopped").atMost(DEADLINE).until(() -> capture.failure() != null);
        assertThat(capture.failure().getMessage()).matches("replication slot " + prefix + " retained [0-9]+ MB"
                + " \\([0-9]+ bytes\\) of WAL on v1, over source.slot.maxRetainedWal 4MB, so capture dropped the slot and"
                + " stopped; the changes v1 committed after LSN [0-9A-F]+/[0-9A-F]+ \\(capture's last confirmed"
                + " position\\) will not reach v2: " + java.util.regex.Pattern.quote(RESTART));
        assertThat(capture.running()).isFalse();
        assertThat(slotNames()).doesNotContain(prefix);
        assertThat(registry.get("migrator.capture.slot.retained.warning").gauge().value()).isEqualTo(1);

        // Streaming on from a new slot would skip the changes in between without a word.
        assertThatThrownBy(() -> start(spec, new SimpleMeterRegistry()))
                .hasMessage("replication slot " + prefix + " is gone from v1, but capture had streamed from it (it was"
                        + " dropped: by capture past source.slot.maxRetainedWal, by migrator cleanup or by hand); the"
                        + " changes v1 committed since then will not reach v2: " + RESTART);
        assertThat(slotNames()).doesNotContain(prefix);
    }

    @Test
    void aSlotPostgresInvalidatedStopsCaptureWithTheSameInstructionsInsteadOfRetrying() throws Exception {
        Spec spec = spec("");
        Capture capture = start(spec, new SimpleMeterRegistry());
        await("capture streaming").atMost(DEADLINE).until(() -> capture.running() && Capture.streamedBefore(spec, TestKafka.bootstrapServers()));
        execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
        execute("SELECT pg_reload_conf()");

        holdRestartPosition();
        // Each checkpoint removes the segments past max_slot_wal_keep_size and invalidates a slot that needs them.
        await("slot invalidated").atMost(DEADLINE).until(() -> {
            execute("INSERT INTO items VALUES ((SELECT max(id) + 1 FROM items), 'x'); SELECT pg_switch_wal(); CHECKPOINT");
            return "lost".equals(walStatus());
        });

        await("capture stopped").atMost(DEADLINE).until(() -> capture.failure() != null);
        String expected = "replication slot " + prefix + " on v1 was invalidated by PostgreSQL (wal_status lost: it"
                + " retained more WAL than max_slot_wal_keep_size), so capture stopped; the changes v1 committed after";
        assertThat(capture.failure().getMessage()).startsWith(expected).endsWith("will not reach v2: " + RESTART);
        assertThat(capture.running()).isFalse();
        captures.remove(capture);
        capture.close();

        assertThatThrownBy(() -> start(spec, new SimpleMeterRegistry()))
                .hasMessageStartingWith(expected).hasMessageEndingWith(RESTART);
    }

    /** An open transaction that wrote: logical decoding restarts before it, so the slot keeps every WAL after it. */
    private void holdRestartPosition() throws SQLException {
        Connection c = connect();
        open.add(c);
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("INSERT INTO items VALUES (-1, 'open')");
        }
    }

    private Spec spec(String slot) {
        return new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "%s", user: "%s", %s }
                target: { url: "%s", user: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 1 }
                tables:
                  items:
                    columns:
                      id: { from: id }
                      name: { from: name }
                """.formatted(pg.jdbcUrl(v1), pg.user(), slot, pg.jdbcUrl(v1), pg.user(), TestKafka.bootstrapServers(),
                prefix), "slot-guard-it.yaml");
    }

    private Capture start(Spec spec, SimpleMeterRegistry registry) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);
        }
        Capture capture = Capture.start(spec, CaptureIT.everyColumn(spec), TestKafka.bootstrapServers(), registry, Map.of(), Map.of());
        captures.add(capture);
        return capture;
    }

    private List<String> slotNames() throws SQLException {
        List<String> names = new ArrayList<>();
        try (Connection c = connect(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT slot_name FROM pg_replication_slots")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    private String walStatus() throws SQLException {
        try (Connection c = connect()) {
            return SlotHealth.query(c, prefix).map(SlotHealth::walStatus).orElse(null);
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(pg.jdbcUrl(v1), pg.user(), "");
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
