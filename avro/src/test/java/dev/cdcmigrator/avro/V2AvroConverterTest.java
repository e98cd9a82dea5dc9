package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.avro.V2Column.Kind;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.testkit.RegistryStandIn;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

class V2AvroConverterTest {

    /** One column of every kind, as {@link V2AvroSchemas} derives them from the catalog (see V2AvroSchemasIT). */
    static final List<V2Column> COLUMNS = List.of(
            V2Column.of("id", "bigint", Kind.LONG, false),
            V2Column.of("flag", "boolean", Kind.BOOLEAN, true),
            V2Column.of("small", "smallint", Kind.INT, true),
            V2Column.of("n", "integer", Kind.INT, true),
            V2Column.of("r", "real", Kind.FLOAT, true),
            V2Column.of("d", "double precision", Kind.DOUBLE, true),
            V2Column.decimal("price", 12, 2, false),
            V2Column.of("any_num", "numeric", Kind.TEXT, true),
            V2Column.of("title", "text", Kind.STRING, false).withDefault("untitled"),
            V2Column.of("status", "mood", Kind.ENUM, true),
            V2Column.of("uid", "uuid", Kind.UUID, true),
            V2Column.of("doc", "jsonb", Kind.JSON, true),
            V2Column.of("raw", "bytea", Kind.BYTES, true),
            V2Column.of("day", "date", Kind.DATE, true),
            V2Column.of("at_time", "time without time zone", Kind.TIME_MICROS, true),
            V2Column.of("created", "timestamp with time zone", Kind.TIMESTAMP_MICROS, true),
            V2Column.of("local_ts", "timestamp without time zone", Kind.LOCAL_TIMESTAMP_MICROS, true),
            V2Column.of("tags", "text[]", Kind.STRING, true).asArray(1),
            V2Column.decimal("scores", 5, 1, true).asArray(1),
            V2Column.of("matrix", "integer[]", Kind.INT, true).asArray(2),
            V2Column.of("span", "interval", Kind.TEXT, true),
            V2Column.of("Order-ID", "integer", Kind.INT, true));

    static final V2TableSchema ORDERS = V2TableSchema.of(V2TableSchema.DEFAULT_NAMESPACE, "orders", COLUMNS, List.of("id"));
    static final V2AvroConverter CONVERTER = new V2AvroConverter(ORDERS);
    static final SourcePosition SOURCE = new SourcePosition("public.orders", 123456789L, 123456000L, 771L, 1709296496123L, false);

    static ObjectNode json(String text) {
        try {
            return (ObjectNode) Json.MAPPER.readTree(text);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A full row image in the v2 JSON form the transform writes. */
    static ObjectNode fullRow() {
        return json("""
                {"id": 42, "flag": true, "small": -3, "n": 2147483647, "r": 1.5, "d": 2.25,
                 "price": 12.50, "any_num": "123456789.123456789", "title": "Ünïcode ✓", "status": "happy",
                 "uid": "0e0b6f5c-7a2b-4a51-9d3e-4b1a1b2c3d4e", "doc": "{\\"b\\": 1, \\"a\\": [true, null]}",
                 "raw": "\\\\x00ff10", "day": "2024-03-01", "at_time": "12:34:56.000001",
                 "created": "2024-03-01T12:34:56.000001Z", "local_ts": "2024-03-01T12:34:56.000001",
                 "tags": ["a", null, "b c"], "scores": [1.5, null], "matrix": [[1, 2], [3, 4]],
                 "span": "1 day 02:00:00", "Order-ID": 7}""");
    }

    @Test
    void schemaShape() {
        Schema value = ORDERS.valueSchema();
        assertThat(value.getFullName()).isEqualTo("dev.cdcmigrator.v2.orders.Envelope");
        assertThat(value.getFields()).extracting(Schema.Field::name).containsExactly("op", "table", "key", "after", "source");
        assertThat(value.getField("op").schema().getType()).isEqualTo(Schema.Type.STRING);
        assertThat(value.getField("key").schema()).isEqualTo(ORDERS.keySchema());
        assertThat(ORDERS.keySchema().getFullName()).isEqualTo("dev.cdcmigrator.v2.orders.Key");
        assertThat(value.getField("after").schema().getTypes()).containsExactly(Schema.create(Schema.Type.NULL), ORDERS.rowSchema());
        assertThat(value.getField("after").defaultVal()).isEqualTo(org.apache.avro.JsonProperties.NULL_VALUE);
        assertThat(ORDERS.sourceSchema().getFullName()).isEqualTo("dev.cdcmigrator.v2.Source");
        assertThat(ORDERS.sourceSchema().getFields()).extracting(Schema.Field::name)
                .containsExactly("table", "lsn", "lastCommitLsn", "txId", "tsMs", "snapshot");

        Schema row = ORDERS.rowSchema();
        assertThat(row.getField("id").schema()).isEqualTo(Schema.create(Schema.Type.LONG));
        assertThat(row.getField("id").hasDefaultValue()).isFalse();
        assertThat(row.getField("title").defaultVal()).isEqualTo("untitled");
        Schema price = row.getField("price").schema();
        assertThat(price.getType()).isEqualTo(Schema.Type.BYTES);
        assertThat(price.getLogicalType()).isEqualTo(LogicalTypes.decimal(12, 2));
        assertThat(row.getField("price").getProp("pg.type")).isEqualTo("numeric(12,2)");
        assertThat(nonNull(row, "flag")).isEqualTo(Schema.create(Schema.Type.BOOLEAN));
        assertThat(row.getField("flag").schema().getTypes().get(0).getType()).isEqualTo(Schema.Type.NULL);
        assertThat(row.getField("flag").defaultVal()).isEqualTo(org.apache.avro.JsonProperties.NULL_VALUE);
        assertThat(nonNull(row, "any_num").getType()).isEqualTo(Schema.Type.STRING);
        assertThat(nonNull(row, "status").getType()).isEqualTo(Schema.Type.STRING);
        assertThat(nonNull(row, "uid").getLogicalType()).isEqualTo(LogicalTypes.uuid());
        assertThat(nonNull(row, "doc").getType()).isEqualTo(Schema.Type.STRING);
        assertThat(nonNull(row, "raw").getType()).isEqualTo(Schema.Type.BYTES);
        assertThat(nonNull(row, "day").getLogicalType()).isEqualTo(LogicalTypes.date());
        assertThat(nonNull(row, "at_time").getLogicalType()).isEqualTo(LogicalTypes.timeMicros());
        assertThat(nonNull(row, "created").getLogicalType()).isEqualTo(LogicalTypes.timestampMicros());
        assertThat(nonNull(row, "local_ts").getLogicalType()).isEqualTo(LogicalTypes.localTimestampMicros());
        assertThat(nonNull(row, "tags").toString()).isEqualTo("{\"type\":\"array\",\"items\":[\"null\",\"string\"]}");
        assertThat(nonNull(row, "matrix").toString())
                .isEqualTo("{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"array\",\"items\":[\"null\",\"int\"]}]}");
        assertThat(row.getField("Order_ID").getProp("pg.column")).isEqualTo("Order-ID");
        assertThat(row.getField("id").getProp("pg.column")).isNull();
    }

    private static Schema nonNull(Schema record, String field) {
        return record.getField(field).schema().getTypes().get(1);
    }

    @Test
    void valuesToAvro() {
        GenericRecord after = (GenericRecord) CONVERTER.toAvro(new V2Change(Op.CREATE, "orders", json("{\"id\": 42}"), fullRow(), SOURCE)).get("after");

        assertThat(after.get("id")).isEqualTo(42L);
        assertThat(after.get("n")).isEqualTo(Integer.MAX_VALUE);
        assertThat(after.get("r")).isEqualTo(1.5f);
        assertThat(after.get("price")).isEqualTo(ByteBuffer.wrap(new byte[] {0x04, (byte) 0xe2}));
        assertThat(after.get("any_num")).isEqualTo("123456789.123456789");
        assertThat(after.get("doc")).isEqualTo("{\"b\": 1, \"a\": [true, null]}");
        assertThat(after.get("raw")).isEqualTo(ByteBuffer.wrap(new byte[] {0x00, (byte) 0xff, 0x10}));
        assertThat(after.get("day")).isEqualTo((int) LocalDate.of(2024, 3, 1).toEpochDay()).isEqualTo(19783);
        assertThat(after.get("at_time")).isEqualTo(45_296_000_001L);
        assertThat(after.get("created")).isEqualTo(1_709_296_496_000_001L);
        assertThat(after.get("local_ts")).isEqualTo(1_709_296_496_000_001L);
        assertThat(after.get("tags")).isEqualTo(Arrays.asList("a", null, "b c"));
        assertThat(after.get("scores")).isEqualTo(Arrays.asList(ByteBuffer.wrap(new byte[] {0x0f}), null));
        assertThat(after.get("matrix")).isEqualTo(List.of(List.of(1, 2), List.of(3, 4)));
        assertThat(after.get("Order_ID")).isEqualTo(7);
    }

    @Test
    void textInputFormsPostgresqlAccepts() {
        assertThat(CONVERTER.toAvroValue("created", text("2024-03-01 14:34:56.000001+02"))).isEqualTo(1_709_296_496_000_001L);
        assertThat(CONVERTER.toAvroValue("created", text("2024-03-01T08:04:56.000001-04:30"))).isEqualTo(1_709_296_496_000_001L);
        assertThat(CONVERTER.toAvroValue("created", text("2024-03-01 12:34:56.0000010+00"))).isEqualTo(1_709_296_496_000_001L);
        assertThat(CONVERTER.toAvroValue("created", text("1969-12-31T23:59:59.999999Z"))).isEqualTo(-1L);
        assertThat(CONVERTER.toAvroValue("local_ts", text("2024-03-01 12:34:56.000001"))).isEqualTo(1_709_296_496_000_001L);
        assertThat(CONVERTER.toAvroValue("local_ts", text("2024-03-01 12:34"))).isEqualTo(1_709_296_440_000_000L);
        assertThat(CONVERTER.toAvroValue("at_time", text("24:00:00"))).isEqualTo(86_400_000_000L);
        assertThat(CONVERTER.toAvroValue("price", text("12.5"))).isEqualTo(ByteBuffer.wrap(new byte[] {0x04, (byte) 0xe2}));
        assertThat(CONVERTER.toAvroValue("price", text("-0.01"))).isEqualTo(ByteBuffer.wrap(new byte[] {(byte) 0xff}));
        assertThat(CONVERTER.toAvroValue("flag", text("yes"))).isEqualTo(true);
        assertThat(CONVERTER.toAvroValue("n", text(" 17 "))).isEqualTo(17);
        assertThat(CONVERTER.toAvroValue("d", text("-Infinity"))).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(CONVERTER.toAvroValue("r", text("NaN"))).isEqualTo(Float.NaN);
        assertThat(CONVERTER.toAvroValue("uid", text("{0E0B6F5C7A2B4A519D3E4B1A1B2C3D4E}"))).isEqualTo("0e0b6f5c-7a2b-4a51-9d3e-4b1a1b2c3d4e");
        assertThat(CONVERTER.toAvroValue("doc", json("{\"b\": 1}"))).isEqualTo("{\"b\":1}");
        assertThat(CONVERTER.toAvroValue("tags", text("{a,NULL,\"b c\",\"NULL\",\"q\\\"t\"}")))
                .isEqualTo(Arrays.asList("a", null, "b c", "NULL", "q\"t"));
        assertThat(CONVERTER.toAvroValue("matrix", text("{{1,2},{3,NULL}}"))).isEqualTo(List.of(List.of(1, 2), Arrays.asList(3, null)));
        assertThat(CONVERTER.toAvroValue("tags", text("{}"))).isEqualTo(List.of());
    }

    @Test
    void extremesAndEras() {
        assertThat(CONVERTER.toAvroValue("created", text("infinity"))).isEqualTo(Long.MAX_VALUE);
        assertThat(CONVERTER.toAvroValue("local_ts", text("-infinity"))).isEqualTo(Long.MIN_VALUE);
        assertThat(CONVERTER.toAvroValue("day", text("infinity"))).isEqualTo(Integer.MAX_VALUE);
        assertThat(CONVERTER.fromAvroValue("day", Integer.MIN_VALUE)).isEqualTo(text("-infinity"));
        Object bc = CONVERTER.toAvroValue("day", text("0044-03-15 BC"));
        assertThat(bc).isEqualTo((int) LocalDate.of(-43, 3, 15).toEpochDay());
        assertThat(CONVERTER.fromAvroValue("day", bc)).isEqualTo(text("0044-03-15 BC"));
        Object bcTs = CONVERTER.toAvroValue("created", text("0044-03-15 10:00:00+00 BC"));
        assertThat(CONVERTER.fromAvroValue("created", bcTs)).isEqualTo(text("0044-03-15 10:00:00.000000+00 BC"));
        assertThat(CONVERTER.fromAvroValue("created", -1L)).isEqualTo(text("1969-12-31T23:59:59.999999Z"));
        assertThat(CONVERTER.fromAvroValue("at_time", 86_400_000_000L)).isEqualTo(text("24:00:00"));
        assertThat(CONVERTER.fromAvroValue("day", 2_932_897)).isEqualTo(text("10000-01-01"));
    }

    @Test
    void nothingIsRoundedOrGuessed() {
        assertThatThrownBy(() -> CONVERTER.toAvroValue("price", text("1.234")))
                .isInstanceOfSatisfying(AvroConversionException.class, e -> assertThat(e.column()).isEqualTo("price"))
                .hasMessage("table orders, column price (numeric(12,2)): 1.234 has more fraction digits than numeric(12,2) keeps (scale 2); it would be rounded");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("price", json("{\"p\": 12345678901.5}").get("p")))
                .hasMessageContaining("12345678901.5 has more digits than numeric(12,2) holds (precision 12, scale 2)");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("price", text("NaN")))
                .hasMessageContaining("NaN and infinity");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("created", text("2024-03-01T12:34:56.0000001Z")))
                .hasMessageContaining("finer than a microsecond");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("created", text("2024-03-01T12:34:56")))
                .hasMessageContaining("has no time zone offset");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("n", text("2147483648")))
                .hasMessageContaining("out of range for an Avro int");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("n", text("1.5")))
                .hasMessageContaining("not an integer");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("day", text("2024-02-30")))
                .hasMessageContaining("not a valid date");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("raw", text("0102")))
                .hasMessageContaining("hex form");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("uid", text("nope")))
                .hasMessageContaining("is not a uuid");
        assertThatThrownBy(() -> CONVERTER.toAvroValue("tags", text("{a,\"b}")))
                .hasMessageContaining("unterminated");
        ObjectNode row = fullRow();
        row.putNull("price");
        assertThatThrownBy(() -> CONVERTER.toAvro(new V2Change(Op.UPDATE, "orders", json("{\"id\": 42}"), row, SOURCE)))
                .isInstanceOfSatisfying(AvroConversionException.class, e -> assertThat(e.column()).isEqualTo("price"))
                .hasMessage("table orders: column price is NOT NULL but the row image has null");
        ObjectNode unknown = fullRow();
        unknown.put("added_later", 1);
        assertThatThrownBy(() -> CONVERTER.toAvro(new V2Change(Op.UPDATE, "orders", json("{\"id\": 42}"), unknown, SOURCE)))
                .hasMessageContaining("column added_later is not in the Avro schema").hasMessageContaining("derive the schema again");
        assertThatThrownBy(() -> CONVERTER.toAvro(new V2Change(Op.DELETE, "other", json("{\"id\": 42}"), null, SOURCE)))
                .hasMessageContaining("a change of table other cannot be written with the Avro schema of table orders");
    }

    @Test
    void aMissingNotNullColumnTakesItsDefault() {
        ObjectNode row = fullRow();
        row.remove("title");

        GenericRecord after = (GenericRecord) CONVERTER.toAvro(new V2Change(Op.CREATE, "orders", json("{\"id\": 42}"), row, SOURCE)).get("after");

        assertThat(after.get("title")).isEqualTo("untitled");
    }

    @Test
    void roundTripThroughTheWireFormat() {
        try (RegistryStandIn registry = RegistryStandIn.start()) {
            SchemaRegistryClient client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
            ConfluentAvroSerializer values = new ConfluentAvroSerializer(client, false);
            ConfluentAvroSerializer keys = new ConfluentAvroSerializer(client, true);
            ConfluentAvroDeserializer valueReader = new ConfluentAvroDeserializer(client, false, null);
            ConfluentAvroDeserializer keyReader = new ConfluentAvroDeserializer(client, true, null);
            String topic = "app.v2.orders";

            for (V2Change change : List.of(
                    new V2Change(Op.CREATE, "orders", json("{\"id\": 42}"), fullRow(), SOURCE),
                    new V2Change(Op.READ, "orders", json("{\"id\": 43}"), json("{\"id\": 43, \"price\": \"0.00\", \"title\": \"t\"}"),
                            new SourcePosition("public.orders", 5L, null, null, 0L, true)),
                    new V2Change(Op.DELETE, "orders", json("{\"id\": 42}"), null, SOURCE))) {
                byte[] key = keys.serialize(topic, CONVERTER.keyToAvro(change.key()));
                byte[] value = values.serialize(topic, CONVERTER.toAvro(change));

                V2Change back = CONVERTER.fromAvro(valueReader.deserialize(topic, value));

                assertThat(CONVERTER.keyFromAvro(keyReader.deserialize(topic, key)).toString()).isEqualTo(change.key().toString());
                assertThat(back.op()).isEqualTo(change.op());
                assertThat(back.table()).isEqualTo("orders");
                assertThat(back.source()).isEqualTo(change.source());
                assertThat(back.key().toString()).isEqualTo(change.key().toString());
                if (change.after() == null) {
                    assertThat(back.after()).isNull();
                } else {
                    // Missing nullable columns come back as null, in table order; decimals in the column's scale.
                    ObjectNode expected = Json.MAPPER.createObjectNode();
                    for (V2Column column : COLUMNS) {
                        expected.set(column.name(), change.after().has(column.name()) ? change.after().get(column.name())
                                : Json.MAPPER.nullNode());
                    }
                    if (expected.get("price").isTextual()) {
                        expected.put("price", new BigDecimal(expected.get("price").asText()));
                    }
                    assertThat(back.after().toString()).isEqualTo(expected.toString());
                }
            }
            assertThat(registry.versions("app.v2.orders-key")).containsExactly(1);
            assertThat(registry.versions("app.v2.orders-value")).containsExactly(2);
        }
    }

    @Test
    void readsLogicalTypeObjectsToo() {
        assertThat(CONVERTER.fromAvroValue("price", new BigDecimal("3.1"))).isEqualTo(Json.MAPPER.getNodeFactory().numberNode(new BigDecimal("3.10")));
        assertThat(CONVERTER.fromAvroValue("created", Instant.parse("2024-03-01T12:34:56.000001Z"))).isEqualTo(text("2024-03-01T12:34:56.000001Z"));
        assertThat(CONVERTER.fromAvroValue("day", LocalDate.of(2024, 3, 1))).isEqualTo(text("2024-03-01"));
        assertThat(CONVERTER.fromAvroValue("uid", java.util.UUID.fromString("0e0b6f5c-7a2b-4a51-9d3e-4b1a1b2c3d4e")))
                .isEqualTo(text("0e0b6f5c-7a2b-4a51-9d3e-4b1a1b2c3d4e"));
        assertThat(CONVERTER.fromAvroValue("raw", new org.apache.avro.util.Utf8("x").getBytes() /* byte[] */)).isEqualTo(text("\\x78"));
    }

    @Test
    void avroNamesFromAnyIdentifier() {
        V2TableSchema odd = V2TableSchema.of("My.Company", "Order Lines", List.of(
                V2Column.of("1st", "integer", Kind.INT, false),
                V2Column.of("naïve", "text", Kind.STRING, true)), List.of("1st"));

        assertThat(odd.valueSchema().getFullName()).isEqualTo("my.company.order_lines.Envelope");
        assertThat(odd.rowSchema().getFields()).extracting(Schema.Field::name).containsExactly("_1st", "na_ve");
        assertThatThrownBy(() -> V2TableSchema.of(V2TableSchema.DEFAULT_NAMESPACE, "t", List.of(
                V2Column.of("a-b", "integer", Kind.INT, false), V2Column.of("a_b", "integer", Kind.INT, false)), List.of("a_b")))
                .hasMessage("columns \"a-b\" and \"a_b\" of table t both become the Avro field a_b; rename one of them");
    }

    @Test
    void checkFindsTheColumnsThatWouldBecomeOneField() {
        assertThat(V2TableSchema.fieldClash("Order Lines", List.of("id", "a b", "select", "a\"b")))
                .contains("columns \"a b\" and \"a\"b\" of table Order Lines both become the Avro field a_b; rename one of them");
        assertThat(V2TableSchema.fieldClash("t", List.of("id", "Größe", "select", "with.dot, and comma"))).isEmpty();
    }

    private static JsonNode text(String value) {
        return TextNode.valueOf(value);
    }
}
