package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.testkit.Ports;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SchemaRegistryClientTest {

    static final Schema V1 = SchemaBuilder.record("Row").namespace("t").fields().requiredInt("id").endRecord();
    static final Schema V2 = SchemaBuilder.record("Row").namespace("t").fields().requiredInt("id")
            .optionalString("note").endRecord();
    static final Schema INCOMPATIBLE = SchemaBuilder.record("Row").namespace("t").fields().requiredString("id").endRecord();

    private RegistryStandIn registry;

    @BeforeEach
    void start() {
        registry = RegistryStandIn.start("alice", "s3cret");
    }

    @AfterEach
    void stop() {
        registry.close();
    }

    private SchemaRegistryClient client(Map<String, Object> extra) {
        Map<String, Object> configs = new java.util.HashMap<>(Map.of(
                "schema.registry.url", registry.url(),
                "basic.auth.credentials.source", "USER_INFO",
                "basic.auth.user.info", "alice:s3cret"));
        configs.putAll(extra);
        return SchemaRegistryClient.create(configs);
    }

    @Test
    void registersOnceThenServesFromTheCache() {
        SchemaRegistryClient client = client(Map.of());

        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.schemaById(1)).isEqualTo(V1);

        assertThat(registry.requests()).extracting(RegistryStandIn.Request::line)
                .containsExactly("POST /subjects/orders-value/versions?normalize=false");
        RegistryStandIn.Request register = registry.requests().get(0);
        assertThat(register.headers()).containsEntry("content-type", "application/vnd.schemaregistry.v1+json")
                .containsEntry("authorization", "Basic YWxpY2U6czNjcmV0");
        assertThat(register.body()).isEqualTo("{\"schema\":" + quoted(V1.toString()) + "}");
    }

    @Test
    void idsAreRegistryWideAndASecondVersionGetsANewId() {
        SchemaRegistryClient client = client(Map.of());

        assertThat(client.register("a-value", V1)).isEqualTo(1);
        assertThat(client.register("b-value", V1)).isEqualTo(1);
        assertThat(client.register("a-value", V2)).isEqualTo(2);

        assertThat(registry.versions("a-value")).containsExactly(1, 2);
        RegisteredSchema latest = client.latestVersion("a-value");
        assertThat(latest).isEqualTo(new RegisteredSchema("a-value", 2, 2, V2));
    }

    @Test
    void looksUpWithoutRegistering() {
        SchemaRegistryClient client = client(Map.of());
        client.register("orders-value", V1);
        registry.clearRequests();

        SchemaRegistryClient other = client(Map.of());
        assertThat(other.lookup("orders-value", V1)).isEqualTo(new RegisteredSchema("orders-value", 1, 1, V1));
        assertThat(other.lookup("orders-value", V1).id()).isEqualTo(1);
        assertThatThrownBy(() -> other.lookup("orders-value", V2))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> {
                    assertThat(e.isNotFound()).isTrue();
                    assertThat(e.errorCode()).isEqualTo(SchemaRegistryException.SCHEMA_NOT_FOUND);
                    assertThat(e.subject()).isEqualTo("orders-value");
                });
        assertThat(registry.requests()).extracting(RegistryStandIn.Request::line).containsExactly(
                "POST /subjects/orders-value?normalize=false&deleted=false",
                "POST /subjects/orders-value?normalize=false&deleted=false");
        assertThat(registry.versions("orders-value")).containsExactly(1);
    }

    @Test
    void fetchesASchemaByIdOnce() {
        client(Map.of()).register("orders-value", V1);
        registry.clearRequests();
        SchemaRegistryClient reader = client(Map.of());

        assertThat(reader.schemaById(1, "orders-value")).isEqualTo(V1);
        assertThat(reader.schemaById(1)).isEqualTo(V1);

        assertThat(registry.requests()).extracting(RegistryStandIn.Request::line)
                .containsExactly("GET /schemas/ids/1?fetchMaxId=false&subject=orders-value");
    }

    @Test
    void anIncompatibleSchemaIsRefusedNamingTheSubject() {
        SchemaRegistryClient client = client(Map.of());
        client.register("orders-value", V1);

        assertThat(client.isCompatible("orders-value", V2)).isTrue();
        assertThat(client.isCompatible("orders-value", INCOMPATIBLE)).isFalse();
        assertThat(client.isCompatible("new-subject-value", INCOMPATIBLE)).isTrue();
        assertThatThrownBy(() -> client.register("orders-value", INCOMPATIBLE))
                .isInstanceOfSatisfying(IncompatibleSchemaException.class, e -> {
                    assertThat(e.subject()).isEqualTo("orders-value");
                    assertThat(e.status()).isEqualTo(409);
                    assertThat(e.getMessage()).startsWith("subject 'orders-value': the schema registry refused the schema as incompatible")
                            .contains("TYPE_MISMATCH");
                });
        assertThat(registry.versions("orders-value")).containsExactly(1);
    }

    @Test
    void wrongCredentialsSaySo() {
        SchemaRegistryClient client = client(Map.of("basic.auth.user.info", "alice:wrong"));

        assertThatThrownBy(() -> client.register("orders-value", V1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("answered 401").hasMessageContaining("basic.auth.user.info");
    }

    @Test
    void credentialsFromTheUrl() {
        String url = registry.url().replace("http://", "http://alice:s3cret@");
        SchemaRegistryClient client = SchemaRegistryClient.create(Map.of("schema.registry.url", url));

        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.config().urls()).extracting(Object::toString).containsExactly(registry.url());
        assertThat(client.config().toString()).doesNotContain("s3cret");
    }

    @Test
    void triesTheNextUrlWhenOneCannotBeReached() throws IOException {
        int closedPort = Ports.free();
        SchemaRegistryClient client = client(Map.of("schema.registry.url", "http://127.0.0.1:" + closedPort + "," + registry.url()));

        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.register("orders-value", V2)).isEqualTo(2);
    }

    @Test
    void anUnreachableRegistryNamesItsUrl() throws IOException {
        int closedPort = Ports.free();
        SchemaRegistryClient client = SchemaRegistryClient.create(Map.of("schema.registry.url", "http://127.0.0.1:" + closedPort));

        assertThatThrownBy(() -> client.register("orders-value", V1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("cannot reach the schema registry at [http://127.0.0.1:" + closedPort + "]");
    }

    @Test
    void configurationKeysAreConfluents() {
        RegistryConfig config = RegistryConfig.from(Map.of(
                "schema.registry.url", "http://a:8081/, http://b:8081",
                "auto.register.schemas", "false",
                "use.latest.version", true,
                "latest.cache.ttl.sec", "30",
                "normalize.schemas", "true",
                "max.schemas.per.subject", 10,
                "value.subject.name.strategy", "io.confluent.kafka.serializers.subject.TopicNameStrategy",
                "bearer.auth.credentials.source", "STATIC_TOKEN",
                "bearer.auth.token", "tok"));

        assertThat(config.urls()).extracting(Object::toString).containsExactly("http://a:8081", "http://b:8081");
        assertThat(config.autoRegister()).isFalse();
        assertThat(config.useLatestVersion()).isTrue();
        assertThat(config.latestCacheTtl()).hasSeconds(30);
        assertThat(config.normalize()).isTrue();
        assertThat(config.maxSchemasPerSubject()).isEqualTo(10);
        assertThat(config.authorization()).contains("Bearer tok");

        assertThatThrownBy(() -> RegistryConfig.from(Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("schema.registry.url");
        assertThatThrownBy(() -> RegistryConfig.from(Map.of("schema.registry.url", "http://a",
                "value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("only TopicNameStrategy");
        assertThatThrownBy(() -> RegistryConfig.from(Map.of("schema.registry.url", "http://a",
                "basic.auth.credentials.source", "USER_INFO")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("basic.auth.user.info");
        assertThatThrownBy(() -> RegistryConfig.from(Map.of("schema.registry.url", "http://a", "specific.avro.reader", "true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("GenericRecord only");
        assertThatThrownBy(() -> RegistryConfig.from(Map.of("schema.registry.url", "mock://x")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("mock://");
        assertThat(RegistryConfig.from(Map.of("schema.registry.url", "http://a",
                "schema.registry.basic.auth.user.info", "u:p", "basic.auth.credentials.source", "USER_INFO")).authorization())
                .contains("Basic dTpw");
    }

    @Test
    void withoutAutoRegisterAnUnregisteredSchemaFailsClearly() {
        SchemaRegistryClient client = client(Map.of("auto.register.schemas", "false"));
        ConfluentAvroSerializer serializer = new ConfluentAvroSerializer(client, true);
        GenericRecord record = new GenericData.Record(V1);
        record.put("id", 7);

        assertThatThrownBy(() -> serializer.serialize("orders", record))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("subject 'orders-key' does not have schema t.Row and auto.register.schemas is false");

        client(Map.of()).register("orders-key", V1);
        assertThat(serializer.serialize("orders", record)).containsExactly(0, 0, 0, 0, 1, 14);
    }

    @Test
    void useLatestVersionWritesWithTheLatestSchema() {
        SchemaRegistryClient admin = client(Map.of());
        admin.register("orders-value", V1);
        admin.register("orders-value", V2);
        SchemaRegistryClient client = client(Map.of("auto.register.schemas", false, "use.latest.version", true));
        GenericRecord old = new GenericData.Record(V1);
        old.put("id", 7);

        byte[] written = new ConfluentAvroSerializer(client, false).serialize("orders", old);

        // schema id 2, id 7 (zig-zag 14), note null (branch 0)
        assertThat(written).containsExactly(0, 0, 0, 0, 2, 14, 0);
        GenericRecord read = new ConfluentAvroDeserializer(client, false, null).deserialize("orders", written);
        assertThat(read.getSchema()).isEqualTo(V2);
        assertThat(read.get("id")).isEqualTo(7);

        Schema newer = SchemaBuilder.record("Row").namespace("t").fields().requiredInt("id").requiredLong("extra").endRecord();
        GenericRecord other = new GenericData.Record(newer);
        other.put("id", 1);
        other.put("extra", 2L);
        assertThat(new ConfluentAvroSerializer(client, false).serialize("orders", other)).hasSize(7);
        Schema conflicting = SchemaBuilder.record("Row").namespace("t").fields().requiredString("id").endRecord();
        GenericRecord bad = new GenericData.Record(conflicting);
        bad.put("id", "x");
        assertThatThrownBy(() -> new ConfluentAvroSerializer(client, false).serialize("orders", bad))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("subject 'orders-value': the latest version (id 2) cannot read");
    }

    @Test
    void aReaderSchemaResolvesOlderVersions() {
        SchemaRegistryClient client = client(Map.of());
        GenericRecord old = new GenericData.Record(V1);
        old.put("id", 7);
        byte[] written = new ConfluentAvroSerializer(client, false).serialize("orders", old);

        GenericRecord read = new ConfluentAvroDeserializer(client, false, V2).deserialize("orders", written);

        assertThat(read.getSchema()).isEqualTo(V2);
        assertThat(read.get("id")).isEqualTo(7);
        assertThat(read.get("note")).isNull();
    }

    @Test
    void logicalTypeConvertersOnRequest() {
        Schema schema = new Schema.Parser().parse("""
                {"type":"record","name":"P","fields":[{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}]}""");
        GenericRecord record = new GenericData.Record(schema);
        record.put("price", new BigDecimal("12.34"));
        byte[] written = new ConfluentAvroSerializer(client(Map.of()), false).serialize("p", record);

        Object plain = new ConfluentAvroDeserializer(client(Map.of()), false, null).deserialize("p", written).get("price");
        Object converted = new ConfluentAvroDeserializer(client(Map.of("avro.use.logical.type.converters", "true")), false, null)
                .deserialize("p", written).get("price");

        assertThat(plain).isInstanceOf(java.nio.ByteBuffer.class);
        assertThat(converted).isEqualTo(new BigDecimal("12.34"));
    }

    @Test
    void configuredByClassNameLikeKafkaDoes() {
        ConfluentAvroSerde serde = new ConfluentAvroSerde();
        serde.configure(Map.of("schema.registry.url", registry.url(), "basic.auth.credentials.source", "USER_INFO",
                "basic.auth.user.info", "alice:s3cret"), true);
        GenericRecord record = new GenericData.Record(V1);
        record.put("id", 7);

        byte[] written = serde.serializer().serialize("orders", record);

        assertThat(registry.versions("orders-key")).containsExactly(1);
        assertThat(serde.deserializer().deserialize("orders", written)).isEqualTo(record);
    }

    private static String quoted(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
