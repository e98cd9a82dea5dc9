package dev.cdcmigrator.capture.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.ManagementFactory;
import java.util.Set;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import org.apache.kafka.common.utils.Sanitizer;

/**
 * Debezium's streaming metrics as Micrometer meters. Debezium Embedded publishes them only as a JMX MBean,
 * {@code debezium.postgres:type=connector-metrics,context=streaming,server=<topic.prefix>}, registered once the
 * connector streams and unregistered when it stops; every meter reads the MBean on each scrape and is NaN while
 * there is none (still snapshotting, stopped), or while Debezium has no value yet.
 */
public final class StreamingMetrics {

    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    private final ObjectName pattern;

    private StreamingMetrics(String topicPrefix) {
        try {
            // The pattern also matches the keys Debezium adds for custom.metric.tags; the server value is escaped as
            // Debezium escapes it.
            this.pattern = new ObjectName("debezium.postgres:type=connector-metrics,context=streaming,server="
                    + Sanitizer.jmxSanitize(topicPrefix) + ",*");
        } catch (MalformedObjectNameException e) {
            throw new IllegalArgumentException("no JMX name for Debezium's metrics of topic.prefix " + topicPrefix, e);
        }
    }

    /**
     * Registers the meters of the Debezium connector whose {@code topic.prefix} is {@code topicPrefix}.
     *
     * @param registry receives the meters
     * @param topicPrefix Debezium's {@code topic.prefix}, the {@code server} key of its MBean's name
     */
    public static void register(MeterRegistry registry, String topicPrefix) {
        StreamingMetrics m = new StreamingMetrics(topicPrefix);
        Gauge.builder("migrator.capture.source.lag", m, s -> s.measured("MilliSecondsBehindSource"))
                .description("Debezium's MilliSecondsBehindSource: the time it processed the last streamed change minus"
                        + " the time v1 committed it (includes the difference of the two clocks, so it can be negative);"
                        + " NaN before the first streamed change")
                .baseUnit("milliseconds")
                .strongReference(true)
                .register(registry);
        Gauge.builder("migrator.capture.last.event.age", m, s -> s.measured("MilliSecondsSinceLastEvent"))
                .description("Debezium's MilliSecondsSinceLastEvent: time since capture last streamed a change or"
                        + " heartbeat; NaN before the first")
                .baseUnit("milliseconds")
                .strongReference(true)
                .register(registry);
        Gauge.builder("migrator.capture.queue.capacity", m, s -> s.read("QueueTotalCapacity"))
                .description("Debezium's QueueTotalCapacity: how many events its queue between the replication stream"
                        + " and the hand-off to Kafka holds (max.queue.size)")
                .baseUnit("events")
                .strongReference(true)
                .register(registry);
        Gauge.builder("migrator.capture.queue.remaining", m, s -> s.read("QueueRemainingCapacity"))
                .description("Debezium's QueueRemainingCapacity: free places in that queue; near 0 means Kafka or the"
                        + " hand-off cannot keep up with v1")
                .baseUnit("events")
                .strongReference(true)
                .register(registry);
        Gauge.builder("migrator.capture.source.connected", m, s -> s.read("Connected"))
                .description("Debezium's Connected: 1 while capture's replication connection to v1 is up, 0 when it is"
                        + " not")
                .strongReference(true)
                .register(registry);
        // A function counter holds its object weakly; the gauges above keep m.
        FunctionCounter.builder("migrator.capture.streaming.events", m, s -> s.read("TotalNumberOfEventsSeen"))
                .description("Debezium's TotalNumberOfEventsSeen while streaming (not the snapshot): changes it read"
                        + " from the slot since capture started streaming")
                .baseUnit("events")
                .register(registry);
    }

    /** The attribute of Debezium's MBean as a number (a boolean as 1 or 0); NaN when there is none. */
    private double read(String attribute) {
        try {
            Set<ObjectName> names = server.queryNames(pattern, null);
            if (names.isEmpty()) {
                return Double.NaN;
            }
            Object value = server.getAttribute(names.iterator().next(), attribute);
            if (value instanceof Number n) {
                return n.doubleValue();
            }
            if (value instanceof Boolean b) {
                return b ? 1 : 0;
            }
            return Double.NaN;
        } catch (JMException | RuntimeException e) {
            // Unregistered between the query and the read (capture stopping), or a Debezium without the attribute.
            return Double.NaN;
        }
    }

    /**
     * {@link #read}, with Debezium's -1 for "not measured yet" as NaN; other values as they are (a negative lag is
     * v1's clock ahead of the migrator's).
     */
    private double measured(String attribute) {
        double value = read(attribute);
        return value == -1 ? Double.NaN : value;
    }
}
