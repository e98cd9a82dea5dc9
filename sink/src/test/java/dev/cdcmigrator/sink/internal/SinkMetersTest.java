package dev.cdcmigrator.sink.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SinkMetersTest {

    private final MockClock clock = new MockClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
    private final SinkMeters meters = new SinkMeters(registry, Map.of("accounts", List.of("users"), "tasks", List.of("tasks")));

    @Test
    void everySeriesOfAKnownTableExistsBeforeItsFirstEvent() {
        for (String table : List.of("accounts", "tasks")) {
            for (String outcome : List.of("upserted", "deleted", "dead_lettered", "superseded")) {
                assertThat(registry.get("migrator.sink.rows.applied").tags("table", table, "outcome", outcome).counter().count()).isZero();
            }
            assertThat(registry.get("migrator.sink.latency").tag("table", table).timer().count()).isZero();
            assertThat(registry.get("migrator.sink.records.behind").tag("table", table).gauge().value()).isNaN();
            assertThat(registry.get("migrator.sink.seconds.behind").tag("table", table).gauge().value()).isZero();
        }
        assertThat(registry.get("migrator.sink.snapshot.rows.applied").tags("table", "accounts", "source_table", "users").counter().count()).isZero();
        assertThat(registry.get("migrator.stage.errors").tags("stage", "sink", "outcome", "retried").counter().count()).isZero();
        assertThat(registry.get("migrator.stage.errors").tags("stage", "sink", "outcome", "failed").counter().count()).isZero();
        assertThat(registry.get("migrator.sink.latency").timer().getId().getDescription()).isNotBlank();
        assertThat(registry.get("migrator.sink.records.behind").gauge().getId().getBaseUnit()).isEqualTo("records");
        assertThat(registry.get("migrator.sink.seconds.behind").gauge().getId().getBaseUnit()).isEqualTo("seconds");
    }

    @Test
    void latencyIsCommitTimeMinusSourceCommitTimeAndNeverNegative() {
        meters.latency("accounts", 1_000, 1_250);
        meters.latency("accounts", 2_000, 1_990); // the sink's clock behind v1's
        Timer timer = registry.get("migrator.sink.latency").tag("table", "accounts").timer();
        assertThat(timer.count()).isEqualTo(2);
        assertThat(timer.max(TimeUnit.MILLISECONDS)).isEqualTo(250);
        assertThat(timer.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(250);
        assertThat(timer.takeSnapshot().percentileValues()).extracting(v -> v.percentile()).containsExactly(0.5, 0.99);
    }

    @Test
    void secondsBehindCountsFromTheOldestChangeInFlightAndIsZeroOnceNothingIsBehind() {
        clock.add(Duration.ofSeconds(100));
        long now = clock.wallTime();
        meters.recordsBehind(Map.of("accounts", 5L, "tasks", 0L));
        meters.batchInFlight(Map.of("accounts", now - 7_000));
        assertThat(meters.secondsBehindOf("accounts")).isEqualTo(7.0);
        assertThat(meters.secondsBehindOf("tasks")).isZero();
        clock.add(Duration.ofSeconds(3));
        assertThat(meters.secondsBehindOf("accounts")).isEqualTo(10.0);

        // Committed, more pending: the last batch's age stays until the next batch replaces it.
        meters.recordsBehind(Map.of("accounts", 2L, "tasks", 0L));
        assertThat(meters.secondsBehindOf("accounts")).isEqualTo(10.0);
        meters.batchInFlight(Map.of("accounts", clock.wallTime() - 1_500));
        assertThat(meters.secondsBehindOf("accounts")).isEqualTo(1.5);

        // Caught up.
        meters.recordsBehind(Map.of("accounts", 0L, "tasks", 0L));
        assertThat(meters.secondsBehindOf("accounts")).isZero();
        assertThat(meters.recordsBehindOf("accounts")).isZero();
        assertThat(registry.get("migrator.sink.records.behind").tag("table", "accounts").gauge().value()).isZero();
    }

    @Test
    void anUnmeasuredTableKeepsItsValue() {
        meters.recordsBehind(Map.of("accounts", 3L));
        meters.recordsBehind(Map.of("tasks", 1L));
        assertThat(meters.recordsBehindOf("accounts")).isEqualTo(3);
        assertThat(meters.recordsBehindOf("tasks")).isEqualTo(1);
    }

    @Test
    void countersCountPerTableAndOutcome() {
        meters.applied("accounts", SinkMeters.UPSERTED);
        meters.applied("accounts", SinkMeters.UPSERTED);
        meters.applied("tasks", SinkMeters.DELETED);
        meters.snapshotRowApplied("accounts", "users");
        meters.retried();
        meters.failed();
        assertThat(registry.get("migrator.sink.rows.applied").tags("table", "accounts", "outcome", "upserted").counter().count()).isEqualTo(2);
        assertThat(registry.get("migrator.sink.rows.applied").tags("table", "tasks", "outcome", "deleted").counter().count()).isEqualTo(1);
        assertThat(registry.get("migrator.sink.snapshot.rows.applied").tags("table", "accounts", "source_table", "users").counter().count()).isEqualTo(1);
        assertThat(registry.get("migrator.stage.errors").tags("stage", "sink", "outcome", "retried").counter().count()).isEqualTo(1);
        assertThat(registry.get("migrator.stage.errors").tags("stage", "sink", "outcome", "failed").counter().count()).isEqualTo(1);
    }
}
