package dev.cdcmigrator.cli.internal;

import dev.cdcmigrator.backfill.CopyBackfill;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.sink.Sink;
import dev.cdcmigrator.transform.Transform;
import java.time.Duration;
import java.util.Optional;
import org.apache.kafka.streams.KafkaStreams;

/** One running stage, seen the same way whichever it is: for readiness, failure, meters and shutdown. */
interface RunningStage {

    /** capture, transform or sink. */
    String name();

    /** Whether it is up and working. */
    boolean running();

    /** Why it stopped by itself, if it did. */
    Optional<String> failure();

    /** What it is doing while not yet running. */
    String starting();

    /** Stops it, finishing the batch in flight; waits at most {@code timeout}. */
    void close(Duration timeout);

    static RunningStage of(Capture capture) {
        return new RunningStage() {
            public String name() {
                return "capture";
            }

            public boolean running() {
                return capture.running();
            }

            public Optional<String> failure() {
                return Optional.ofNullable(capture.failure()).map(Throwable::getMessage);
            }

            public String starting() {
                return "connecting to v1, creating the slot";
            }

            public void close(Duration timeout) {
                capture.close(timeout);
            }
        };
    }

    static RunningStage of(CopyBackfill capture) {
        return new RunningStage() {
            public String name() {
                return "capture";
            }

            public boolean running() {
                return capture.running();
            }

            public Optional<String> failure() {
                return Optional.ofNullable(capture.failure()).map(Throwable::getMessage);
            }

            public String starting() {
                return capture.starting();
            }

            public void close(Duration timeout) {
                capture.close(timeout);
            }
        };
    }

    static RunningStage of(Transform transform) {
        return new RunningStage() {
            public String name() {
                return "transform";
            }

            public boolean running() {
                return transform.state() == KafkaStreams.State.RUNNING;
            }

            public Optional<String> failure() {
                KafkaStreams.State state = transform.state();
                return state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING
                        ? Optional.of(transform.failure().orElse("Kafka Streams is " + state)) : Optional.empty();
            }

            public String starting() {
                return "Kafka Streams is " + transform.state();
            }

            public void close(Duration timeout) {
                transform.close(timeout);
            }
        };
    }

    static RunningStage of(Sink sink) {
        return new RunningStage() {
            public String name() {
                return "sink";
            }

            public boolean running() {
                return sink.running();
            }

            public Optional<String> failure() {
                return Optional.ofNullable(sink.failure()).map(Throwable::getMessage);
            }

            public String starting() {
                return "connecting to v2";
            }

            public void close(Duration timeout) {
                sink.close(timeout);
            }
        };
    }
}
