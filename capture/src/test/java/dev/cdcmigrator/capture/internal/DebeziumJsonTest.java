package dev.cdcmigrator.capture.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
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
                assertArrayEquals(converter.fromConnectData("t", ENVELOPE, record), values.write("t", ENVELOPE, record),
                        () -> new String(values.write("t", ENVELOPE, record), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void keysAndSchemalessValuesToo() {
        DebeziumJson keys = new DebeziumJson(CONFIG, true);
        JsonConverter converter = converter(true);
        for (long id : new long[] {1, Long.MAX_VALUE, -5}) {
            Struct key = new Struct(KEY).put("id", id);
            assertArrayEquals(converter.fromConnectData("t", KEY, key), keys.write("t", KEY, key));
        }
        assertArrayEquals(converter.fromConnectData("t", null, "plain"), keys.write("t", null, "plain"));
        assertEquals(null, keys.write("t", null, null));
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
            assertArrayEquals(converter.fromConnectData("t", ENVELOPE, before), values.write("t", ENVELOPE, before));
            assertArrayEquals(converter.fromConnectData("t", narrower, after), values.write("t", narrower, after));
        }
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
