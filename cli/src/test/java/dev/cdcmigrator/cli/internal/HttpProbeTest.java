package dev.cdcmigrator.cli.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The compose healthcheck's probe against the migrator's own /ready. */
class HttpProbeTest {

    private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

    @Test
    void healthyOnlyWhileReadyAnswers200AndSaysWhyNot() throws Exception {
        AtomicReference<Optional<String>> notReady = new AtomicReference<>(Optional.of("sink is not running yet"));
        try (HttpEndpoints http = HttpEndpoints.start("127.0.0.1", 0, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), notReady::get)) {
            String ready = http.url("/ready");

            assertThat(HttpProbe.probe(new String[] {ready}, out)).isEqualTo(1);
            assertThat(printed()).isEqualTo(ready + ": 503 not ready: sink is not running yet");

            notReady.set(Optional.empty());
            assertThat(HttpProbe.probe(new String[] {ready}, out)).isZero();
            assertThat(printed()).isEqualTo(ready + ": 200 ready");
        }
    }

    @Test
    void unhealthyWhenNothingListensOrTheArgumentsAreWrong() throws Exception {
        int free;
        try (ServerSocket socket = new ServerSocket(0)) {
            free = socket.getLocalPort();
        }
        assertThat(HttpProbe.probe(new String[] {"http://127.0.0.1:" + free + "/ready"}, out)).isEqualTo(1);
        assertThat(printed()).startsWith("http://127.0.0.1:" + free + "/ready: java.net.ConnectException");

        assertThat(HttpProbe.probe(new String[0], out)).isEqualTo(1);
        assertThat(printed()).startsWith("usage: ");
        assertThat(HttpProbe.probe(new String[] {"not a url"}, out)).isEqualTo(1);
    }

    private String printed() {
        String text = printed.toString(StandardCharsets.UTF_8).strip();
        printed.reset();
        return text;
    }
}
