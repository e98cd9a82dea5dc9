package dev.cdcmigrator.cli.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PrometheusMetricsTest {

    private final PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();

    @AfterEach
    void close() {
        registry.close();
    }

    @Test
    void buildInfoNamesTheVersionsAndIsOne() {
        String scrape = registry.scrape();
        assertThat(scrape).containsPattern("(?m)^# TYPE migrator_build_info gauge$");
        // The version resource is filtered by Maven: no ${...} placeholder reaches a tag.
        assertThat(scrape).containsPattern("(?m)^migrator_build_info\\{commit=\"[^\"]+\",debezium=\"\\d[^\"$]*\","
                + "java=\"" + System.getProperty("java.version") + "\",kafka=\"\\d[^\"$]*\",version=\"\\d[^\"$]*\"} 1(\\.0)?$");
    }

    @Test
    void buildInfoSaysUnknownForWhatTheBuildDidNotRecord() {
        PrometheusMeterRegistry bare = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Properties build = new Properties();
        build.setProperty("version", "1.2.3");
        build.setProperty("debezium", "3.6.3.Final");
        build.setProperty("kafka", "4.3.0");
        PrometheusMetrics.registerBuildInfo(bare, build);
        assertThat(bare.scrape()).contains("migrator_build_info{commit=\"unknown\",debezium=\"3.6.3.Final\",java=\""
                + System.getProperty("java.version") + "\",kafka=\"4.3.0\",version=\"1.2.3\"} 1");
        bare.close();
    }

    @Test
    void leavesOutKafkaStreamsPerStateStoreMetersOnly() {
        Gauge.builder("kafka.stream.state.block.cache.usage", () -> 1).tag("rocksdb.state.id", "images-users").register(registry);
        Gauge.builder("kafka.stream.thread.process.rate", () -> 2).tag("thread.id", "t-1").register(registry);
        assertThat(registry.scrape()).doesNotContain("kafka_stream_state")
                .contains("kafka_stream_thread_process_rate{thread_id=\"t-1\"} 2");
    }

    @Test
    void servesTheJvmsGarbageCollectionMetersNextToMemoryAndThreads() {
        System.gc();
        String scrape = registry.scrape();
        assertThat(scrape).contains("jvm_gc_memory_allocated_bytes_total", "jvm_gc_live_data_size_bytes",
                "jvm_gc_max_data_size_bytes", "jvm_memory_used_bytes", "jvm_threads_live_threads");
    }
}
