package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** v1 columns added mid-stream flow by; a needed column dropped or retyped stops the transform before anything is written. */
class SchemaChangeTopologyTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);

    @RegisterExtension
    final TestTopology topology = new TestTopology("schema-change-test", """
                tables:
                  items:
                    where: "row.qty > 0"
                    columns: { id: { from: id }, label: { expr: "row.name + '!'" } }
                """, new SimpleMeterRegistry());
    private final TestInputTopic<byte[], byte[]> raw = topology.raw("items");
    private final TestOutputTopic<byte[], byte[]> v2 = topology.v2("items");
    private final TestOutputTopic<byte[], byte[]> dlq = topology.dlq();

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
