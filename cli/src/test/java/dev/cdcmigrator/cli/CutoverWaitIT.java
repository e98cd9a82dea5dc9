package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.transform.ColumnReads;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import dev.cdcmigrator.transform.Transform;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The caught-up protocol against a real pipeline. */
class CutoverWaitIT {

    private final PostgresServer pg = TestPostgres.shared();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<AutoCloseable> running = new java.util.ArrayList<>();
    private String v1;
    private String v2;
    private Path specFile;
    private Spec spec;

    @BeforeEach
    void setUp(@TempDir Path dir) throws IOException {
        v1 = pg.createDatabase("wait_v1");
        v2 = pg.createDatabase("wait_v2");
        pg.execute(v1, "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL);"
                + " INSERT INTO items SELECT g, 0 FROM generate_series(1, 500) g");
        pg.execute(v2, "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL)");
        // In one test the sink is made the slowest stage for the rows with v >= 1000 (about 2 s for 100 rows), so
        // returning after capture and transform alone would be caught; a trigger it names in the spec fires.
        pg.execute(v2, """
                CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.v >= 1000 THEN PERFORM pg_sleep(0.02); END IF; RETURN NEW; END $$;
                CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION slow();
                """);
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s", triggers: [items.slow] }
                kafka: { bootstrap: "%s", topicPrefix: %s }
                tables:
                  items: { columns: { id: { from: id }, v: { from: v } } }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), "wait_" + v1.substring(v1.lastIndexOf('_') + 1));
        specFile = Files.writeString(dir.resolve("spec.yaml"), yaml);
        spec = new SpecParser().parse(specFile);
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = running.size() - 1; i >= 0; i--) {
            running.get(i).close();
        }
    }

    @Test
    void returnsOnlyOnceEveryCommitBeforeTheCallIsInV2EvenWhileV1KeepsWriting(@TempDir Path data) throws Exception {
        // The rows written just before the call have v >= 1000: the trigger slows the sink down for them.
        running.add(Pipeline.start(spec, data, 0, registry));
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong writes = new AtomicLong();
        Thread load = new Thread(() -> {
            while (writing.get()) {
                pg.execute(v1, "UPDATE items SET v = v + 1 WHERE id = " + (1 + writes.getAndIncrement() % 500));
            }
        });
        load.start();
        running.add(() -> {
            writing.set(false);
            load.join();
        });
        pg.execute(v1, "UPDATE items SET v = 1000 WHERE id <= 100; DELETE FROM items WHERE id > 450;"
                + " INSERT INTO items SELECT g, -1 FROM generate_series(1001, 1100) g");

        CliRun result = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT2M");

        // No awaiting here: the command's exit is the guarantee.
        assertThat(pg.rows(v2, "SELECT count(*) FROM items WHERE v >= 1000")).as(result.toString()).containsExactly(List.of("100"));
        assertThat(pg.rows(v2, "SELECT count(*) FROM items WHERE id > 450 AND id <= 500")).containsExactly(List.of("0"));
        assertThat(pg.rows(v2, "SELECT count(*) FROM items WHERE id > 1000")).containsExactly(List.of("100"));
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).containsPattern("cutover wait: v1 WAL position [0-9A-F]+/[0-9A-F]+; waiting for every commit up to it")
                .contains("  capture   caught up in").contains("  transform caught up in").contains("  sink      caught up in")
                .containsPattern("caught up: v2 reflects every v1 commit up to [0-9A-F]+/[0-9A-F]+");
        assertThat(writes.get()).as("v1 kept receiving writes meanwhile").isPositive();
    }

    @Test
    void timesOutNamingTheStageThatIsStopped(@TempDir Path data) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);
        }
        running.add(Transform.start(spec, TestKafka.bootstrapServers(), data, registry, Map.of()));
        running.add(Capture.start(spec, ColumnReads.captured(spec), TestKafka.bootstrapServers(), registry, Map.of(), Map.of()));
        // no sink

        CliRun result = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT20S");

        assertThat(result.exit()).as(result.toString()).isEqualTo(ExitCodes.NOT_CAUGHT_UP);
        assertThat(result.out()).contains("  capture   caught up in").contains("  transform caught up in").doesNotContain("  sink ");
        assertThat(result.err()).containsPattern("cutover wait: not caught up after PT20S: sink is behind on "
                + spec.kafka().topicPrefix() + "\\.v2\\.items-[0-9] \\(applied up to 0 of [0-9]+\\)");
    }

    @Test
    void saysSoWhenCaptureHasNeverRun() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);
        }

        CliRun result = CliRun.of("cutover", "wait", "--spec", specFile.toString(), "--timeout", "PT5S");

        assertThat(result.exit()).isEqualTo(ExitCodes.NOT_CAUGHT_UP);
        assertThat(result.err()).contains("the heartbeat table \"public\".\"" + spec.kafka().topicPrefix()
                + "_heartbeat\" does not exist: capture has not started on v1 yet");
    }
}
