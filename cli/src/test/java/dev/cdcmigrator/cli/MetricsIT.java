package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.HttpEndpoints;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.cli.internal.PrometheusMetrics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics}, {@code /health} and {@code /ready} of a running pipeline (real PostgreSQL v1 and v2, a real Kafka
 * broker): every meter docs/metrics.md documents is served, and the lag, latency and progress meters move as the
 * pipeline works and settle once it has caught up.
 */
class MetricsIT {

    private static final String ACCOUNTS_V1 = "SELECT id, name FROM users ORDER BY id";
    private static final String ACCOUNTS_V2 = "SELECT account_id, display_name FROM accounts ORDER BY account_id";
    private static final String TASKS_V1 = "SELECT id, user_id, title FROM tasks ORDER BY id";
    private static final String TASKS_V2 = "SELECT id, owner_id, title FROM tasks ORDER BY id";
    private static final Duration DEADLINE = Duration.ofMinutes(2);

    private final PostgresServer pg = TestPostgres.shared();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    private final AtomicReference<Pipeline> started = new AtomicReference<>();
    private String v1;
    private String v2;
    private HttpEndpoints http;

    @BeforeEach
    void createDatabases() throws IOException {
        v1 = pg.createDatabase("metrics_v1");
        v2 = pg.createDatabase("metrics_v2");
        pg.execute(v1, """
                CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
                CREATE TABLE tasks (id bigint PRIMARY KEY, user_id bigint, title text);
                INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 100) g;
                INSERT INTO tasks SELECT g, 1 + g % 100, 'task ' || g FROM generate_series(1, 200) g;
                ANALYZE users;
                ANALYZE tasks;
                """);
        pg.execute(v2, """
                CREATE TABLE accounts (account_id bigint PRIMARY KEY, display_name text NOT NULL);
                CREATE TABLE tasks (id bigint PRIMARY KEY, owner_id bigint, title text, tenant_id text NOT NULL);
                """);
        http = HttpEndpoints.start("127.0.0.1", 0, registry,
                () -> started.get() == null ? Optional.of("the pipeline is starting") : started.get().notReady());
    }

    @AfterEach
    void stop() {
        if (started.get() != null) {
            started.get().close();
        }
        if (http != null) {
            http.close();
        }
        registry.close();
    }

    @Test
    void metersAreServedAndMoveWithThePipeline(@TempDir Path dataDir) throws Exception {
        assertThat(get("/health").statusCode()).isEqualTo(200);
        assertThat(get("/health").body()).isEqualTo("alive\n");
        HttpResponse<String> starting = get("/ready");
        assertThat(starting.statusCode()).isEqualTo(503);
        assertThat(starting.body()).contains("starting");

        started.set(Pipeline.start(spec(pg.jdbcUrl(v2)), dataDir, 0, registry));
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            assertThat(started.get().failure()).isEmpty();
            HttpResponse<String> ready = get("/ready");
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            assertThat(ready.body()).isEqualTo("ready\n");
        });
        assertThat(get("/health").statusCode()).isEqualTo(200);

        // Backfill: every snapshot row applied, against PostgreSQL's estimate of the v1 tables.
        await().atMost(DEADLINE).untilAsserted(() -> {
            String m = scrape();
            assertThat(sum(m, "migrator_sink_snapshot_rows_applied_total", "table", "accounts", "source_table", "users")).isEqualTo(100);
            assertThat(sum(m, "migrator_sink_snapshot_rows_applied_total", "table", "tasks", "source_table", "tasks")).isEqualTo(200);
            assertThat(sum(m, "migrator_capture_snapshot_rows_estimated", "table", "users")).isEqualTo(100);
            assertThat(sum(m, "migrator_capture_snapshot_rows_estimated", "table", "tasks")).isEqualTo(200);
        });
        awaitCaughtUp();

        String metrics = scrape();
        List<String> everyMode = documentedNames(false);
        everyMode.removeAll(documentedNames(true));
        assertThat(everyMode).hasSizeGreaterThanOrEqualTo(12).allSatisfy(name -> assertServed(metrics, name));
        for (String stage : List.of("capture", "transform", "sink")) {
            assertThat(sum(metrics, "migrator_stage_running", "stage", stage)).as(stage).isEqualTo(1);
            assertThat(sum(metrics, "migrator_stage_errors_total", "stage", stage, "outcome", "failed")).as(stage).isZero();
        }
        assertThat(sum(metrics, "migrator_sink_latency_seconds_count", "table", "accounts"))
                .as("snapshot reads have no commit time, so no latency").isZero();
        double upsertedBefore = sum(metrics, "migrator_sink_rows_applied_total", "table", "accounts", "outcome", "upserted");
        double deletedBefore = sum(metrics, "migrator_sink_rows_applied_total", "table", "accounts", "outcome", "deleted");
        double tasksBefore = sum(metrics, "migrator_sink_rows_applied_total", "table", "tasks");
        double transformedBefore = sum(metrics, "migrator_transform_records_total", "table", "users", "outcome", "mapped");
        double capturedBefore = sum(metrics, "migrator_capture_changes_total", "outcome", "published");

        // Streaming: 50 inserts, 10 updates and 5 deletes of users; 1,000 inserted tasks.
        pg.execute(v1, """
                INSERT INTO users SELECT g, 'late ' || g FROM generate_series(101, 150) g;
                UPDATE users SET name = 'renamed ' || id WHERE id BETWEEN 1 AND 10;
                DELETE FROM users WHERE id BETWEEN 91 AND 95;
                INSERT INTO tasks SELECT g, 1 + g % 100, 'bulk ' || g FROM generate_series(1001, 2000) g;
                """);
        await().atMost(DEADLINE).untilAsserted(() -> {
            String m = scrape();
            assertThat(sum(m, "migrator_sink_rows_applied_total", "table", "accounts", "outcome", "upserted")).isGreaterThanOrEqualTo(upsertedBefore + 60);
            assertThat(sum(m, "migrator_sink_rows_applied_total", "table", "accounts", "outcome", "deleted")).isGreaterThanOrEqualTo(deletedBefore + 5);
            assertThat(sum(m, "migrator_sink_rows_applied_total", "table", "tasks")).isGreaterThanOrEqualTo(tasksBefore + 1000);
            // Every streamed change has a latency sample, superseded ones included.
            assertThat(sum(m, "migrator_sink_latency_seconds_count", "table", "accounts")).isGreaterThanOrEqualTo(65);
            assertThat(sum(m, "migrator_sink_latency_seconds_count", "table", "tasks")).isGreaterThanOrEqualTo(1000);
            assertThat(sum(m, "migrator_sink_latency_seconds_bucket", "table", "tasks", "le", "+Inf"))
                    .isEqualTo(sum(m, "migrator_sink_latency_seconds_count", "table", "tasks"));
            assertThat(sum(m, "migrator_sink_latency_seconds_sum", "table", "tasks")).isPositive();
            assertThat(sum(m, "migrator_transform_records_total", "table", "users", "outcome", "mapped")).isGreaterThanOrEqualTo(transformedBefore + 65);
            assertThat(sum(m, "migrator_capture_changes_total", "outcome", "published")).isGreaterThanOrEqualTo(capturedBefore + 1065);
            // The images the transform keeps live in RocksDB, charged to the one bounded cache.
            assertThat(sum(m, "migrator_transform_state_memory_bytes")).isPositive().isLessThanOrEqualTo(128.0 * 1024 * 1024);
        });
        awaitCaughtUp();
        // One collection for the GC meters to count, whatever the heap: a large one may need none during the test.
        System.gc();
        await().atMost(DEADLINE).until(() -> sum(scrape(), "jvm_gc_pause_seconds_count") > 0);
        String after = scrape();
        assertThat(sum(after, "migrator_sink_snapshot_rows_applied_total", "table", "accounts")).as("streamed rows are not backfill").isEqualTo(100);
        assertThat(sum(after, "migrator_sink_latency_seconds_max", "table", "tasks")).isPositive().isLessThan(DEADLINE.toSeconds());
        assertEcosystemMeters(after);

        // Stopped stages take their Kafka meters along; Debezium's MBean is gone, the JVM's meters stay.
        started.getAndSet(null).close();
        String stopped = scrape();
        assertThat(stopped.lines().filter(line -> line.startsWith("kafka_"))).as("Kafka meters after the stages stopped").isEmpty();
        assertThat(sum(stopped, "migrator_capture_source_lag_milliseconds")).isNaN();
        assertThat(sum(stopped, "jvm_gc_memory_allocated_bytes_total")).isPositive();
    }

    /**
     * After the 1,065 streamed changes: the meters of Kafka Streams, of the stages' Kafka clients, of the JVM, of
     * Debezium and of the build, under the names dashboards for those expect, with the counts the work implies.
     */
    private static void assertEcosystemMeters(String m) throws IOException {
        // Kafka Streams (the transform): every raw record went through the stream thread.
        assertThat(sum(m, "kafka_stream_thread_process_total")).isGreaterThanOrEqualTo(1065 + 300);
        List.of("kafka_stream_thread_process_rate", "kafka_stream_thread_commit_latency_avg", "kafka_stream_thread_poll_ratio")
                .forEach(name -> assertThat(samples(m, name)).as(name).isNotEmpty());
        // The stages' own clients: capture's producer, the sink's consumer.
        assertThat(sum(m, "kafka_producer_record_send_total", "client_id", "migrator-capture")).isGreaterThanOrEqualTo(1065);
        assertThat(samples(m, "kafka_producer_request_latency_avg", "client_id", "migrator-capture")).isNotEmpty();
        assertThat(sum(m, "kafka_consumer_fetch_manager_records_consumed_total", "client_id", "migrator-sink"))
                .as("v2 records the sink consumed").isGreaterThanOrEqualTo(100 + 200 + 65 + 1000);
        assertThat(samples(m, "kafka_consumer_fetch_manager_records_lag_max", "client_id", "migrator-sink")).isNotEmpty();
        // The JVM's garbage collection.
        assertThat(sum(m, "jvm_gc_memory_allocated_bytes_total")).isPositive();
        assertThat(sum(m, "jvm_gc_pause_seconds_count")).as("collections while the pipeline ran").isPositive();
        // Debezium's streaming metrics, read from its MBean.
        assertThat(sum(m, "migrator_capture_source_lag_milliseconds")).as("ms behind source once streaming")
                .isNotNaN().isLessThan(DEADLINE.toMillis());
        assertThat(sum(m, "migrator_capture_last_event_age_milliseconds")).isNotNaN().isGreaterThanOrEqualTo(0);
        assertThat(sum(m, "migrator_capture_queue_capacity_events")).isPositive();
        assertThat(sum(m, "migrator_capture_queue_remaining_events")).isPositive()
                .isLessThanOrEqualTo(sum(m, "migrator_capture_queue_capacity_events"));
        assertThat(sum(m, "migrator_capture_source_connected")).isEqualTo(1);
        assertThat(sum(m, "migrator_capture_streaming_events_total")).isGreaterThanOrEqualTo(1065);
        // The build.
        Properties build = new Properties();
        try (InputStream in = MetricsIT.class.getResourceAsStream("/migrator-version.properties")) {
            build.load(in);
        }
        assertThat(sum(m, "migrator_build_info", "version", build.getProperty("version"), "kafka", build.getProperty("kafka"),
                "debezium", build.getProperty("debezium"), "java", System.getProperty("java.version"))).isEqualTo(1);
        assertThat(samples(m, "migrator_build_info", "commit", build.getProperty("commit", "unknown"))).hasSize(1);
        // Bounded tags: Kafka's client, thread, task, topic and partition names, never a tenant.
        List<String> kafka = m.lines().filter(line -> line.startsWith("kafka_")).toList();
        assertThat(kafka).as("Kafka series").hasSizeLessThan(3000).noneMatch(line -> line.contains("tenant"));
    }

    @Test
    void theCopyBackfillsMetersCountItsRowsAndChunks(@TempDir Path dataDir) throws Exception {
        started.set(Pipeline.start(spec(pg.jdbcUrl(v2), "copy"), dataDir, 0, registry));
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            assertThat(started.get().failure()).isEmpty();
            assertThat(get("/ready").statusCode()).isEqualTo(200);
        });
        awaitCaughtUp();

        String metrics = scrape();
        assertThat(documentedNames(true)).containsExactly("migrator_backfill_chunks", "migrator_backfill_rows_total")
                .allSatisfy(name -> assertServed(metrics, name));
        assertThat(sum(metrics, "migrator_backfill_rows_total", "table", "users", "outcome", "copied")).isEqualTo(100);
        assertThat(sum(metrics, "migrator_backfill_rows_total", "table", "tasks", "outcome", "copied")).isEqualTo(200);
        assertThat(sum(metrics, "migrator_backfill_rows_total", "outcome", "dead_lettered")).isZero();
        assertThat(sum(metrics, "migrator_backfill_chunks", "state", "done")).isPositive()
                .isEqualTo(sum(metrics, "migrator_backfill_chunks", "state", "planned"));
        assertThat(sum(metrics, "migrator_sink_snapshot_rows_applied_total")).as("the copy writes v2 itself").isZero();
        assertThat(sum(metrics, "migrator_stage_running", "stage", "capture")).isEqualTo(1);

        pg.execute(v1, "INSERT INTO users SELECT g, 'late ' || g FROM generate_series(101, 110) g");
        awaitCaughtUp();
        assertThat(sum(scrape(), "migrator_backfill_rows_total", "table", "users", "outcome", "copied"))
                .as("streamed rows are not copied rows").isEqualTo(100);
    }

    @Test
    void readyNamesTheStageThatFailed(@TempDir Path dataDir) throws Exception {
        // A target database that does not exist: the sink cannot connect and stops (not a passing error).
        String missing = pg.jdbcUrl(v2).replace(v2, v2 + "_missing");
        started.set(Pipeline.start(spec(missing), dataDir, 0, registry));
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            HttpResponse<String> ready = get("/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).startsWith("not ready: failed: sink: ").contains(v2 + "_missing");
        });
        String metrics = scrape();
        assertThat(sum(metrics, "migrator_stage_errors_total", "stage", "sink", "outcome", "failed")).isEqualTo(1);
        assertThat(sum(metrics, "migrator_stage_errors_total", "stage", "capture", "outcome", "failed")).isZero();
        assertThat(sum(metrics, "migrator_stage_running", "stage", "sink")).isZero();
        assertThat(get("/health").statusCode()).isEqualTo(200);
        // The other stages run on (and Debezium refuses to stop while its task is still starting).
        await().atMost(DEADLINE).untilAsserted(() -> {
            assertThat(sum(scrape(), "migrator_stage_running", "stage", "capture")).isEqualTo(1);
            assertThat(get("/ready").body()).startsWith("not ready: failed: sink: ");
        });
    }

    /** Both databases equal, nothing behind anywhere, the slot lag a number. */
    private void awaitCaughtUp() {
        await().atMost(DEADLINE).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(started.get().failure()).isEmpty();
            assertThat(pg.rows(v2, ACCOUNTS_V2)).isEqualTo(pg.rows(v1, ACCOUNTS_V1));
            assertThat(pg.rows(v2, TASKS_V2)).isEqualTo(pg.rows(v1, TASKS_V1));
            String m = scrape();
            for (String table : List.of("accounts", "tasks")) {
                assertThat(sum(m, "migrator_sink_records_behind", "table", table)).as("sink records behind " + table).isZero();
                assertThat(sum(m, "migrator_sink_seconds_behind", "table", table)).as("sink seconds behind " + table).isZero();
            }
            for (String table : List.of("users", "tasks")) {
                assertThat(sum(m, "migrator_transform_records_behind", "table", table)).as("transform records behind " + table).isZero();
            }
            assertThat(sum(m, "migrator_capture_slot_lag_bytes")).as("slot lag").isGreaterThanOrEqualTo(0);
        });
    }

    private static void assertServed(String metrics, String name) {
        assertThat(metrics).as("/metrics serves %s", name).containsPattern("(?m)^(# TYPE )?" + Pattern.quote(name) + "[{ ]");
    }

    /**
     * Every Prometheus metric name docs/metrics.md gives in backticks; with {@code copyOnly}, the meters of the table in
     * its section on the copy backfill's meters (served only with {@code backfill.mode: copy}).
     */
    private static List<String> documentedNames(boolean copyOnly) throws IOException {
        String doc = Files.readString(Path.of(System.getProperty("user.dir")).resolveSibling("docs").resolve("metrics.md"));
        if (copyOnly) {
            int section = doc.indexOf("### The copy backfill's meters");
            assertThat(section).as("docs/metrics.md has the copy backfill's section").isPositive();
            doc = doc.substring(section, doc.indexOf("\n## ", section)).lines()
                    .filter(line -> line.startsWith("| `migrator_")).map(line -> line.substring(0, line.indexOf('|', 1)))
                    .collect(java.util.stream.Collectors.joining("\n"));
        }
        TreeSet<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("`(migrator_[a-z_]+)`").matcher(doc);
        while (m.find()) {
            names.add(m.group(1));
        }
        return new ArrayList<>(names);
    }

    /**
     * The sum of the samples of {@code name} whose labels include {@code labels} (pairs of name and value); NaN
     * (failing any comparison) when there is none.
     */
    private static double sum(String scrape, String name, String... labels) {
        List<Double> values = samples(scrape, name, labels);
        return values.isEmpty() ? Double.NaN : values.stream().mapToDouble(Double::doubleValue).sum();
    }

    /** The values of the samples of {@code name} whose labels include {@code labels} (pairs of name and value). */
    private static List<Double> samples(String scrape, String name, String... labels) {
        List<Double> values = new ArrayList<>();
        for (String line : scrape.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            int brace = line.indexOf('{');
            String sample = brace >= 0 && brace < space ? line.substring(0, brace) : line.substring(0, space);
            if (!sample.equals(name)) {
                continue;
            }
            Map<String, String> present = new HashMap<>();
            if (brace >= 0 && brace < space) {
                for (String pair : line.substring(brace + 1, line.lastIndexOf('}')).split(",")) {
                    int eq = pair.indexOf('=');
                    present.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
                }
            }
            boolean matches = true;
            for (int i = 0; i < labels.length; i += 2) {
                matches &= labels[i + 1].equals(present.get(labels[i]));
            }
            if (matches) {
                String value = line.substring(space + 1);
                values.add(value.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(value));
            }
        }
        return values;
    }

    private String scrape() throws IOException, InterruptedException {
        HttpResponse<String> r = get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(http.url(path))).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private Spec spec(String targetUrl) {
        return spec(targetUrl, "debezium");
    }

    private Spec spec(String targetUrl, String backfillMode) {
        String prefix = "metrics_" + v1.substring(v1.lastIndexOf('_') + 1);
        return new SpecParser().parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 3 }
                backfill: { mode: %s }
                tenancy: { metricsPerTenant: true, holdSeconds: 0 }
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                  tasks:
                    # Streaming deletes users that tasks refer to: without waiting, those take the default.
                    dimensions: { tenant: { lookup: { table: users, key: user_id, column: name }, default: "'none'" } }
                    columns:
                      id: { from: id }
                      owner_id: { from: user_id }
                      title: { from: title }
                """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), targetUrl, pg.user(), pg.password(),
                TestKafka.bootstrapServers(), prefix, backfillMode), "metrics.yaml");
    }
}
