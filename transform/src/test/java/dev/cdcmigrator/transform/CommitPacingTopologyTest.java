package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The map processors' commit requests in the whole topology, counted by their meter: TopologyTestDriver commits after
 * every record whatever the processors ask, so the meter is what shows when they ask.
 */
class CommitPacingTopologyTest {

    private static final Spec SPEC = new SpecParser(name -> null).parse("""
            version: 1
            source: { url: "jdbc:postgresql://v1/keiko", user: u }
            target: { url: "jdbc:postgresql://v2/keiko", user: u }
            kafka: { topicPrefix: keiko }
            tables:
              users:
                into: accounts
                columns:
                  account_id: { from: id }
                  display_name: { from: name }
            """, "test.yaml");
    private static final Instant START = Instant.parse("2026-12-01T10:00:00Z");

    private final DebeziumEnvelopes users = new DebeziumEnvelopes("users").column("id", "int64").column("name", "string");
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> rawUsers;
    private Instant now = START;
    private int id;

    @BeforeEach
    void setUp() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        driver = new TopologyTestDriver(TransformTopology.build(SPEC, registry), props, START);
        rawUsers = driver.createInputTopic("keiko.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    /** {@code millis} of the wall clock with one insert per millisecond, produced {@code age} before it is processed. */
    private void stream(int millis, Duration age) {
        for (int i = 0; i < millis; i++) {
            id++;
            rawUsers.pipeInput(users.key("id", id), users.change("c", null, Map.of("id", id, "name", "u" + id), 100 + id),
                    now.minus(age));
            idle(1);
        }
    }

    private void idle(int millis) {
        now = now.plusMillis(millis);
        driver.advanceWallClockTime(Duration.ofMillis(millis));
    }

    private double requested(String reason) {
        return registry.get("migrator.transform.commit.requests").tag("table", "users").tag("reason", reason).counter().count();
    }

    @Test
    void aBacklogAsksForNoCommitUntilItsInputRunsDry() {
        stream(2_000, Duration.ofSeconds(30));
        assertThat(requested("idle") + requested("waited")).as("2,000 records 30 s old, one a millisecond").isZero();

        idle(10);
        assertThat(requested("idle")).isEqualTo(1);
        idle(1_000);
        assertThat(requested("idle")).as("nothing processed since").isEqualTo(1);
        assertThat(requested("waited")).isZero();
    }

    @Test
    void aFlowItKeepsUpWithIsCommittedEvery50MillisecondsAndAtItsEnd() {
        stream(1_000, Duration.ofMillis(20));
        assertThat(requested("waited")).isEqualTo(20);
        assertThat(requested("idle")).isZero();

        stream(20, Duration.ofMillis(20));
        idle(10);
        assertThat(requested("idle")).as("the last 20 ms of the flow").isEqualTo(1);
        assertThat(requested("waited")).isEqualTo(20);
    }
}
