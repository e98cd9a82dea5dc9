package dev.cdcmigrator.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** One shared in-JVM Kafka broker per test JVM, started on first use in a temp directory and stopped at JVM exit. */
public final class TestKafka {

    private static final Duration WARM_UP = Duration.ofSeconds(60);

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
            warmUp(started.bootstrapServers());
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

    /**
     * Proves that the fresh broker serves idempotent and transactional producers before any test uses it. A new KRaft
     * broker allocates producer-id blocks from its controller and loads the transaction coordinator on first use; if
     * that stalls, this fails here, once, naming the step, instead of as a timed-out send inside some test.
     */
    private static void warmUp(String bootstrapServers) {
        String topic = "__testkit-warm-up";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(WARM_UP.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException | InterruptedException | TimeoutException e) {
            throw warmUpFailed("creating topic " + topic, e);
        }
        Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) WARM_UP.toMillis());
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) WARM_UP.toMillis());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic, new byte[] {1})).get();
        } catch (ExecutionException | InterruptedException | RuntimeException e) {
            throw warmUpFailed("an idempotent send to " + topic, e);
        }
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "testkit-warm-up");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, new byte[] {2}));
            producer.commitTransaction();
        } catch (RuntimeException e) {
            throw warmUpFailed("a transactional send to " + topic, e);
        }
    }

    private static IllegalStateException warmUpFailed(String step, Exception cause) {
        if (cause instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        return new IllegalStateException("The test Kafka broker started but did not complete " + step + " within "
                + WARM_UP.toSeconds() + " s: " + cause, cause);
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
