package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.transform.ColumnReads;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.sink.Sink;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import dev.cdcmigrator.transform.Transform;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.cdcmigrator.common.Topics;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** migrator status against stages started one by one. */
class StatusIT {

    private final PostgresServer pg = TestPostgres.shared();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<AutoCloseable> running = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = running.size() - 1; i >= 0; i--) {
            running.get(i).close();
        }
    }

    @Test
    void showsWhatEachStageHasNotProcessedAndWhenTheCutoverCanGoAhead(@TempDir Path dir) throws Exception {
        String v1 = pg.createDatabase("status_v1");
        String v2 = pg.createDatabase("status_v2");
        pg.execute(v1, "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, 0 FROM generate_series(1, 300) g");
        pg.execute(v2, "CREATE TABLE things (id bigint PRIMARY KEY, v int NOT NULL)");
        Path specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s }
                tables:
                  items: { into: things, columns: { id: { from: id }, v: { from: v } } }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), "status_" + v1.substring(v1.lastIndexOf('_') + 1)));
        Spec spec = new SpecParser().parse(specFile);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);
        }
        running.add(Transform.start(spec, TestKafka.bootstrapServers(), dir.resolve("streams"), registry, Map.of()));
        running.add(Capture.start(spec, ColumnReads.captured(spec), TestKafka.bootstrapServers(), registry, Map.of(), Map.of()));

        // Without a sink every change waits in front of it, and status says so.
        await().atMost(Duration.ofMinutes(1)).untilAsserted(() -> {
            JsonNode report = status(specFile);
            JsonNode items = report.path("mappings").get(0);
            assertThat(items.path("v1Table").asText()).isEqualTo("items");
            assertThat(items.path("v2Table").asText()).isEqualTo("things");
            assertThat(items.path("transform").path("records").asLong()).isZero();
            // Offsets, as Kafka's consumer lag counts them: the 300 changes plus the transform's transaction markers.
            assertThat(items.path("sink").path("records").asLong()).isBetween(300L, 400L);
            assertThat(items.path("sink").path("seconds").asDouble()).isPositive();
            assertThat(report.path("slot").path("active").asBoolean()).isTrue();
            assertThat(report.path("deadLetters").asLong()).isZero();
        });
        assertThat(text(specFile)).containsPattern("items +things +0 \\(0\\.0 s\\) +3[0-9][0-9] \\([0-9.]+ s\\)")
                .containsPattern("cutover: behind by 3[0-9][0-9] changes");

        running.add(Sink.start(spec, TestKafka.bootstrapServers(), registry, Map.of()));
        await().atMost(Duration.ofMinutes(1)).untilAsserted(() ->
                assertThat(status(specFile).path("mappings").get(0).path("sink").path("records").asLong()).isZero());
        assertThat(text(specFile)).containsPattern("items +things +0 \\(0\\.0 s\\) +0 \\(0\\.0 s\\)")
                .containsPattern("cutover: caught up as of .*; confirm with migrator cutover wait")
                .containsPattern("slot status_[0-9a-f]+: active \\(PID [0-9]+\\), retaining .* of WAL");

        // Two letters, each written in its own transaction as the transform writes them: 4 offsets, 2 letters.
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "status-it-" + spec.kafka().topicPrefix()),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            for (int i = 0; i < 2; i++) {
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(new Topics(spec).deadLetters(), 0, null, "{}".getBytes(StandardCharsets.UTF_8)));
                producer.commitTransaction();
            }
        }
        assertThat(status(specFile).path("deadLetters").asLong()).as("letters, not offsets").isEqualTo(2);
    }

    private static JsonNode status(Path specFile) throws Exception {
        StringWriter out = new StringWriter();
        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true),
                "status", "--spec", specFile.toString(), "--json");
        assertThat(exit).isZero();
        return Json.MAPPER.readTree(out.toString());
    }

    private static String text(Path specFile) {
        StringWriter out = new StringWriter();
        assertThat(Main.execute(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true),
                "status", "--spec", specFile.toString())).isZero();
        return out.toString();
    }
}
