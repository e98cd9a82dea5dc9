package dev.cdcmigrator.transform;

import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The transform topology of one spec under a {@link TopologyTestDriver}, with topics of bytes as capture and the sink
 * see them: what a topology test feeds and reads.
 *
 * <p>Register it on an instance field, {@code @RegisterExtension final TestTopology topology = new TestTopology(…);}:
 * JUnit makes a test instance per test method, so every test gets a fresh driver (empty state stores), closed after
 * the test. The spec's v1 and v2 are never connected to; its topic prefix is {@code app}.
 */
final class TestTopology implements AfterEachCallback {

    private final TopologyTestDriver driver;

    /**
     * @param applicationId the Streams application id, one a test class (it names the driver's state directory)
     * @param rest the spec's entries after {@code kafka:}, {@code tables:} among them
     * @param registry receives the topology's meters
     */
    TestTopology(String applicationId, String rest, MeterRegistry registry) {
        var spec = new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: app }
                """ + rest, "t.yaml");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(spec, registry), props);
    }

    /** @return the raw topic capture writes v1 table {@code public.<table>}'s changes to */
    TestInputTopic<byte[], byte[]> raw(String table) {
        return driver.createInputTopic("app.raw.public." + table, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** @return the topic the sink reads v2 table {@code table}'s changes from */
    TestOutputTopic<byte[], byte[]> v2(String table) {
        return output("app.v2." + table);
    }

    /** @return the dead letter topic */
    TestOutputTopic<byte[], byte[]> dlq() {
        return output("app.dlq");
    }

    /** @return the topic named {@code topic} */
    TestOutputTopic<byte[], byte[]> output(String topic) {
        return driver.createOutputTopic(topic, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        driver.close();
    }
}
