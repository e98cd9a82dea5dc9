package dev.cdcmigrator.cli.internal;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.NamingConvention;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusNamingConvention;
import java.util.Arrays;

/** The registry behind {@code /metrics}: one per process, never Micrometer's global one. */
public final class PrometheusMetrics {

    private PrometheusMetrics() {
    }

    /**
     * A Prometheus registry with the migrator's naming (see {@link MigratorNaming}) and the JVM's own meters
     * (memory, threads, class loading, CPU, uptime) under their usual Micrometer names.
     */
    public static PrometheusMeterRegistry newRegistry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().namingConvention(new MigratorNaming());
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        return registry;
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
