package dev.cdcmigrator.cli.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The slot gauges against a real PostgreSQL while no capture runs: the slot is read by nothing but a transaction held
 * open on v1, as a migrator whose capture stopped leaves it.
 */
class LagMonitorIT {

    private static final Duration DEADLINE = Duration.ofSeconds(60);
    /** md5 text does not compress: each such INSERT writes well over 500 kB of WAL. */
    private static final String WRITE_WAL = "INSERT INTO items SELECT g, (SELECT string_agg(md5(g::text || i::text), '')"
            + " FROM generate_series(1, 32) i) FROM generate_series(%d, %d) g";

    private final PostgresServer pg = TestPostgres.shared();
    private final String prefix = "lag_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    private final String v1 = pg.createDatabase("lag_monitor_v1");
    private Connection open;
    private LagMonitor monitor;

    @AfterEach
    void cleanUp() throws Exception {
        if (monitor != null) {
            monitor.close();
        }
        if (open != null) {
            open.close();
        }
        pg.execute(v1, "SELECT pg_drop_replication_slot('" + prefix + "')");
    }

    @Test
    void slotLagIsTheWalRetainedFromTheRestartPositionAndGrowsWhileCaptureIsStopped() throws Exception {
        pg.execute(v1, "CREATE TABLE items (id bigint PRIMARY KEY, payload text); CREATE PUBLICATION " + prefix
                + " FOR TABLE items");
        pg.execute(v1, "SELECT pg_create_logical_replication_slot('" + prefix + "', 'pgoutput')");
        // Decoding must restart before this transaction, which stays open: the slot keeps the WAL from here on.
        open = pg.connect(v1);
        open.setAutoCommit(false);
        try (Statement st = open.createStatement()) {
            st.execute("INSERT INTO items VALUES (0, 'open')");
        }
        pg.execute(v1, WRITE_WAL.formatted(1, 2000));
        // Confirm everything decoded, as a capture that then stopped would have: confirmed_flush_lsn moves to the end.
        pg.execute(v1, "SELECT count(*) FROM pg_logical_slot_get_binary_changes('" + prefix + "', NULL, NULL,"
                + " 'proto_version', '1', 'publication_names', '" + prefix + "')");

        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        monitor = LagMonitor.start(spec(), TestKafka.bootstrapServers(), registry);

        await("slot lag").atMost(DEADLINE).until(() -> lag(registry) > 500_000);
        long confirmedLag = Long.parseLong(pg.rows(v1, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)"
                + "::bigint FROM pg_replication_slots WHERE slot_name = '" + prefix + "'").get(0).get(0));
        assertThat(lag(registry)).as("retained WAL, not what capture has yet to confirm (%d bytes)", confirmedLag)
                .isGreaterThan(confirmedLag + 400_000);
        assertThat(registry.get(LagMonitor.SLOT_WAL_STATUS).tag("status", "reserved").gauge().value()).isEqualTo(1);
        assertThat(registry.get(LagMonitor.SLOT_WAL_STATUS).tag("status", "lost").gauge().value()).isZero();
        // The test cluster caps max_slot_wal_keep_size at 10GB: what the slot may still keep is about that (PostgreSQL
        // counts from the end of the current 16 MB segment).
        assertThat(registry.get(LagMonitor.SLOT_SAFE_WAL).gauge().value()).isBetween(9e9, 10.0 * (1L << 30) + (16 << 20));

        double before = lag(registry);
        pg.execute(v1, WRITE_WAL.formatted(2001, 4000));
        await("slot lag growing").atMost(DEADLINE).until(() -> lag(registry) > before + 500_000);
    }

    private static double lag(MeterRegistry registry) {
        return registry.get(LagMonitor.SLOT_LAG).gauge().value();
    }

    private Spec spec() {
        return new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s }
                tables:
                  items:
                    columns:
                      id: { from: id }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v1), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix), "lag-monitor-it.yaml");
    }
}
