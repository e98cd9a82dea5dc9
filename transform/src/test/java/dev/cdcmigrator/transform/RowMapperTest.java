package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A v1 row mapped in batch gives exactly what the topology makes of a snapshot read of the same row. */
class RowMapperTest {

    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);
    private static final Spec SPEC = new SpecParser(name -> null).parse("""
            version: 1
            source: { url: "jdbc:postgresql://v1/app", user: u }
            target: { url: "jdbc:postgresql://v2/app", user: u }
            kafka: { topicPrefix: app }
            tables:
              tasks:
                split:
                  - into: jobs
                    columns:
                      job_id: { from: id }
                      title: { from: name, default: "'untitled'" }
                      state: { from: status, map: { created: pending, finished: done } }
                      priority: { expr: "row.params.?urgent.orValue(false) == true ? 'high' : 'normal'" }
                      params: { from: params }
                  - into: urgent_jobs
                    where: "row.params.?urgent.orValue(false) == true"
                    key: [ref]
                    columns:
                      ref: { expr: "'task-' + string(row.id)" }
                      origin: { value: v1 }
            """, "test.yaml");
    private static final DebeziumEnvelopes TASKS = new DebeziumEnvelopes("tasks")
            .column("id", "int64").column("name", "string").column("status", "string").column("params", "string:io.debezium.data.Json");

    private final RowMapper mapper = new RowMapper(SPEC, "tasks", List.of("id"), Set.of("params"), (table, key) -> null);
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> raw;
    private long lsn = 100;

    @BeforeEach
    void start() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "row-mapper-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        driver = new TopologyTestDriver(TransformTopology.build(SPEC, new SimpleMeterRegistry()), props);
        raw = driver.createInputTopic("app.raw.public.tasks", new ByteArraySerializer(), new ByteArraySerializer());
    }

    @AfterEach
    void close() {
        driver.close();
    }

    @Test
    void mapsEachRowAsTheTopologyMapsItsSnapshotRead() {
        List<Map<String, Object>> rows = List.of(
                row(1, "write docs", "created", "{\"urgent\": true}"),
                row(2, null, "finished", "{}"),
                row(3, "ship", "finished", "{\"urgent\": false, \"x\": [1, 2.50]}"));
        for (Map<String, Object> row : rows) {
            raw.pipeInput(TASKS.key("id", row.get("id")), TASKS.change("r", null, row, lsn++));
            List<V2Change> streamed = new java.util.ArrayList<>(output("jobs"));
            streamed.addAll(output("urgent_jobs"));

            List<RowMapper.V2Row> batch = mapper.map(wire(row));

            assertThat(batch).extracting(RowMapper.V2Row::table).containsExactlyElementsOf(streamed.stream().map(V2Change::table).toList());
            for (int i = 0; i < batch.size(); i++) {
                assertThat(batch.get(i).key()).isEqualTo(streamed.get(i).key());
                assertThat(batch.get(i).values()).isEqualTo(streamed.get(i).after());
            }
        }
        assertThat(mapper.map(wire(rows.get(0)))).extracting(r -> r.values().toString()).containsExactly(
                "{\"job_id\":1,\"title\":\"write docs\",\"state\":\"pending\",\"priority\":\"high\",\"params\":\"{\\\"urgent\\\": true}\"}",
                "{\"ref\":\"task-1\",\"origin\":\"v1\"}");
        assertThat(mapper.map(wire(rows.get(1)))).singleElement()
                .satisfies(r -> assertThat(r.values().get("title").asText()).isEqualTo("untitled"));
        assertThat(mapper.keyColumns()).containsExactly(List.of("job_id"), List.of("ref"));
    }

    @Test
    void aRowTheTopologyDeadLettersCannotBeMappedAndNamesTheColumn() {
        Map<String, Object> row = row(4, "odd", "queued", "{}");
        raw.pipeInput(TASKS.key("id", 4), TASKS.change("r", null, row, lsn++));
        DeadLetter letter = DEAD.deserialize(null, driver.createOutputTopic("app.dlq", new ByteArrayDeserializer(),
                new ByteArrayDeserializer()).readValue());

        assertThatThrownBy(() -> mapper.map(wire(row)))
                .isInstanceOf(RowMapper.UnmappableRowException.class)
                .hasMessage(letter.reason())
                .satisfies(e -> assertThat(((RowMapper.UnmappableRowException) e).column()).isEqualTo("state").isEqualTo(letter.column()));
    }

    private List<V2Change> output(String table) {
        return driver.createOutputTopic("app.v2." + table, new ByteArrayDeserializer(), new ByteArrayDeserializer())
                .readValuesToList().stream().map(v -> V2.deserialize(null, v)).toList();
    }

    /** The row as the transform reads it from JSON: numbers as the parser types them (an int when it fits). */
    private static ObjectNode wire(Map<String, Object> row) {
        try {
            return (ObjectNode) Json.MAPPER.readTree(Json.MAPPER.writeValueAsBytes(row));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> row(long id, String name, String status, String params) {
        Map<String, Object> row = new java.util.LinkedHashMap<>();
        row.put("id", id);
        row.put("name", name);
        row.put("status", status);
        row.put("params", params);
        return row;
    }
}
