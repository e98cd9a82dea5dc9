package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.testkit.RegistryStandIn;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchemaUtils;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.CachedSchemaRegistryClient;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.SchemaMetadata;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumReader;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryEncoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.DatumWriter;
import org.apache.flink.avro.shaded.org.apache.avro.io.DecoderFactory;
import org.junit.jupiter.api.Test;

/**
 * The contract with Confluent's own code: its schema registry client (CachedSchemaRegistryClient 7.5.3) and Avro
 * helpers (AvroSchema, AvroSchemaUtils), as shaded into {@code org.apache.flink:flink-sql-avro-confluent-registry}
 * (Kafka, Avro and Jackson relocated, so they do not meet ours). That jar does not contain Confluent's
 * {@code KafkaAvroSerializer}; {@link #confluentSerialize} and {@link #confluentDeserialize} do what its
 * {@code AbstractKafkaAvroSerializer.serializeImpl} and {@code AbstractKafkaAvroDeserializer.deserialize} do, with
 * Confluent's classes for every step that has one (registration, datum writer, generic data, schema lookup).
 */
class ConfluentContractTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Map<String, Object> AUTH = Map.of("basic.auth.credentials.source", "USER_INFO",
            "basic.auth.user.info", "bob:pw");

    static final Schema V1 = SchemaBuilder.record("Row").namespace("contract").fields().requiredInt("id")
            .name("price").prop("pg.type", "numeric(5,2)").type(new Schema.Parser().parse(
                    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":5,\"scale\":2}")).noDefault()
            .endRecord();
    static final Schema V2 = SchemaBuilder.record("Row").namespace("contract").fields().requiredInt("id")
            .name("price").prop("pg.type", "numeric(5,2)").type(V1.getField("price").schema()).noDefault()
            .optionalString("note").endRecord();
    static final Schema INCOMPATIBLE = SchemaBuilder.record("Row").namespace("contract").fields().requiredString("id").endRecord();

    /** What a request looks like on the wire, without the headers HTTP stacks choose (Accept, User-Agent, ...). */
    record Sent(String line, String contentType, String authorization, JsonNode body) {
    }

    private static List<Sent> sent(RegistryStandIn registry) throws IOException {
        List<Sent> sent = new ArrayList<>();
        for (RegistryStandIn.Request r : registry.requests()) {
            boolean hasBody = !r.body().isEmpty();
            sent.add(new Sent(r.line(), hasBody ? r.headers().get("content-type") : null, r.headers().get("authorization"),
                    hasBody ? MAPPER.readTree(r.body()) : null));
        }
        return sent;
    }

    private static CachedSchemaRegistryClient confluentClient(RegistryStandIn registry) {
        return new CachedSchemaRegistryClient(registry.url(), 1000, AUTH);
    }

    private static SchemaRegistryClient ourClient(RegistryStandIn registry) {
        Map<String, Object> configs = new java.util.HashMap<>(AUTH);
        configs.put("schema.registry.url", registry.url());
        return SchemaRegistryClient.create(configs);
    }

    /** Runs the same calls through both clients, each against its own fresh stand-in, and compares what was sent. */
    private static void sameRequests(Consumer<CachedSchemaRegistryClient> confluent, Consumer<SchemaRegistryClient> ours)
            throws IOException {
        try (RegistryStandIn a = RegistryStandIn.start("bob", "pw"); RegistryStandIn b = RegistryStandIn.start("bob", "pw")) {
            confluent.accept(confluentClient(a));
            ours.accept(ourClient(b));
            assertThat(a.requests()).isNotEmpty();
            assertThat(sent(b)).isEqualTo(sent(a));
        }
    }

    @Test
    void registerSendsWhatConfluentSendsAndReadsTheSameAnswers() throws IOException {
        List<Object> confluentAnswers = new ArrayList<>();
        List<Object> ourAnswers = new ArrayList<>();
        sameRequests(c -> {
            try {
                confluentAnswers.add(c.register("orders-value", new AvroSchema(V1.toString())));
                confluentAnswers.add(c.register("orders-value", new AvroSchema(V1.toString())));
                confluentAnswers.add(c.register("orders-value", new AvroSchema(V2.toString())));
                confluentAnswers.add(c.register("other-key", new AvroSchema(V1.toString())));
            } catch (IOException | RestClientException e) {
                throw new AssertionError(e);
            }
        }, o -> {
            ourAnswers.add(o.register("orders-value", V1));
            ourAnswers.add(o.register("orders-value", V1));
            ourAnswers.add(o.register("orders-value", V2));
            ourAnswers.add(o.register("other-key", V1));
        });
        assertThat(ourAnswers).isEqualTo(confluentAnswers).containsExactly(1, 1, 2, 1);
    }

    @Test
    void lookupSendsWhatConfluentSends() throws IOException {
        List<Object> confluentAnswers = new ArrayList<>();
        List<Object> ourAnswers = new ArrayList<>();
        sameRequests(c -> {
            try {
                c.register("orders-value", new AvroSchema(V1.toString()));
                c.register("orders-value", new AvroSchema(V2.toString()));
                // getId is what Confluent's serializer calls with auto.register.schemas=false.
                confluentAnswers.add(c.getId("orders-value", new AvroSchema(V1.toString())));
                confluentAnswers.add(c.getId("orders-value", new AvroSchema(V1.toString())));
                confluentAnswers.add(c.getId("orders-value", new AvroSchema(V2.toString())));
            } catch (IOException | RestClientException e) {
                throw new AssertionError(e);
            }
        }, o -> {
            o.register("orders-value", V1);
            o.register("orders-value", V2);
            ourAnswers.add(o.lookup("orders-value", V1).id());
            ourAnswers.add(o.lookup("orders-value", V1).id());
            ourAnswers.add(o.lookup("orders-value", V2).id());
            assertThat(o.lookup("orders-value", V2).version()).isEqualTo(2);
        });
        assertThat(ourAnswers).isEqualTo(confluentAnswers).containsExactly(1, 1, 2);
    }

    @Test
    void schemaByIdSendsWhatConfluentSends() throws IOException {
        List<String> confluentAnswers = new ArrayList<>();
        List<String> ourAnswers = new ArrayList<>();
        // A reader that did not register: by subject and id (the deserializers' call), then by id alone.
        try (RegistryStandIn a = RegistryStandIn.start("bob", "pw"); RegistryStandIn b = RegistryStandIn.start("bob", "pw")) {
            confluentClient(a).register("orders-value", new AvroSchema(V1.toString()));
            ourClient(b).register("orders-value", V1);
            a.clearRequests();
            b.clearRequests();
            CachedSchemaRegistryClient confluentReader = confluentClient(a);
            confluentAnswers.add(confluentReader.getSchemaBySubjectAndId("orders-value", 1).canonicalString());
            confluentAnswers.add(confluentReader.getSchemaBySubjectAndId("orders-value", 1).canonicalString());
            confluentAnswers.add(confluentClient(a).getSchemaById(1).canonicalString());
            SchemaRegistryClient ourReader = ourClient(b);
            ourAnswers.add(ourReader.schemaById(1, "orders-value").toString());
            ourAnswers.add(ourReader.schemaById(1, "orders-value").toString());
            ourAnswers.add(ourClient(b).schemaById(1).toString());
            assertThat(sent(b)).isEqualTo(sent(a)).extracting(Sent::line).containsExactly(
                    "GET /schemas/ids/1?fetchMaxId=false&subject=orders-value", "GET /schemas/ids/1?fetchMaxId=false&subject=");
        } catch (RestClientException e) {
            throw new AssertionError(e);
        }
        assertThat(ourAnswers).isEqualTo(confluentAnswers);
        assertThat(ourAnswers.get(1)).isEqualTo(V1.toString());
    }

    @Test
    void latestVersionSendsWhatConfluentSends() throws IOException {
        List<Object> confluentAnswers = new ArrayList<>();
        List<Object> ourAnswers = new ArrayList<>();
        sameRequests(c -> {
            try {
                c.register("orders-value", new AvroSchema(V1.toString()));
                c.register("orders-value", new AvroSchema(V2.toString()));
                SchemaMetadata latest = c.getLatestSchemaMetadata("orders-value");
                confluentAnswers.addAll(List.of(latest.getId(), latest.getVersion(), latest.getSchema()));
            } catch (IOException | RestClientException e) {
                throw new AssertionError(e);
            }
        }, o -> {
            o.register("orders-value", V1);
            o.register("orders-value", V2);
            RegisteredSchema latest = o.latestVersion("orders-value");
            ourAnswers.addAll(List.of(latest.id(), latest.version(), latest.schema().toString()));
        });
        assertThat(ourAnswers).isEqualTo(confluentAnswers).containsExactly(2, 2, V2.toString());
    }

    @Test
    void compatibilityTestSendsWhatConfluentSends() throws IOException {
        List<Object> confluentAnswers = new ArrayList<>();
        List<Object> ourAnswers = new ArrayList<>();
        sameRequests(c -> {
            try {
                c.register("orders-value", new AvroSchema(V1.toString()));
                confluentAnswers.add(c.testCompatibility("orders-value", new AvroSchema(V2.toString())));
                confluentAnswers.add(c.testCompatibility("orders-value", new AvroSchema(INCOMPATIBLE.toString())));
            } catch (IOException | RestClientException e) {
                throw new AssertionError(e);
            }
        }, o -> {
            o.register("orders-value", V1);
            ourAnswers.add(o.isCompatible("orders-value", V2));
            ourAnswers.add(o.isCompatible("orders-value", INCOMPATIBLE));
        });
        assertThat(ourAnswers).isEqualTo(confluentAnswers).containsExactly(true, false);
    }

    @Test
    void anIncompatibleSchemaFailsBothTheSameWay() throws IOException {
        List<Object> confluentAnswers = new ArrayList<>();
        List<Object> ourAnswers = new ArrayList<>();
        sameRequests(c -> {
            try {
                c.register("orders-value", new AvroSchema(V1.toString()));
                c.register("orders-value", new AvroSchema(INCOMPATIBLE.toString()));
            } catch (RestClientException e) {
                confluentAnswers.addAll(List.of(e.getStatus(), e.getErrorCode()));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }, o -> {
            o.register("orders-value", V1);
            assertThatThrownBy(() -> o.register("orders-value", INCOMPATIBLE))
                    .isInstanceOfSatisfying(IncompatibleSchemaException.class, e -> {
                        ourAnswers.addAll(List.of(e.status(), e.errorCode()));
                        assertThat(e.subject()).isEqualTo("orders-value");
                    });
        });
        assertThat(ourAnswers).isEqualTo(confluentAnswers).containsExactly(409, 409);
    }

    // ------------------------------------------------------------------------------------------- the bytes

    /** A V2 change of every column kind, as the v2 topics will carry it. */
    private static GenericRecord envelope() {
        return V2AvroConverterTest.CONVERTER.toAvro(new V2Change(Op.UPDATE, "orders",
                V2AvroConverterTest.json("{\"id\": 42}"), V2AvroConverterTest.fullRow(), V2AvroConverterTest.SOURCE));
    }

    @Test
    void ourDeserializerReadsWhatConfluentsCodeWrites() throws Exception {
        GenericRecord record = envelope();
        try (RegistryStandIn registry = RegistryStandIn.start("bob", "pw")) {
            byte[] confluent = confluentSerialize(confluentClient(registry), "app.v2.orders", record);
            byte[] ours = new ConfluentAvroSerializer(ourClient(registry), false).serialize("app.v2.orders", record);

            assertThat(ours).isEqualTo(confluent);
            GenericRecord read = new ConfluentAvroDeserializer(ourClient(registry), false, null).deserialize("app.v2.orders", confluent);
            assertThat(read.toString()).isEqualTo(record.toString());
            assertThat(V2AvroConverterTest.CONVERTER.fromAvro(read).after().toString())
                    .isEqualTo(V2AvroConverterTest.CONVERTER.fromAvro(record).after().toString());
            assertThat(registry.versions("app.v2.orders-value")).containsExactly(1);
        }
    }

    @Test
    void confluentsCodeReadsWhatOurSerializerWrites() throws Exception {
        GenericRecord record = envelope();
        try (RegistryStandIn registry = RegistryStandIn.start("bob", "pw")) {
            byte[] ours = new ConfluentAvroSerializer(ourClient(registry), false).serialize("app.v2.orders", record);

            JsonNode read = confluentDeserialize(confluentClient(registry), "app.v2.orders", ours);

            assertThat(read).isEqualTo(MAPPER.readTree(avroJson(record)));
            assertThat(read.at("/after/dev.cdcmigrator.v2.orders.Value/title").asText()).isEqualTo("Ünïcode ✓");
        }
    }

    @Test
    void bothWriteTheGoldenBytes() throws Exception {
        try (RegistryStandIn registry = RegistryStandIn.start("bob", "pw")) {
            GenericRecord tiny = WireFormatTest.tiny(1, "ab", new java.math.BigDecimal("12.50"));
            assertThat(confluentSerialize(confluentClient(registry), "golden", tiny)).containsExactly(WireFormatTest.GOLDEN);
        }
    }

    /**
     * What Confluent's {@code AbstractKafkaAvroSerializer.serializeImpl} does (auto.register.schemas=true, TopicNameStrategy):
     * register the schema, write the magic byte and the id, then the datum with {@code AvroSchemaUtils.getDatumWriter}
     * on a direct binary encoder. The datum is built by Confluent's {@code AvroSchemaUtils.toObject} from the
     * record's Avro JSON encoding, so Confluent's Avro (shaded) holds it.
     */
    static byte[] confluentSerialize(CachedSchemaRegistryClient client, String topic, GenericRecord record) throws Exception {
        AvroSchema schema = new AvroSchema(record.getSchema().toString());
        int id = client.register(topic + "-value", schema);
        // Plain Avro representations (avro.use.logical.type.converters=false, Confluent's default).
        Object datum = AvroSchemaUtils.toObject(avroJson(record), schema, new GenericDatumReader<>(schema.rawSchema(),
                schema.rawSchema(), new org.apache.flink.avro.shaded.org.apache.avro.generic.GenericData()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = org.apache.flink.avro.shaded.org.apache.avro.io.EncoderFactory.get().directBinaryEncoder(out, null);
        @SuppressWarnings("unchecked")
        DatumWriter<Object> writer = (DatumWriter<Object>) AvroSchemaUtils.getDatumWriter(datum, schema.rawSchema(), false);
        writer.write(datum, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    /**
     * What Confluent's {@code AbstractKafkaAvroDeserializer} does for a generic record: check the magic byte, read the
     * id, fetch the writer schema by subject and id, read with {@code AvroSchemaUtils.getGenericData()}. Returns the
     * record as Confluent's {@code AvroSchemaUtils.toJson} writes it.
     */
    static JsonNode confluentDeserialize(CachedSchemaRegistryClient client, String topic, byte[] bytes) throws Exception {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        assertThat(buffer.get()).isEqualTo((byte) 0);
        int id = buffer.getInt();
        AvroSchema schema = (AvroSchema) client.getSchemaBySubjectAndId(topic + "-value", id);
        GenericDatumReader<Object> reader = new GenericDatumReader<>(schema.rawSchema(), schema.rawSchema(), AvroSchemaUtils.getGenericData());
        Object datum = reader.read(null, DecoderFactory.get().binaryDecoder(buffer.array(), 5, buffer.limit() - 5, null));
        return MAPPER.readTree(AvroSchemaUtils.toJson(datum));
    }

    /** Avro's JSON encoding of a record (unions tagged with the branch name), by our Avro. */
    static String avroJson(GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        JsonEncoder encoder = EncoderFactory.get().jsonEncoder(record.getSchema(), out);
        new GenericDatumWriter<GenericRecord>(record.getSchema()).write(record, encoder);
        encoder.flush();
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }
}
