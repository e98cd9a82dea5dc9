package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `migrator run` as an operator runs it, in its own process, stopped by signals. */
class ShutdownIT {

    private static final Pattern METRICS_URL = Pattern.compile("metrics: (http://127\\.0\\.0\\.1:[0-9]+)/metrics");

    private final PostgresServer pg = TestPostgres.shared();
    private Process process;
    private Path log;
    private Path specFile;
    private Path dataDir;
    private String v1;
    private String v2;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        v1 = pg.createDatabase("shutdown_v1");
        v2 = pg.createDatabase("shutdown_v2");
        pg.execute(v1, "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL)");
        pg.execute(v2, "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL)");
        specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s }
                tables:
                  items: { columns: { id: { from: id }, v: { from: v } } }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), "shutdown_" + v1.substring(v1.lastIndexOf('_') + 1)));
        dataDir = dir.resolve("data");
        log = dir.resolve("run.log");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.cdcmigrator.cli.Main",
                "run", "--spec", specFile.toString(), "--data-dir", dataDir.toString(), "--http-port", "0")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String base = await().atMost(Duration.ofSeconds(60)).until(() -> metricsBase(), url -> url != null);
        HttpClient http = HttpClient.newHttpClient();
        await().atMost(Duration.ofSeconds(90)).until(() -> http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
    }

    @AfterEach
    void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }

    @Test
    void sigtermStopsCleanlyAfterCommittingWhatWasInFlight() throws Exception {
        pg.execute(v1, "INSERT INTO items SELECT g, g FROM generate_series(1, 2000) g");
        await().atMost(Duration.ofSeconds(60)).until(() -> pg.rows(v2, "SELECT count(*) FROM items").equals(List.of(List.of("2000"))));

        process.destroy(); // SIGTERM

        assertThat(process.waitFor(90, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
        assertThat(process.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("SIGTERM received: stopping cleanly").contains("pipeline stopped");
        assertThat(pg.rows(v2, "SELECT count(*), sum(v) FROM items")).containsExactly(List.of("2000", "2001000"));
    }

    @Test
    void aSecondSigtermStopsAtOnce() throws Exception {
        process.destroy();
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("SIGTERM received: stopping cleanly"));
        process.destroy();

        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(Files.readString(log)).isEqualTo(143);
    }

    @Test
    void aSecondCtrlCStopsAtOnceWithTheExitCodeOfSigint() throws Exception {
        interrupt();
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("SIGINT received: stopping cleanly"));
        interrupt();

        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(Files.readString(log)).isEqualTo(130);
    }

    /** What Ctrl-C sends; the JDK's Process sends only TERM and KILL. */
    private void interrupt() throws Exception {
        Process kill = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    private String metricsBase() throws Exception {
        Matcher m = METRICS_URL.matcher(Files.readString(log));
        return m.find() ? m.group(1) : null;
    }
}
