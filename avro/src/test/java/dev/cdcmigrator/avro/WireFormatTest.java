package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.testkit.RegistryStandIn;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Golden bytes, computed by hand from the Avro specification and Confluent's wire format. */
class WireFormatTest {

    /** A tiny record: an int, a string and a nullable decimal(5,2). */
    static final Schema TINY = new Schema.Parser().parse("""
            {"type": "record", "name": "Tiny", "namespace": "golden", "fields": [
              {"name": "id", "type": "int"},
              {"name": "name", "type": "string"},
              {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}],
               "default": null}
            ]}""");

    /**
     * id = 1, name = "ab", price = 12.50, written with schema id 1:
     * <pre>
     * 00            magic byte
     * 00 00 00 01   schema id 1, 4 bytes big-endian
     * 02            id: int 1, zig-zag 2, varint 0x02
     * 04 61 62      name: length 2 (zig-zag 4), then UTF-8 "ab"
     * 02            price: union branch 1 (the decimal), zig-zag 2
     * 04 04 e2      decimal: length 2 (zig-zag 4), then the unscaled 1250 = 0x04e2, two's complement big-endian
     * </pre>
     */
    static final byte[] GOLDEN = bytes(0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x04, 0x61, 0x62, 0x02, 0x04, 0x04, 0xe2);

    private static RegistryStandIn registry;
    private static SchemaRegistryClient client;

    @BeforeAll
    static void start() {
        registry = RegistryStandIn.start();
        client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
    }

    @AfterAll
    static void stop() {
        registry.close();
    }

    static GenericRecord tiny(int id, String name, BigDecimal price) {
        GenericRecord record = new GenericData.Record(TINY);
        record.put("id", id);
        record.put("name", name);
        record.put("price", price == null ? null : ByteBuffer.wrap(price.unscaledValue().toByteArray()));
        return record;
    }

    @Test
    void serializerWritesTheGoldenBytes() {
        ConfluentAvroSerializer serializer = new ConfluentAvroSerializer(client, false);

        byte[] written = serializer.serialize("golden-tiny", tiny(1, "ab", new BigDecimal("12.50")));

        assertThat(registry.versions("golden-tiny-value")).containsExactly(1);
        assertThat(written).containsExactly(GOLDEN);
    }

    @Test
    void serializerAcceptsLogicalTypeObjectsToo() {
        GenericRecord record = tiny(1, "ab", null);
        record.put("price", new BigDecimal("12.50"));

        assertThat(new ConfluentAvroSerializer(client, false).serialize("golden-tiny", record)).containsExactly(GOLDEN);
    }

    @Test
    void deserializerReadsTheGoldenBytes() {
        new ConfluentAvroSerializer(client, false).serialize("golden-tiny", tiny(1, "ab", new BigDecimal("12.50")));

        GenericRecord read = new ConfluentAvroDeserializer(client, false, null).deserialize("golden-tiny", GOLDEN);

        assertThat(read).isEqualTo(tiny(1, "ab", new BigDecimal("12.50")));
        assertThat(read.getSchema()).isEqualTo(TINY);
    }

    @Test
    void negativeAndMultiByteVarintsAndANullUnion() {
        // id = -65: zig-zag 129 = varint 81 01; name = "" : length 0 = 00; price = null: union branch 0 = 00.
        byte[] expected = bytes(0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x01, 0x00, 0x00);

        byte[] written = new ConfluentAvroSerializer(client, false).serialize("golden-tiny", tiny(-65, "", null));

        assertThat(written).containsExactly(expected);
        assertThat(new ConfluentAvroDeserializer(client, false, null).deserialize("golden-tiny", expected))
                .isEqualTo(tiny(-65, "", null));
    }

    @Test
    void frameAndSchemaId() {
        assertThat(WireFormat.frame(258, new byte[] {0x02})).containsExactly(0x00, 0x00, 0x00, 0x01, 0x02, 0x02);
        assertThat(WireFormat.frame(-2, new byte[0])).containsExactly(bytes(0x00, 0xff, 0xff, 0xff, 0xfe));
        assertThat(WireFormat.schemaId(bytes(0x00, 0x7f, 0x00, 0x00, 0x01, 0x33))).isEqualTo(0x7f000001);
        assertThat(WireFormat.payload(GOLDEN).remaining()).isEqualTo(GOLDEN.length - 5);
        assertThat(WireFormat.payload(GOLDEN).get(0)).isEqualTo((byte) 0x02);
    }

    @Test
    void refusesWhatIsNotTheWireFormat() {
        ConfluentAvroDeserializer deserializer = new ConfluentAvroDeserializer(client, false, null);

        assertThatThrownBy(() -> deserializer.deserialize("t", "{\"op\":\"c\"}".getBytes()))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("topic t").hasMessageContaining("unknown magic byte 123");
        assertThatThrownBy(() -> deserializer.deserialize("t", bytes(0x00, 0x00, 0x01)))
                .isInstanceOf(SerializationException.class).hasMessageContaining("3 bytes");
        assertThat(deserializer.deserialize("t", null)).isNull();
        assertThat(new ConfluentAvroSerializer(client, false).serialize("t", null)).isNull();
    }

    @Test
    void anUnknownSchemaIdNamesTheId() {
        assertThatThrownBy(() -> new ConfluentAvroDeserializer(client, false, null)
                .deserialize("t", bytes(0x00, 0x00, 0x00, 0x03, 0xe7, 0x02)))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("/schemas/ids/999").hasMessageContaining("40403")
                .satisfies(e -> assertThat(((SchemaRegistryException) e).isNotFound()).isTrue());
    }

    static byte[] bytes(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return bytes;
    }
}
