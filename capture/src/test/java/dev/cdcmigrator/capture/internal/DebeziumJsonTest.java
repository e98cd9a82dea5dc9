package dev.cdcmigrator.capture.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cdcmigrator.common.event.SchemaReferences;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.json.JsonConverter;
import org.junit.jupiter.api.Test;

class DebeziumJsonTest {

    private static final Map<String, Object> CONFIG = Map.of("schemas.enable", "true");

    private static final Schema ROW = SchemaBuilder.struct().name("v1.public.tasks.Value").optional()
            .field("id", Schema.INT64_SCHEMA)
            .field("status", Schema.OPTIONAL_STRING_SCHEMA)
            .field("params", SchemaBuilder.string().name("io.debezium.data.Json").optional().build())
            .field("payload", Schema.OPTIONAL_BYTES_SCHEMA)
            .field("price", Decimal.builder(2).optional().build())
            .field("tags", SchemaBuilder.array(Schema.STRING_SCHEMA).optional().build())
            .build();
    private static final Schema ENVELOPE = SchemaBuilder.struct().name("v1.public.tasks.Envelope")
            .field("before", ROW)
            .field("after", ROW)
            .field("op", Schema.STRING_SCHEMA)
            .field("ts_ms", Schema.OPTIONAL_INT64_SCHEMA)
            .build();
    private static final Schema KEY = SchemaBuilder.struct().name("v1.public.tasks.Key").field("id", Schema.INT64_SCHEMA).build();

    @Test
    void writesExactlyWhatDebeziumsJsonConverterWritesForEveryRecordOfASchema() {
        DebeziumJson values = new DebeziumJson(CONFIG, false);
        JsonConverter converter = converter(false);
        Struct[] records = {
            envelope("c", null, row(1, "new", "{\"a\": [1, 2]}", new byte[] {1, 2, 3}, "12.30")),
            envelope("u", row(1, "new", null, null, null), row(1, "done \"quoted\" \u00e9\u4e2d", "{}", new byte[0], "-0.01")),
            envelope("d", row(1, null, null, null, null), null),
        };
        for (int round = 0; round < 2; round++) {
            for (Struct record : records) {
                assertArrayEquals(converter.fromConnectData("t", ENVELOPE, record), values.write("t", ENVELOPE, record).inline(),
                        () -> new String(values.write("t", ENVELOPE, record).inline(), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void keepsTheSchemaApartFromThePayloadAsTheConverterWritesBoth() {
        DebeziumJson values = new DebeziumJson(CONFIG, false);
        JsonConverter schemaless = new JsonConverter();
        schemaless.configure(Map.of("schemas.enable", "false"), false);
        Struct record = envelope("c", null, row(1, "new", "{}", new byte[] {1}, "1.00"));
        DebeziumJson.Written written = values.write("t", ENVELOPE, record);

        assertArrayEquals(schemaless.fromConnectData("t", ENVELOPE, record), written.bytes());
        String whole = new String(converter(false).fromConnectData("t", ENVELOPE, record), StandardCharsets.UTF_8);
        byte[] schema = whole.substring("{\"schema\":".length(), whole.indexOf(",\"payload\":")).getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(schema, written.schema().bytes());
        assertEquals(SchemaReferences.id(schema, 0, schema.length), written.schema().id());
        assertEquals(written.schema(), values.write("t", ENVELOPE, envelope("d", row(1, null, null, null, null), null)).schema());
    }

    @Test
    void keysAndSchemalessValuesToo() {
        DebeziumJson keys = new DebeziumJson(CONFIG, true);
        JsonConverter converter = converter(true);
        for (long id : new long[] {1, Long.MAX_VALUE, -5}) {
            Struct key = new Struct(KEY).put("id", id);
            assertArrayEquals(converter.fromConnectData("t", KEY, key), keys.write("t", KEY, key).inline());
        }
        assertArrayEquals(converter.fromConnectData("t", null, "plain"), keys.write("t", null, "plain").inline());
        assertEquals(null, keys.write("t", null, null).inline());
    }

    @Test
    void aNewSchemaVersionIsWrittenWithItsOwnSchema() {
        DebeziumJson values = new DebeziumJson(CONFIG, false);
        JsonConverter converter = converter(false);
        Schema narrower = SchemaBuilder.struct().name("v1.public.tasks.Envelope")
                .field("op", Schema.STRING_SCHEMA).build();
        Struct before = envelope("c", null, row(2, "new", null, null, null));
        Struct after = new Struct(narrower).put("op", "c");
        for (int round = 0; round < 2; round++) {
            assertArrayEquals(converter.fromConnectData("t", ENVELOPE, before), values.write("t", ENVELOPE, before).inline());
            assertArrayEquals(converter.fromConnectData("t", narrower, after), values.write("t", narrower, after).inline());
        }
    }

    private static final Schema PART = SchemaBuilder.struct().name("part").optional()
            .field("n", Schema.INT32_SCHEMA).field("label", Schema.OPTIONAL_STRING_SCHEMA).build();
    /** Every type a Debezium PostgreSQL change has with this project's settings, and a column with a default. */
    private static final Schema PRIMITIVES = SchemaBuilder.struct().name("v1.public.all.Value").optional()
            .field("i8", Schema.OPTIONAL_INT8_SCHEMA)
            .field("i16", Schema.OPTIONAL_INT16_SCHEMA)
            .field("i32", Schema.OPTIONAL_INT32_SCHEMA)
            .field("i64", SchemaBuilder.int64().name("io.debezium.time.MicroTimestamp").optional().build())
            .field("f32", Schema.OPTIONAL_FLOAT32_SCHEMA)
            .field("f64", Schema.OPTIONAL_FLOAT64_SCHEMA)
            .field("flag", Schema.OPTIONAL_BOOLEAN_SCHEMA)
            .field("text", Schema.OPTIONAL_STRING_SCHEMA)
            .field("bytes", Schema.OPTIONAL_BYTES_SCHEMA)
            .field("parts", SchemaBuilder.array(PART).optional().build())
            .field("part", PART)
            .field("qty", SchemaBuilder.int32().optional().defaultValue(10).build())
            .build();
    private static final Schema ALL = SchemaBuilder.struct().name("v1.public.all.Envelope")
            .field("before", PRIMITIVES).field("after", PRIMITIVES).field("op", Schema.STRING_SCHEMA).build();

    @Test
    void everyPrimitiveTypeArraysAndNestedStructsAreWrittenExactlyAsTheConverterWritesThemWithEitherNullSetting() {
        ByteBuffer sliced = ByteBuffer.wrap(new byte[] {9, 8, 7, 6});
        sliced.position(2);
        Struct full = new Struct(PRIMITIVES).put("i8", (byte) -128).put("i16", (short) 32767)
                .put("i32", Integer.MIN_VALUE).put("i64", Long.MAX_VALUE).put("f32", 1.1f).put("f64", -0.000123456789e-300).put("flag", true)
                .put("text", "quote \" back \\ tab \t nl \n ctl \u0001 \u00e9\u4e2d\ud83d\ude00 </script>")
                .put("bytes", sliced)
                .put("parts", List.of(new Struct(PART).put("n", 1).put("label", "one"), new Struct(PART).put("n", 2)))
                .put("part", new Struct(PART).put("n", 3).put("label", ""))
                .put("qty", null);
        Struct odd = new Struct(PRIMITIVES).put("f32", Float.NaN).put("f64", Double.NEGATIVE_INFINITY)
                .put("bytes", new byte[0]).put("parts", List.of()).put("qty", 0);
        Struct[] records = {
            new Struct(ALL).put("before", null).put("after", full).put("op", "c"),
            new Struct(ALL).put("before", full).put("after", odd).put("op", "u"),
            new Struct(ALL).put("before", odd).put("after", null).put("op", "d"),
        };
        Map<String, Object> nullsAsNull = Map.of("schemas.enable", "true", "replace.null.with.default", "false");
        for (Map<String, Object> config : List.of(CONFIG, nullsAsNull)) {
            DebeziumJson values = new DebeziumJson(config, false);
            JsonConverter converter = new JsonConverter();
            converter.configure(config, false);
            for (int round = 0; round < 2; round++) {
                for (Struct record : records) {
                    assertArrayEquals(converter.fromConnectData("t", ALL, record), values.write("t", ALL, record).inline(),
                            () -> config + ": " + new String(values.write("t", ALL, record).inline(), StandardCharsets.UTF_8));
                }
            }
            String written = new String(values.write("t", ALL, records[0]).inline(), StandardCharsets.UTF_8);
            assertTrue(written.contains(config == nullsAsNull ? "\"qty\":null" : "\"qty\":10"), written);
        }
    }

    @Test
    void aValueTheConverterRefusesFailsWithItsErrorAndTheNextIsWrittenWhole() {
        DebeziumJson values = new DebeziumJson(CONFIG, false);
        JsonConverter converter = converter(false);
        Struct fine = new Struct(ALL).put("after", new Struct(PRIMITIVES).put("i32", 7)).put("op", "c");
        assertArrayEquals(converter.fromConnectData("t", ALL, fine), values.write("t", ALL, fine).inline());
        // The required op left null (Struct.put checks the values put, not that every required one was).
        Struct missingRequired = new Struct(ALL).put("after", new Struct(PRIMITIVES).put("i32", 1));
        DataException expected = assertThrows(DataException.class,
                () -> converter.fromConnectData("t", ALL, missingRequired));
        DataException actual = assertThrows(DataException.class, () -> values.write("t", ALL, missingRequired).inline());
        assertEquals(expected.getMessage(), actual.getMessage());
        assertArrayEquals(converter.fromConnectData("t", ALL, fine), values.write("t", ALL, fine).inline());
    }

    private static JsonConverter converter(boolean isKey) {
        JsonConverter converter = new JsonConverter();
        converter.configure(CONFIG, isKey);
        return converter;
    }

    private static Struct row(long id, String status, String params, byte[] payload, String price) {
        return new Struct(ROW).put("id", id).put("status", status).put("params", params)
                .put("payload", payload == null ? null : ByteBuffer.wrap(payload))
                .put("price", price == null ? null : new BigDecimal(price))
                .put("tags", java.util.List.of("a", "b"));
    }

    private static Struct envelope(String op, Struct before, Struct after) {
        return new Struct(ENVELOPE).put("before", before).put("after", after).put("op", op).put("ts_ms", 1_700_000_000_000L);
    }
}
