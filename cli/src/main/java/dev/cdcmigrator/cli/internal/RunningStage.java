package dev.cdcmigrator.cli.internal;

import dev.cdcmigrator.backfill.CopyBackfill;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.sink.Sink;
import dev.cdcmigrator.transform.Transform;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
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
        return capture(capture::running, capture::failure, () -> "connecting to v1, creating the slot", capture::close);
    }

    /** Capture with the copy backfill first: not running until the copy is done and Debezium streams. */
    static RunningStage of(CopyBackfill capture) {
        return capture(capture::running, capture::failure, capture::starting, capture::close);
    }

    private static RunningStage capture(BooleanSupplier running, Supplier<Throwable> failure, Supplier<String> starting,
                                        Consumer<Duration> close) {
        return new RunningStage() {
            public String name() {
                return "capture";
            }

            public boolean running() {
                return running.getAsBoolean();
            }

            public Optional<String> failure() {
                return Optional.ofNullable(failure.get()).map(Throwable::getMessage);
            }

            public String starting() {
                return starting.get();
            }

            public void close(Duration timeout) {
                close.accept(timeout);
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
