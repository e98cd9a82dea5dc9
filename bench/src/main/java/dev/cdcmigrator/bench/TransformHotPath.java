package dev.cdcmigrator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.transform.TransformTopology;
import dev.cdcmigrator.transform.internal.RawChange;
import dev.cdcmigrator.transform.internal.TableMapping;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The transform's hot path for the benchmark's Keiko-style tasks mapping ({@code tasks-spec.yaml}), one row per
 * operation on one thread, so ops/s = rows/s per core:
 * <ul>
 *   <li>{@code topologySnapshotRow}, {@code topologyUpdateRow}: a Debezium change envelope (as capture publishes it)
 *       through the real topology ({@link TransformTopology#build}, TopologyTestDriver, RocksDB image store) to the
 *       serialized v2 change: parse, image lookup, mapping (CEL), image write, serialization;</li>
 *   <li>{@code topologyNamedSchemaUpdateRow}: the same update as capture sends it once the partition carried its
 *       schemas inline: payloads alone, the schemas named by headers ({@link SchemaReferences});</li>
 *   <li>{@code parseEnvelope}: only the envelope's JSON parse and decoding ({@link RawChange#parse});</li>
 *   <li>{@code mapRow}: only the compiled mapping ({@link TableMapping#map}) of an already parsed change.</li>
 * </ul>
 * The envelopes are built from {@code tasks-envelopes.json}, a snapshot read and an update captured from Debezium
 * 3.6 in a benchmark run, with the row's values varied.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class TransformHotPath {

    private static final int ROWS = 1 << 12;
    /** Placeholder of an update's commit LSN and LSN, replaced per operation by an increasing position. */
    private static final String POSITION = "1111111111111";
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private Path stateDir;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> input;
    private TestOutputTopic<byte[], byte[]> output;
    private final byte[][] keys = new byte[ROWS][];
    private final byte[][] reads = new byte[ROWS][];
    private final byte[][] updates = new byte[ROWS][];
    private final int[][] positionOffsets = new int[ROWS][];
    private final byte[][] namedKeys = new byte[ROWS][];
    private final byte[][] namedUpdates = new byte[ROWS][];
    private final int[][] namedPositionOffsets = new int[ROWS][];
    private Headers namedSchemas;
    private long position = 1_000_000_000_000L;
    private final RawChange[] parsedUpdates = new RawChange[ROWS];
    private final JsonNode[] v1Keys = new JsonNode[ROWS];
    private final ObjectNode[] images = new ObjectNode[ROWS];
    private TableMapping mapping;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // The spec's variables as PipelineRun sets them; no database is reached here.
        Spec spec = new SpecParser(name -> name.equals("BENCH_BACKFILL") ? "copy" : name.equals("BENCH_STREAM_THREADS") ? "1"
                : "jdbc:postgresql://127.0.0.1:5432/bench")
                .parse(PipelineRun.specYaml(), "tasks-spec.yaml");
        Topics topics = new Topics(spec);
        stateDir = Files.createTempDirectory("transform-hot-path-");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "transform-hot-path");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        // As Transform.start configures the real application.
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put("processing.exception.handler.global.enabled", true); // the constant is deprecated
        driver = new TopologyTestDriver(TransformTopology.build(spec, new SimpleMeterRegistry()), props);
        input = driver.createInputTopic(topics.raw("tasks"), new ByteArraySerializer(), new ByteArraySerializer());
        output = driver.createOutputTopic(topics.v2("tasks"), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        TestOutputTopic<byte[], byte[]> deadLetters = driver.createOutputTopic(topics.deadLetters(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());

        JsonNode templates = Json.MAPPER.readTree(resource("tasks-envelopes.json"));
        mapping = new TableMapping("tasks", spec.tables().get("tasks"));
        for (int i = 0; i < ROWS; i++) {
            long id = i + 1;
            ObjectNode key = templates.get("key").deepCopy();
            ((ObjectNode) key.get("payload")).put("id", id);
            keys[i] = Json.MAPPER.writeValueAsBytes(key);
            reads[i] = Json.MAPPER.writeValueAsBytes(envelope(templates.get("read"), id, "r", 1_000 + i));
            updates[i] = Json.MAPPER.writeValueAsBytes(envelope(templates.get("update"), id, "u", Long.parseLong(POSITION)));
            positionOffsets[i] = offsetsOf(updates[i], POSITION);
            namedKeys[i] = Json.MAPPER.writeValueAsBytes(key.get("payload"));
            namedUpdates[i] = Json.MAPPER.writeValueAsBytes(Json.MAPPER.readTree(updates[i]).get("payload"));
            namedPositionOffsets[i] = offsetsOf(namedUpdates[i], POSITION);
            v1Keys[i] = F.objectNode().put("id", id);
            images[i] = mapping.map(RawChange.parse(reads[i]), v1Keys[i], null).image();
            parsedUpdates[i] = RawChange.parse(updates[i]);
        }
        // Every row gets its image, and a row that would be dead-lettered fails the benchmark here.
        for (int i = 0; i < ROWS; i++) {
            input.pipeInput(keys[i], reads[i]);
        }
        // The update's schemas inline once, as capture sends them first to a partition: for a row of its own, so that
        // no benchmarked row has a position its snapshot read would be older than.
        ObjectNode primingKey = templates.get("key").deepCopy();
        ((ObjectNode) primingKey.get("payload")).put("id", ROWS + 1);
        byte[] primingKeyBytes = Json.MAPPER.writeValueAsBytes(primingKey);
        byte[] primingUpdate = Json.MAPPER.writeValueAsBytes(envelope(templates.get("update"), ROWS + 1, "u", 1));
        input.pipeInput(primingKeyBytes, primingUpdate);
        namedSchemas = new RecordHeaders()
                .add(SchemaReferences.KEY_HEADER, schemaId(primingKeyBytes))
                .add(SchemaReferences.VALUE_HEADER, schemaId(primingUpdate));
        List<byte[]> mapped = output.readValuesToList();
        if (mapped.size() != ROWS + 1 || !deadLetters.isEmpty()) {
            throw new IllegalStateException("expected " + (ROWS + 1) + " v2 changes and no dead letters, got " + mapped.size()
                    + " and " + deadLetters.readValuesToList().size() + " dead letters: "
                    + (deadLetters.isEmpty() ? "" : new String(deadLetters.readValue())));
        }
    }

    /** A copy of a captured envelope for row {@code id}: its values varied like the benchmark's generated rows. */
    private static ObjectNode envelope(JsonNode template, long id, String op, long lsn) {
        ObjectNode e = template.deepCopy();
        ObjectNode payload = (ObjectNode) e.get("payload");
        ObjectNode after = (ObjectNode) payload.get("after");
        after.put("id", id);
        after.put("user_id", 1 + id % 1000);
        after.put("agent_id", 1 + id % 200);
        after.put("type", List.of("text_processing", "image_generation", "data_analysis", "generic").get((int) (id % 4)));
        after.put("params", "{\"model\": \"m-" + id % 3 + "\", \"prompt\": \"Summarize document " + id + "\", \"urgent\": "
                + (id % 10 == 0) + ", \"background\": " + (id % 7 == 0) + ", \"max_tokens\": " + (256 + id % 768) + "}");
        after.put("status", List.of("created", "queued", "running", "finished", "failed").get((int) (id % 5)));
        after.put("timeout", 60 + id % 600);
        after.put("retries", id % 4);
        payload.put("op", op);
        ObjectNode source = (ObjectNode) payload.get("source");
        source.put("lsn", lsn);
        if (!op.equals("r")) {
            // [last commit LSN, LSN]: the transform drops a change not newer than the row's last one as a replay.
            source.put("sequence", "[\"" + lsn + "\",\"" + lsn + "\"]");
        }
        return e;
    }

    private static String resource(String name) {
        try (InputStream in = TransformHotPath.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where {@code placeholder} occurs in {@code bytes} (the update's position: source.lsn and twice in source.sequence). */
    private static int[] offsetsOf(byte[] bytes, String placeholder) {
        String text = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
        java.util.List<Integer> at = new java.util.ArrayList<>();
        for (int i = text.indexOf(placeholder); i >= 0; i = text.indexOf(placeholder, i + 1)) {
            at.add(i);
        }
        if (at.size() != 3) {
            throw new IllegalStateException("expected the position placeholder 3 times in the update envelope, found " + at.size());
        }
        return at.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The id capture names the schema of this inline key or value by: the SHA-256 of its schema's bytes. */
    private static byte[] schemaId(byte[] inline) {
        String text = new String(inline, java.nio.charset.StandardCharsets.UTF_8);
        byte[] schema = text.substring("{\"schema\":".length(), text.indexOf(",\"payload\":")).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return SchemaReferences.id(schema, 0, schema.length).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Gives row {@code i}'s update a position after every earlier one (13 digits, written in place). */
    private void advancePosition(int i) {
        advancePosition(updates[i], positionOffsets[i]);
    }

    private void advancePosition(byte[] bytes, int[] offsets) {
        long p = ++position;
        for (int offset : offsets) {
            long v = p;
            for (int d = POSITION.length() - 1; d >= 0; d--) {
                bytes[offset + d] = (byte) ('0' + v % 10);
                v /= 10;
            }
        }
    }

    private int nextRow() {
        next = (next + 1) & (ROWS - 1);
        return next;
    }

    @Benchmark
    public byte[] topologySnapshotRow() {
        int i = nextRow();
        input.pipeInput(keys[i], reads[i]);
        return output.readValue();
    }

    @Benchmark
    public byte[] topologyUpdateRow() {
        int i = nextRow();
        advancePosition(i);
        input.pipeInput(keys[i], updates[i]);
        return output.readValue();
    }

    @Benchmark
    public byte[] topologyNamedSchemaUpdateRow() {
        int i = nextRow();
        advancePosition(namedUpdates[i], namedPositionOffsets[i]);
        input.pipeInput(new TestRecord<>(namedKeys[i], namedUpdates[i], namedSchemas, (Long) null));
        return output.readValue();
    }

    @Benchmark
    public RawChange parseEnvelope() {
        return RawChange.parse(updates[nextRow()]);
    }

    @Benchmark
    public TableMapping.Result mapRow() {
        int i = nextRow();
        return mapping.map(parsedUpdates[i], v1Keys[i], images[i]);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        driver.close();
        dev.cdcmigrator.bench.Benchmark.deleteQuietly(stateDir);
    }
}
