package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.testkit.RegistryStandIn;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Interop with Confluent's Python Avro serializer ({@code confluent_kafka.avro}'s MessageSerializer and
 * CachedSchemaRegistryClient from Debian's python3-confluent-kafka, encoding with python3-avro), both against the same
 * registry stand-in: Python writes, we read; we write, Python reads; both write identical bytes for the same record
 * and schema id. Never skipped: without the Python packages it fails, saying how to install them.
 */
class PythonInteropIT {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String IMPORTS = "import confluent_kafka, confluent_kafka.avro, avro, requests";
    private static String python;

    @BeforeAll
    static void findPython() throws Exception {
        // -Dmigrator.python3=PATH picks the interpreter; otherwise Debian's first: apt installs python3-confluent-kafka
        // for it, not for a pyenv or venv python3 that may come first on PATH.
        String chosen = System.getProperty("migrator.python3");
        List<String> candidates = chosen != null ? List.of(chosen) : List.of("/usr/bin/python3", "python3");
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates) {
            Result probe = run(List.of(candidate, "-c", IMPORTS), "", 60);
            if (probe.exit() == 0) {
                python = candidate;
                return;
            }
            tried.add(candidate + ": " + probe.err().strip().lines().reduce((a, b) -> b).orElse("exit " + probe.exit()));
        }
        throw new AssertionError("Confluent's Python Avro serializer is needed for this test and no python3 has it "
                + tried + ". Install Debian's packages: apt-get install -y python3-confluent-kafka python3-avro"
                + " python3-requests (.ci/run installs them when `/usr/bin/python3 -c '" + IMPORTS + "'` fails).");
    }

    @Test
    void pythonAndJavaReadEachOtherAndWriteIdenticalBytes() throws Exception {
        V2TableSchema orders = V2AvroConverterTest.ORDERS;
        V2AvroConverter converter = V2AvroConverterTest.CONVERTER;
        List<GenericRecord> changes = List.of(
                converter.toAvro(new V2Change(Op.UPDATE, "orders", V2AvroConverterTest.json("{\"id\": 42}"),
                        V2AvroConverterTest.fullRow(), V2AvroConverterTest.SOURCE)),
                converter.toAvro(new V2Change(Op.DELETE, "orders", V2AvroConverterTest.json("{\"id\": 42}"), null,
                        V2AvroConverterTest.SOURCE)));
        GenericRecord tiny = WireFormatTest.tiny(1, "ab", new BigDecimal("12.50"));

        try (RegistryStandIn registry = RegistryStandIn.start()) {
            SchemaRegistryClient client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
            ConfluentAvroSerializer serializer = new ConfluentAvroSerializer(client, false);
            List<byte[]> javaBytes = changes.stream().map(r -> serializer.serialize("app.v2.orders", r)).toList();
            byte[] javaKey = new ConfluentAvroSerializer(client, true).serialize("app.v2.orders", (GenericRecord) changes.get(0).get("key"));

            ObjectNode request = MAPPER.createObjectNode().put("url", registry.url());
            ArrayNode jobs = request.putArray("jobs");
            jobs.addObject().put("topic", "golden-tiny").put("schema", WireFormatTest.TINY.toString())
                    .set("encode", MAPPER.createArrayNode().add(typed(tiny.getSchema(), tiny)));
            ObjectNode values = jobs.addObject().put("topic", "app.v2.orders").put("schema", orders.valueSchema().toString());
            ArrayNode encode = values.putArray("encode");
            ArrayNode decode = values.putArray("decode");
            for (int i = 0; i < changes.size(); i++) {
                encode.add(typed(orders.valueSchema(), changes.get(i)));
                decode.add(HexFormat.of().formatHex(javaBytes.get(i)));
            }
            jobs.addObject().put("topic", "app.v2.orders").put("key", true).put("schema", orders.keySchema().toString())
                    .set("decode", MAPPER.createArrayNode().add(HexFormat.of().formatHex(javaKey)));

            JsonNode answer = python(request);

            // The hand-computed golden bytes, from Confluent's Python serializer too (with the id Python registered).
            byte[] golden = WireFormatTest.GOLDEN.clone();
            ByteBuffer.wrap(golden).putInt(1, client.lookup("golden-tiny-value", WireFormatTest.TINY).id());
            assertThat(HexFormat.of().parseHex(answer.at("/jobs/0/encoded/0").asText())).containsExactly(golden);
            JsonNode python = answer.at("/jobs/1");
            ConfluentAvroDeserializer deserializer = new ConfluentAvroDeserializer(client, false, null);
            for (int i = 0; i < changes.size(); i++) {
                byte[] pythonBytes = HexFormat.of().parseHex(python.at("/encoded/" + i).asText());
                // Identical bytes, same schema id (Python registered the same schema and got the same id).
                assertThat(pythonBytes).as("Python's bytes of change %d", i).isEqualTo(javaBytes.get(i));
                // Java reads what Python wrote.
                GenericRecord read = deserializer.deserialize("app.v2.orders", pythonBytes);
                assertThat(read.toString()).isEqualTo(changes.get(i).toString());
                assertThat(converter.fromAvro(read).toString()).isEqualTo(converter.fromAvro(changes.get(i)).toString());
                // Python reads what Java wrote.
                assertThat(normalized(python.at("/decoded/" + i))).isEqualTo(normalized(typed(orders.valueSchema(), changes.get(i))));
            }
            assertThat(normalized(answer.at("/jobs/2/decoded/0"))).isEqualTo(normalized(typed(orders.keySchema(), changes.get(0).get("key"))));

            assertThat(registry.versions("app.v2.orders-value")).containsExactly(1);
            assertThat(registry.requests()).extracting(RegistryStandIn.Request::line)
                    // Python's registrations, and its fetch of the key schema Java registered (it knew id 1 from registering).
                    .contains("POST /subjects/golden-tiny-value/versions", "POST /subjects/app.v2.orders-value/versions",
                            "GET /schemas/ids/2");
        }
    }

    /** The record in the script's TYPED JSON: Avro plain values, decimals as decimal text, bytes as hex. */
    static JsonNode typed(Schema schema, Object value) {
        JsonNodeFactory nodes = JsonNodeFactory.instance;
        if (value == null) {
            return nodes.nullNode();
        }
        return switch (schema.getType()) {
            case UNION -> typed(schema.getTypes().stream().filter(s -> s.getType() != Schema.Type.NULL).findFirst().orElseThrow(), value);
            case RECORD -> {
                ObjectNode object = nodes.objectNode();
                GenericRecord record = (GenericRecord) value;
                schema.getFields().forEach(f -> object.set(f.name(), typed(f.schema(), record.get(f.pos()))));
                yield object;
            }
            case ARRAY -> {
                ArrayNode array = nodes.arrayNode();
                ((Collection<?>) value).forEach(v -> array.add(typed(schema.getElementType(), v)));
                yield array;
            }
            case BYTES -> {
                ByteBuffer buffer = ((ByteBuffer) value).duplicate();
                byte[] bytes = new byte[buffer.remaining()];
                buffer.get(bytes);
                yield schema.getLogicalType() instanceof LogicalTypes.Decimal d
                        ? nodes.textNode(new BigDecimal(new BigInteger(bytes), d.getScale()).toPlainString())
                        : nodes.textNode(HexFormat.of().formatHex(bytes));
            }
            case STRING -> nodes.textNode(value.toString());
            case BOOLEAN -> nodes.booleanNode((Boolean) value);
            case INT -> nodes.numberNode((Integer) value);
            case LONG -> nodes.numberNode((Long) value);
            case FLOAT -> nodes.numberNode((double) (Float) value);
            case DOUBLE -> nodes.numberNode((Double) value);
            default -> throw new IllegalArgumentException("not in the test schemas: " + schema.getType());
        };
    }

    private static JsonNode normalized(JsonNode node) throws IOException {
        return MAPPER.readTree(MAPPER.writeValueAsString(node));
    }

    private static JsonNode python(JsonNode request) throws Exception {
        Path script = Files.createTempFile("confluent_interop", ".py");
        try (InputStream in = PythonInteropIT.class.getResourceAsStream("/python/confluent_interop.py")) {
            Files.write(script, in.readAllBytes());
        }
        try {
            Result result = run(List.of(python, script.toString()), MAPPER.writeValueAsString(request), 120);
            assertThat(result.exit()).as("python exit code; stderr:\n%s", result.err()).isZero();
            return MAPPER.readTree(result.out());
        } finally {
            Files.deleteIfExists(script);
        }
    }

    record Result(int exit, String out, String err) {
    }

    private static Result run(List<String> command, String stdin, long timeoutSeconds) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(command).start();
        } catch (IOException e) {
            return new Result(-1, "", e.getMessage());
        }
        Path err = Files.createTempFile("python-err", ".txt");
        try {
            Thread errReader = new Thread(() -> {
                try {
                    Files.write(err, process.getErrorStream().readAllBytes());
                } catch (IOException ignored) {
                    // the exit code tells
                }
            });
            errReader.start();
            process.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().close();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new Result(-1, out, "timed out after " + timeoutSeconds + " s");
            }
            errReader.join(10_000);
            return new Result(process.exitValue(), out, Files.readString(err));
        } finally {
            Files.deleteIfExists(err);
        }
    }
}
