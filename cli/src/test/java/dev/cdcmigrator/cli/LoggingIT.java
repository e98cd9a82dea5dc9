package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cdcmigrator.testkit.Ports;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a real {@code migrator} process logs: an operator command's output holds only what the command prints, the
 * client libraries' warnings go to the log file; the long-running stages log to standard error with date and thread;
 * {@code --log-format json} writes one JSON object per line.
 */
class LoggingIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    /**
     * Answers every connection with a frame of negative size: a Kafka client takes the address (TCP works), finds the
     * answer invalid, warns, and tries again until its timeout.
     */
    private ServerSocket notKafka;
    private Thread acceptor;

    @BeforeEach
    void listen() throws IOException {
        notKafka = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(() -> {
            while (!notKafka.isClosed()) {
                // One connection at a time is enough: the client reconnects after each.
                try (Socket client = notKafka.accept()) {
                    client.getOutputStream().write(new byte[] {-1, -1, -1, -1});
                    client.getOutputStream().flush();
                    client.getInputStream().read(new byte[64]);
                } catch (IOException e) {
                    return;
                }
            }
        }, "not-kafka");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    @AfterEach
    void close() throws Exception {
        notKafka.close();
        acceptor.join(5000);
    }

    @Test
    void anOperatorCommandPrintsItsFindingsAndTheClientsWarningsGoToTheLogFile() throws Exception {
        Result check = migrator("check", "--spec", spec("127.0.0.1:" + notKafka.getLocalPort()).toString());

        assertThat(check.exit).as(check.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(check.out).as(check.toString()).anyMatch(l -> l.startsWith("ERROR   kafka: kafka.bootstrap: cannot use Kafka at"
                + " 127.0.0.1:" + notKafka.getLocalPort() + ": no answer within 10 s"));
        assertThat(check.out).as("only findings and the summary").allMatch(l -> l.matches("(OK {6}|WARNING |ERROR {3}|check: ).*"));
        assertThat(check.err).as(check.toString()).isEmpty();
        String log = Files.readString(dir.resolve(Main.DEFAULT_LOG_FILE));
        assertThat(log).as("the Kafka client's warnings").contains("WARN ").contains("[AdminClient clientId=migrator-check]");
    }

    @Test
    void jsonWritesOneObjectPerLine() throws Exception {
        Path file = dir.resolve("logs/check.json");
        Files.createDirectories(file.getParent());

        migrator("check", "--log-format", "json", "--log-file", file.toString(), "--spec",
                spec("127.0.0.1:" + notKafka.getLocalPort()).toString());

        List<String> lines = Files.readAllLines(file);
        assertThat(lines).isNotEmpty();
        for (String line : lines) {
            JsonNode event = JSON.readTree(line);
            assertThat(event.path("level").asText()).as(line).isIn("INFO", "WARN", "ERROR");
            assertThat(event.path("loggerName").asText()).as(line).isNotEmpty();
            assertThat(event.path("threadName").asText()).as(line).isNotEmpty();
            assertThat(event.has("message")).as(line).isTrue();
        }
        assertThat(lines).anyMatch(l -> l.contains("AdminClient clientId=migrator-check"));
        assertThat(dir.resolve(Main.DEFAULT_LOG_FILE)).doesNotExist();
    }

    @Test
    void aDashSendsAnOperatorCommandsLogToStandardError() throws Exception {
        Result check = migrator("check", "--log-file", "-", "--spec", spec("127.0.0.1:" + notKafka.getLocalPort()).toString());

        assertThat(check.exit).as(check.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(check.out).as("the findings stay on standard output")
                .allMatch(l -> l.matches("(OK {6}|WARNING |ERROR {3}|check: ).*")).isNotEmpty();
        assertThat(check.err).as(check.toString()).anyMatch(l -> l.contains(" WARN ") && l.contains("[AdminClient clientId=migrator-check]"));
        assertThat(dir.resolve(Main.DEFAULT_LOG_FILE)).doesNotExist();
        assertThat(dir.resolve("-")).doesNotExist();
    }

    @Test
    void aStageLogsToStandardErrorWithDateAndThread() throws Exception {
        int port = Ports.free();

        Result run = migrator("run", "--no-check", "--http-port", "0", "--data-dir", dir.resolve("data").toString(),
                "--spec", spec("127.0.0.1:" + port).toString());

        assertThat(run.exit).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err).as(run.toString()).anySatisfy(l -> assertThat(l).matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) INFO  \\[main\\] RunCommand - effective configuration .*"));
        assertThat(run.err).contains("migrator: kafka.bootstrap: cannot use Kafka at 127.0.0.1:" + port
                + ": no broker accepts connections (127.0.0.1:" + port + ": Connection refused); fix: check kafka.bootstrap"
                + " and kafka.client (security.protocol, sasl.*, ssl.*) in the spec, and that the brokers accept connections from here");
        assertThat(dir.resolve(Main.DEFAULT_LOG_FILE)).doesNotExist();
    }

    /** A spec whose databases nobody listens for: these tests are about Kafka and the log, not about v1 and v2. */
    private Path spec(String bootstrap) throws IOException {
        String nowhere = "jdbc:postgresql://127.0.0.1:" + Ports.free() + "/nowhere";
        return Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: app, password: secret }
                target: { url: "%s", user: app, password: secret }
                kafka: { bootstrap: "%s", topicPrefix: logging_it }
                tables:
                  items: { columns: { id: { from: id } } }
                """.formatted(nowhere, nowhere, bootstrap));
    }

    private Result migrator(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.cdcmigrator.cli.Main"));
        command.addAll(List.of(args));
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("migrator %s ended", List.of(args)).isTrue();
        return new Result(process.exitValue(), Files.readAllLines(out), Files.readAllLines(err));
    }

    private record Result(int exit, List<String> out, List<String> err) {
        @Override
        public String toString() {
            return "exit " + exit + "\nout:\n" + String.join("\n", out) + "\nerr:\n" + String.join("\n", err);
        }
    }
}
