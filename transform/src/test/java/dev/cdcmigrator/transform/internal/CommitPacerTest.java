package dev.cdcmigrator.transform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.Punctuator;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CommitPacerTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final MockProcessorContext<byte[], byte[]> context = new MockProcessorContext<>();
    private final CommitPacer pacer = new CommitPacer("tasks", registry);
    private Punctuator tick;
    private long now = 1_000_000;

    @BeforeEach
    void schedule() {
        pacer.schedule(context);
        assertThat(context.scheduledPunctuators()).singleElement().satisfies(punctuator -> {
            assertThat(punctuator.getInterval()).isEqualTo(Duration.ofMillis(5));
            assertThat(punctuator.getType()).isEqualTo(PunctuationType.WALL_CLOCK_TIME);
            tick = punctuator.getPunctuator();
        });
    }

    /**
     * Runs {@code millis} of a stream thread that takes in {@code perMilli} records every millisecond, each produced
     * {@code age} ms before it is processed, with a tick every 5 ms; returns how many commits the ticks asked for.
     */
    private int run(long millis, int perMilli, long age) {
        int asked = 0;
        for (long end = now + millis; now < end; ) {
            for (int i = 0; i < perMilli; i++) {
                pacer.processed(now - age, now);
            }
            now++;
            if (now % 5 == 0) {
                tick.punctuate(now);
                asked += context.committed() ? 1 : 0;
                context.resetCommit();
            }
        }
        return asked;
    }

    private double requested(String reason) {
        return registry.get("migrator.transform.commit.requests").tag("table", "tasks").tag("reason", reason).counter().count();
    }

    @Test
    void aBacklogIsLeftToTheCommitIntervalUntilTheInputRunsDry() {
        assertThat(run(2_000, 20, 10_000)).as("two seconds of records ten seconds old").isZero();

        assertThat(run(10, 0, 0)).as("then two ticks without a record").isEqualTo(1);
        assertThat(run(1_000, 0, 0)).as("nothing new to commit").isZero();
        assertThat(requested("idle")).isEqualTo(1);
        assertThat(requested("waited")).isZero();
    }

    @Test
    void aTaskKeepingUpWithAContinuousFlowCommitsEvery50Milliseconds() {
        assertThat(run(1_000, 1, 20)).isEqualTo(20);
        assertThat(requested("waited")).isEqualTo(20);
        assertThat(requested("idle")).isZero();
    }

    @Test
    void aTaskBehindCommitsAtATenthOfItsLag() {
        assertThat(run(1_000, 20, 2_000)).as("two seconds behind").isEqualTo(5);
        assertThat(run(1_000, 20, 500)).as("half a second behind").isEqualTo(20);
        assertThat(requested("waited")).isEqualTo(25);
    }

    @Test
    void burstsAreCommittedOnceTheInputRunsDry() {
        int asked = 0;
        for (int burst = 0; burst < 50; burst++) {
            assertThat(run(1, 10, 5)).isZero();
            assertThat(run(9, 0, 0)).as("the second tick after burst " + burst).isEqualTo(1);
            asked += run(10, 0, 0);
        }
        assertThat(asked).isZero();
        assertThat(requested("idle")).isEqualTo(50);
    }

    @Test
    void aThreadThatLostItsCoreDoesNotTakeThePauseForIdleInput() {
        pacer.processed(now - 10_000, now);
        tick.punctuate(now + 200);

        assertThat(context.committed()).as("its first tick still finds the records processed before the pause").isFalse();
    }

    @Test
    void ticksWithoutRecordsAskForNothing() {
        assertThat(run(1_000, 0, 0)).isZero();
    }
}
