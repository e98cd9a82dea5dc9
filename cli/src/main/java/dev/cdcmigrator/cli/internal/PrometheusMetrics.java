package dev.cdcmigrator.cli.internal;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.config.NamingConvention;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusNamingConvention;
import java.util.Arrays;
import java.util.Properties;

/** The registry behind {@code /metrics}: one per process, never Micrometer's global one. */
public final class PrometheusMetrics {

    /** The name of the build information gauge: {@code migrator_build_info} in Prometheus. */
    private static final String BUILD_INFO = "migrator.build.info";
    /** The prefix of Kafka Streams' per state store meters, which the registry leaves out. */
    private static final String KAFKA_STREAMS_STATE = "kafka.stream.state.";

    private PrometheusMetrics() {
    }

    /**
     * A Prometheus registry with the migrator's naming (see {@link MigratorNaming}), the JVM's own meters (memory,
     * garbage collection, threads, class loading, CPU, uptime) under their usual Micrometer names, and
     * {@code migrator.build.info}; Kafka Streams' per state store meters are left out. Close it when the process stops:
     * that also stops the GC meters listening to the JVM.
     */
    public static PrometheusMeterRegistry newRegistry() {
        ProcessRegistry registry = new ProcessRegistry();
        registry.config().namingConvention(new MigratorNaming())
                // Kafka Streams measures each state store of each task with some ninety RocksDB meters: thousands of
                // series for a spec of a few tables. migrator.transform.state.memory measures what matters of them.
                .meterFilter(MeterFilter.denyNameStartsWith(KAFKA_STREAMS_STATE));
        new JvmMemoryMetrics().bindTo(registry);
        registry.gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        registerBuildInfo(registry, BuildInfo.properties());
        return registry;
    }

    /** The registry of the process; it owns the GC binder, whose JVM notification listeners outlive it otherwise. */
    private static final class ProcessRegistry extends PrometheusMeterRegistry {

        private final JvmGcMetrics gc = new JvmGcMetrics();

        ProcessRegistry() {
            super(PrometheusConfig.DEFAULT);
        }

        @Override
        public void close() {
            try {
                gc.close();
            } finally {
                super.close();
            }
        }
    }

    /**
     * {@code migrator.build.info}: always 1, its tags say what runs (the Prometheus {@code _info} idiom), so a
     * dashboard can show it and a query can join on it. {@code commit} is {@code unknown} when the build did not
     * record one.
     */
    static void registerBuildInfo(MeterRegistry registry, Properties build) {
        Gauge.builder(BUILD_INFO, () -> 1)
                .description("Always 1; the tags name the migrator's version and commit and the Debezium, Kafka and Java"
                        + " versions it runs with")
                .tag("version", build.getProperty("version", "unknown"))
                .tag("commit", build.getProperty("commit", "unknown"))
                .tag("debezium", build.getProperty("debezium", "unknown"))
                .tag("kafka", build.getProperty("kafka", "unknown"))
                .tag("java", System.getProperty("java.version"))
                .strongReference(true)
                .register(registry);
    }

    /**
     * Micrometer's Prometheus naming (dots to underscores, {@code _total} on counters, {@code _seconds} on timers, the
     * base unit appended to other meters), except that a {@code migrator.*} meter whose name already holds its base
     * unit as a word does not get it again: {@code migrator.sink.records.behind} (unit records) is
     * {@code migrator_sink_records_behind}, not {@code migrator_sink_records_behind_records}, and
     * {@code migrator.sink.rows.applied} (unit rows) is {@code migrator_sink_rows_applied_total}. docs/metrics.md lists
     * the resulting names.
     */
    public static final class MigratorNaming implements NamingConvention {

        private final NamingConvention prometheus = new PrometheusNamingConvention();

        @Override
        public String name(String name, Meter.Type type, String baseUnit) {
            String unit = baseUnit;
            if (unit != null && name.startsWith("migrator.") && Arrays.asList(name.split("\\.")).contains(unit)) {
                unit = null;
            }
            return prometheus.name(name, type, unit);
        }

        @Override
        public String tagKey(String key) {
            return prometheus.tagKey(key);
        }

        @Override
        public String tagValue(String value) {
            return prometheus.tagValue(value);
        }
    }
}
