package dev.cdcmigrator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaBrokerTest {

    private static final String TOPIC = "rows";
    private static final TopicPartition PARTITION = new TopicPartition(TOPIC, 0);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;

    @Test
    void keepsCommittedTransactionsAcrossRestart() throws Exception {
        EmbeddedKafkaBroker first = EmbeddedKafkaBroker.start(dataDir, 0);
        int port = first.port();
        try (EmbeddedKafkaBroker broker = first) {
            assertThat(port).isPositive();
            assertThat(broker.bootstrapServers()).isEqualTo("127.0.0.1:" + port);
            assertThat(broker.dataDir()).isEqualTo(dataDir.toAbsolutePath());
            assertThatThrownBy(() -> EmbeddedKafkaBroker.start(dataDir, 0))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("in use");

            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            }
            try (KafkaProducer<String, String> producer = transactionalProducer(broker)) {
                sendInTransaction(producer, List.of("a", "b"), true);
                sendInTransaction(producer, List.of("aborted"), false);
            }
            assertThat(readCommitted(broker)).containsExactly("a", "b");
        }
        first.close(); // a second close must be a no-op

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, port)) {
            assertThat(broker.port()).isEqualTo(port);
            assertThat(readCommitted(broker)).containsExactly("a", "b");
            try (KafkaProducer<String, String> producer = transactionalProducer(broker)) {
                sendInTransaction(producer, List.of("c"), true);
            }
            assertThat(readCommitted(broker)).containsExactly("a", "b", "c");
        }

        // Another client port than last time, as when a fixed port is changed in the migrator's configuration.
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, 0)) {
            assertThat(readCommitted(broker)).containsExactly("a", "b", "c");
        }
    }

    @Test
    void acceptsSixteenMebibyteRecords() throws Exception {
        String big = "x".repeat(16 * 1024 * 1024);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, 0)) {
            try (KafkaProducer<String, String> producer = transactionalProducer(broker)) {
                sendInTransaction(producer, List.of(big), true);
            }
            assertThat(readCommitted(broker)).singleElement().isEqualTo(big);
        }
    }

    private static KafkaProducer<String, String> transactionalProducer(EmbeddedKafkaBroker broker) {
        KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "embedded-broker-test",
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, EmbeddedKafkaBroker.MAX_MESSAGE_BYTES,
                ProducerConfig.BUFFER_MEMORY_CONFIG, 2L * EmbeddedKafkaBroker.MAX_MESSAGE_BYTES),
                new StringSerializer(), new StringSerializer());
        producer.initTransactions();
        return producer;
    }

    private static void sendInTransaction(KafkaProducer<String, String> producer, List<String> values, boolean commit) {
        producer.beginTransaction();
        for (String value : values) {
            producer.send(new ProducerRecord<>(TOPIC, value));
        }
        if (commit) {
            producer.commitTransaction();
        } else {
            producer.flush();
            producer.abortTransaction();
        }
    }

    /**
     * Reads the partition from the start up to its last stable offset, so every committed record is seen. The
     * producer's commit returns before the broker has written the transaction's markers, so the last stable offset
     * is awaited until it reaches the end of the log.
     */
    private static List<String> readCommitted(EmbeddedKafkaBroker broker) throws InterruptedException {
        try (KafkaConsumer<String, String> consumer = consumer(broker, "read_committed");
                KafkaConsumer<String, String> uncommitted = consumer(broker, "read_uncommitted")) {
            consumer.assign(Set.of(PARTITION));
            consumer.seekToBeginning(Set.of(PARTITION));
            long logEnd = uncommitted.endOffsets(Set.of(PARTITION), READ_TIMEOUT).get(PARTITION);
            long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
            long end;
            while ((end = consumer.endOffsets(Set.of(PARTITION), READ_TIMEOUT).get(PARTITION)) < logEnd) {
                assertThat(System.nanoTime()).as("last stable offset reaches %d before the deadline", logEnd).isLessThan(deadline);
                TimeUnit.MILLISECONDS.sleep(20);
            }
            List<String> values = new ArrayList<>();
            while (consumer.position(PARTITION, READ_TIMEOUT) < end) {
                assertThat(System.nanoTime()).as("read up to offset %d before the deadline", end).isLessThan(deadline);
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    values.add(record.value());
                }
            }
            return values;
        }
    }

    private static KafkaConsumer<String, String> consumer(EmbeddedKafkaBroker broker, String isolation) {
        return new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new StringDeserializer());
    }
}
