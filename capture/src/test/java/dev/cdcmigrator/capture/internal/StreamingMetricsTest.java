package dev.cdcmigrator.capture.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The meters read Debezium's streaming MBean by its name, and are NaN while it is absent or has no value yet. */
class StreamingMetricsTest {

    private static final String PREFIX = "streaming_metrics_test.raw";

    /** The attributes of Debezium's streaming MXBean the meters read, under Debezium's names. */
    public interface StreamingMXBean {
        long getMilliSecondsBehindSource();

        long getMilliSecondsSinceLastEvent();

        int getQueueTotalCapacity();

        int getQueueRemainingCapacity();

        boolean isConnected();

        long getTotalNumberOfEventsSeen();
    }

    /** A stand-in with settable values. */
    public static final class Streaming implements StreamingMXBean {
        volatile long behind = -1;
        volatile long sinceLast = -1;

        @Override
        public long getMilliSecondsBehindSource() {
            return behind;
        }

        @Override
        public long getMilliSecondsSinceLastEvent() {
            return sinceLast;
        }

        @Override
        public int getQueueTotalCapacity() {
            return 8192;
        }

        @Override
        public int getQueueRemainingCapacity() {
            return 8000;
        }

        @Override
        public boolean isConnected() {
            return true;
        }

        @Override
        public long getTotalNumberOfEventsSeen() {
            return 42;
        }
    }

    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    private final MeterRegistry registry = new SimpleMeterRegistry();
    private ObjectName registered;

    @AfterEach
    void unregister() throws Exception {
        if (registered != null && server.isRegistered(registered)) {
            server.unregisterMBean(registered);
        }
    }

    @Test
    void readsDebeziumsStreamingMBeanAndIsNaNWithoutIt() throws Exception {
        StreamingMetrics.register(registry, PREFIX);
        assertThat(gauge("migrator.capture.source.lag")).as("before Debezium streams").isNaN();
        assertThat(gauge("migrator.capture.queue.remaining")).isNaN();
        assertThat(gauge("migrator.capture.source.connected")).isNaN();
        assertThat(registry.get("migrator.capture.streaming.events").functionCounter().count()).isNaN();

        Streaming streaming = new Streaming();
        // The name Debezium's PostgreSQL connector gives it (io.debezium.metrics.Metrics).
        registered = new ObjectName("debezium.postgres:type=connector-metrics,context=streaming,server=" + PREFIX);
        server.registerMBean(streaming, registered);
        assertThat(gauge("migrator.capture.source.lag")).as("Debezium's -1 before the first change").isNaN();
        assertThat(gauge("migrator.capture.last.event.age")).isNaN();
        assertThat(gauge("migrator.capture.queue.capacity")).isEqualTo(8192);
        assertThat(gauge("migrator.capture.queue.remaining")).isEqualTo(8000);
        assertThat(gauge("migrator.capture.source.connected")).isEqualTo(1);
        assertThat(registry.get("migrator.capture.streaming.events").functionCounter().count()).isEqualTo(42);

        streaming.behind = 250;
        streaming.sinceLast = 0;
        assertThat(gauge("migrator.capture.source.lag")).isEqualTo(250);
        assertThat(gauge("migrator.capture.last.event.age")).isZero();
        assertThat(registry.get("migrator.capture.source.lag").gauge().getId().getBaseUnit()).isEqualTo("milliseconds");

        server.unregisterMBean(registered);
        assertThat(gauge("migrator.capture.source.lag")).as("after capture stopped").isNaN();
    }

    @Test
    void readsOnlyTheMBeanOfItsOwnConnector() throws Exception {
        StreamingMetrics.register(registry, PREFIX);
        registered = new ObjectName("debezium.postgres:type=connector-metrics,context=streaming,server=other.raw");
        server.registerMBean(new Streaming(), registered);
        assertThat(gauge("migrator.capture.queue.capacity")).isNaN();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }
}
