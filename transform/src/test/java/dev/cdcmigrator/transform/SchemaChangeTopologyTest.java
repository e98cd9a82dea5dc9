package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** v1 columns added mid-stream flow by; a needed column dropped or retyped stops the transform before anything is written. */
class SchemaChangeTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);

    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> raw;
    private TestOutputTopic<byte[], byte[]> v2;
    private TestOutputTopic<byte[], byte[]> dlq;

    @BeforeEach
    void start() {
        var spec = new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: app }
                tables:
                  items:
                    where: "row.qty > 0"
                    columns: { id: { from: id }, label: { expr: "row.name + '!'" } }
                """, "t.yaml");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "schema-change-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(spec, new SimpleMeterRegistry()), props);
        raw = driver.createInputTopic("app.raw.public.items", new ByteArraySerializer(), new ByteArraySerializer());
        v2 = driver.createOutputTopic("app.v2.items", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        dlq = driver.createOutputTopic("app.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void insert(DebeziumEnvelopes table, long id, Map<String, Object> values, long lsn) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", id);
        row.putAll(values);
        raw.pipeInput(table.key("id", id), table.change("c", null, row, lsn, lsn - 1));
    }

    private List<String> out() {
        return v2.readValuesToList().stream().map(b -> V2.deserialize(null, b).after().toString()).toList();
    }

    @Test
    void aColumnAddedOnV1FlowsByAndOneTheSpecNeedsStopsTheTransformWhenDroppedOrRetyped() {
        DebeziumEnvelopes original = new DebeziumEnvelopes("items").column("id", "int64").column("name", "string").column("qty", "int32");
        DebeziumEnvelopes added = new DebeziumEnvelopes("items").column("id", "int64").column("name", "string").column("qty", "int32")
                .column("color", "string");
        insert(original, 1, Map.of("name", "a", "qty", 1), 100);
        insert(added, 2, Map.of("name", "b", "qty", 2, "color", "red"), 200);
        assertThat(out()).containsExactly("{\"id\":1,\"label\":\"a!\"}", "{\"id\":2,\"label\":\"b!\"}");

        DebeziumEnvelopes dropped = new DebeziumEnvelopes("items").column("id", "int64").column("qty", "int32");
        assertThatThrownBy(() -> insert(dropped, 3, Map.of("qty", 3), 300))
                .rootCause()
                .hasMessageContaining("v1 table public.items no longer has column name at LSN 300 (key {\"id\":3}),"
                        + " needed by v2 column items.label")
                .hasMessageContaining("restart the transform");
        assertThat(out()).isEmpty();
        assertThat(dlq.isEmpty()).isTrue();
    }

    @Test
    void aRetypedColumnTheSpecNeedsStopsTheTransform() {
        DebeziumEnvelopes original = new DebeziumEnvelopes("items").column("id", "int64").column("name", "string").column("qty", "int32");
        DebeziumEnvelopes retyped = new DebeziumEnvelopes("items").column("id", "int64").column("name", "string").column("qty", "string");
        insert(original, 1, Map.of("name", "a", "qty", 1), 100);

        assertThatThrownBy(() -> insert(retyped, 2, Map.of("name", "b", "qty", "2"), 200))
                .rootCause()
                .hasMessageContaining("v1 column public.items.qty changed type from int32 to string at LSN 200 (key {\"id\":2}),"
                        + " needed by the filter of items into items");
        assertThat(out()).containsExactly("{\"id\":1,\"label\":\"a!\"}");
    }
}
