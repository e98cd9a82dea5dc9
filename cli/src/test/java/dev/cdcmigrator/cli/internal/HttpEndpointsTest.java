package dev.cdcmigrator.cli.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HttpEndpointsTest {

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    private final AtomicReference<Optional<String>> notReady = new AtomicReference<>(Optional.of("sink is not running yet"));
    private HttpEndpoints http;

    @AfterEach
    void close() {
        if (http != null) {
            http.close();
        }
    }

    @Test
    void servesHealthReadinessAndPrometheusText() throws Exception {
        Counter.builder("migrator.sink.rows.applied").baseUnit("rows").tag("table", "accounts").register(registry).increment(3);
        http = HttpEndpoints.start("127.0.0.1", 0, registry, notReady::get);
        assertThat(http.port()).isPositive();
        assertThat(http.url("/metrics")).isEqualTo("http://127.0.0.1:" + http.port() + "/metrics");

        HttpResponse<String> health = get("/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEqualTo("alive\n");

        HttpResponse<String> ready = get("/ready");
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.body()).isEqualTo("not ready: sink is not running yet\n");
        notReady.set(Optional.empty());
        assertThat(get("/ready").statusCode()).isEqualTo(200);
        assertThat(get("/ready").body()).isEqualTo("ready\n");

        HttpResponse<String> metrics = get("/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(metrics.body())
                .contains("# TYPE migrator_sink_rows_applied_total counter")
                .contains("migrator_sink_rows_applied_total{table=\"accounts\"} 3.0")
                .contains("jvm_memory_used_bytes");
    }

    @Test
    void answersOnlyItsOwnPathsAndMethods() throws Exception {
        http = HttpEndpoints.start("127.0.0.1", 0, registry, notReady::get);
        assertThat(get("/").statusCode()).isEqualTo(404);
        assertThat(get("/metricsx").statusCode()).isEqualTo(404);
        assertThat(get("/health/x").statusCode()).isEqualTo(404);
        HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create(http.url("/metrics")))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
        HttpResponse<String> head = client.send(HttpRequest.newBuilder(URI.create(http.url("/health")))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
    }

    @Test
    void aFailingReadinessCheckIsA500NotAHang() throws Exception {
        http = HttpEndpoints.start("127.0.0.1", 0, registry, () -> {
            throw new IllegalStateException("boom");
        });
        HttpResponse<String> ready = get("/ready");
        assertThat(ready.statusCode()).isEqualTo(500);
        assertThat(ready.body()).contains("boom");
    }

    @Test
    void aTakenPortIsRefused() throws Exception {
        http = HttpEndpoints.start("127.0.0.1", 0, registry, notReady::get);
        assertThatThrownBy(() -> HttpEndpoints.start("127.0.0.1", http.port(), registry, notReady::get))
                .isInstanceOf(IOException.class);
    }

    @Test
    void closingFreesThePort() throws Exception {
        HttpEndpoints first = HttpEndpoints.start("127.0.0.1", 0, registry, notReady::get);
        int port = first.port();
        first.close();
        http = HttpEndpoints.start("127.0.0.1", port, registry, notReady::get);
        assertThat(get("/health").statusCode()).isEqualTo(200);
    }

    @Test
    void migratorMetersAreNamedWithoutARepeatedUnitOthersAsMicrometerNamesThem() {
        Gauge.builder("migrator.sink.records.behind", () -> 2).baseUnit("records").tag("table", "t").register(registry);
        Gauge.builder("migrator.sink.seconds.behind", () -> 1.5).baseUnit("seconds").tag("table", "t").register(registry);
        Gauge.builder("migrator.capture.slot.lag", () -> 42).baseUnit("bytes").register(registry);
        Counter.builder("migrator.stage.errors").baseUnit("errors").tag("stage", "sink").register(registry);
        Timer.builder("migrator.sink.latency").publishPercentileHistogram().tag("table", "t").register(registry)
                .record(Duration.ofMillis(20));
        Gauge.builder("other.queue.depth", () -> 1).baseUnit("records").register(registry);
        assertThat(registry.scrape())
                .contains("migrator_sink_records_behind{table=\"t\"} 2.0")
                .contains("migrator_sink_seconds_behind{table=\"t\"} 1.5")
                .contains("migrator_capture_slot_lag_bytes 42.0")
                .contains("migrator_stage_errors_total{stage=\"sink\"} 0.0")
                .contains("migrator_sink_latency_seconds_count{table=\"t\"} 1")
                .contains("migrator_sink_latency_seconds_bucket{table=\"t\",le=\"+Inf\"} 1")
                .contains("other_queue_depth_records 1.0");
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(http.url(path))).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
