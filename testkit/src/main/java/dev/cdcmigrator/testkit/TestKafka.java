package dev.cdcmigrator.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;

/** One shared in-JVM Kafka broker per test JVM, started on first use in a temp directory and stopped at JVM exit. */
public final class TestKafka {

    private static EmbeddedKafkaBroker broker;

    private TestKafka() {
    }

    /**
     * Starts the shared broker on first call (thread-safe).
     *
     * @return {@code "127.0.0.1:<port>"} of the shared broker
     */
    public static String bootstrapServers() {
        return broker().bootstrapServers();
    }

    /**
     * Starts the shared broker on first call (thread-safe). Tests must not close it; it stops at JVM exit.
     *
     * @return the shared broker
     */
    public static synchronized EmbeddedKafkaBroker broker() {
        if (broker == null) {
            broker = startInTempDir();
        }
        return broker;
    }

    private static EmbeddedKafkaBroker startInTempDir() {
        Path dir;
        try {
            dir = Files.createTempDirectory("cdc-migrator-test-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException("Could not create a temp directory for the test Kafka broker", e);
        }
        EmbeddedKafkaBroker started;
        try {
            started = EmbeddedKafkaBroker.start(dir, 0);
        } catch (RuntimeException e) {
            deleteQuietly(dir);
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                started.close();
            } finally {
                deleteQuietly(dir);
            }
        }, "test-kafka-shutdown"));
        return started;
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    // Best effort: the OS cleans up temp directories eventually.
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // Best effort, as above.
        }
    }
}
