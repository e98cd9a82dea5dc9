package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.SecuredKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Kafka that clients reach over SASL_SSL only: every Kafka client of the migrator (capture's producer, its offset
 * store and its start-up offsets check, the transform, the sink, the operator commands) must take the spec's
 * {@code kafka.client} settings.
 */
class SecuredKafkaIT {

    private static final String ITEMS = "SELECT id, name FROM items ORDER BY id";

    private final PostgresServer pg = TestPostgres.shared();
    private SecuredKafka kafka;
    private String v1;
    private String v2;
    private Path specFile;
    private Pipeline pipeline;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        kafka = SecuredKafka.start(dir.resolve("kafka"));
        v1 = pg.createDatabase("sasl_v1");
        v2 = pg.createDatabase("sasl_v2");
        pg.execute(v1, """
                CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);
                INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
                """);
        pg.execute(v2, "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)");
        specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka:
                  bootstrap: "%s"
                  topicPrefix: sasl_%s
                  client:
                %s
                tables:
                  items: { columns: { id: { from: id }, name: { from: name } } }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                kafka.bootstrapServers(), UUID.randomUUID().toString().replace("-", "").substring(0, 10),
                kafka.clientYaml(SecuredKafka.USER, 6)));
    }

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        kafka.close();
    }

    @Test
    void everyStageAndCommandReachesTheClusterWithTheSpecsClientSettings() throws Exception {
        CliRun check = CliRun.of("check", "--spec", specFile.toString());
        assertThat(check.exit()).as(check.toString()).isZero();
        assertThat(check.lines()).anySatisfy(line -> assertThat(line).startsWith("OK      kafka: "));

        Spec spec = new SpecParser().parse(Files.readString(specFile), specFile.toString());
        pipeline = Pipeline.start(spec, specFile.getParent().resolve("data"), 0, new SimpleMeterRegistry());
        awaitV2EqualsV1("the snapshot");
        pg.execute(v1, "INSERT INTO items VALUES (51, 'streamed'); UPDATE items SET name = 'renamed' WHERE id = 1;"
                + " DELETE FROM items WHERE id = 2");

        CliRun wait = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");

        assertThat(wait.exit()).as(wait.toString()).isZero();
        assertThat(pg.rows(v2, ITEMS)).as(wait.toString()).isEqualTo(pg.rows(v1, ITEMS));
        assertThat(pg.rows(v2, "SELECT name FROM items WHERE id IN (1, 51) ORDER BY id"))
                .containsExactly(List.of("renamed"), List.of("streamed"));
        CliRun status = CliRun.of("status", "--spec", specFile.toString());
        assertThat(status.exit()).as(status.toString()).isZero();
    }

    private void awaitV2EqualsV1(String what) {
        await(what).atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, ITEMS)).isEqualTo(pg.rows(v1, ITEMS));
        });
    }
}
