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
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.JsonProperties;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Schemas derived from a real PostgreSQL catalog, values checked by PostgreSQL itself, and schema evolution. */
class V2AvroSchemasIT {

    private static final String TABLE = """
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE DOMAIN short_code AS varchar(8) NOT NULL;
            CREATE TABLE orders (
              id bigint PRIMARY KEY,
              flag boolean,
              small smallint,
              n integer NOT NULL DEFAULT 0,
              r real,
              d double precision,
              price numeric(12,2) NOT NULL,
              any_num numeric,
              neg_scale numeric(5,-2),
              title text NOT NULL DEFAULT 'untitled',
              code varchar(10),
              fixed char(3),
              status mood,
              uid uuid,
              doc jsonb,
              raw_json json,
              raw bytea,
              day date,
              at_time time,
              at_time3 time(3),
              created timestamptz,
              local_ts timestamp,
              tags text[],
              scores numeric(5,1)[],
              matrix integer[][],
              span interval,
              tz_time timetz,
              addr inet,
              short short_code DEFAULT 'x',
              big_id oid,
              "Order-ID" integer,
              gen integer GENERATED ALWAYS AS (n * 2) STORED,
              ident bigint GENERATED ALWAYS AS IDENTITY
            );
            INSERT INTO orders (id, flag, small, n, r, d, price, any_num, neg_scale, title, code, fixed, status, uid, doc,
                                raw_json, raw, day, at_time, at_time3, created, local_ts, tags, scores, matrix, span,
                                tz_time, addr, short, big_id, "Order-ID")
            VALUES (1, true, -32768, 1000000000, 1.5, 0.1, 1234567890.12, 123456789.123456789012, 12300, 'Ünïcode ✓ ''q''',
                    'abc', 'ab', 'happy', '0E0B6F5C-7A2B-4A51-9D3E-4B1A1B2C3D4E', '{"b": 1, "a": [true, null]}',
                    '{"b": 1, "b": 2,  "a" : {}}', '\\x00ff10', '2024-02-29', '12:34:56.000001', '23:59:59.999',
                    '2024-03-01 12:34:56.000001+00', '2024-03-01 12:34:56.000001', '{a,NULL,"b c","q\\"t"}',
                    '{1.5,NULL,-0.1}', '{{1,2},{3,NULL}}', '1 day 02:00:00', '12:00:00+02', '192.168.0.1/24', 'xyz',
                    4000000000, 7),
                   (2, false, 0, -1, 'NaN', '-Infinity', -0.01, 'NaN', -200, '', NULL, NULL, 'sad', NULL, 'null',
                    '[]', '\\x', '0044-03-15 BC', '24:00:00', '00:00:00', 'infinity', '-infinity', '{}', '{}', '{}',
                    '-1 year', NULL, NULL, 'x', 0, NULL),
                   (3, NULL, NULL, 0, '-0', 1e300, 0, NULL, NULL, 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    '1970-01-01', NULL, NULL, '0044-03-15 10:00:00+00 BC', '1999-12-31 23:59:59.999999', NULL, NULL,
                    NULL, NULL, NULL, NULL, 'x', NULL, NULL);
            """;

    private static PostgresServer postgres;
    private static String db;

    @BeforeAll
    static void createTable() {
        postgres = TestPostgres.shared();
        db = postgres.createDatabase("avro_schemas");
        postgres.execute(db, TABLE);
    }

    private static V2TableSchema derive(String table) throws Exception {
        try (Connection c = postgres.connect(db)) {
            return new V2AvroSchemas().derive(c, "public", table);
        }
    }

    @Test
    void everyTypeMapsAsDocumented() throws Exception {
        V2TableSchema orders = derive("orders");

        assertThat(orders.key()).containsExactly("id");
        Map<String, String> kinds = new LinkedHashMap<>();
        orders.columns().forEach(c -> kinds.put(c.name(), c.kind() + (c.isArray() ? "[]".repeat(c.arrayDimensions()) : "")
                + (c.kind() == Kind.DECIMAL ? "(" + c.precision() + "," + c.scale() + ")" : "") + (c.nullable() ? "" : " NOT NULL")
                + (c.defaultText() == null ? "" : " DEFAULT " + c.defaultText())));
        assertThat(kinds).containsExactly(
                Map.entry("id", "LONG NOT NULL"), Map.entry("flag", "BOOLEAN"), Map.entry("small", "INT"),
                Map.entry("n", "INT NOT NULL DEFAULT 0"), Map.entry("r", "FLOAT"), Map.entry("d", "DOUBLE"),
                Map.entry("price", "DECIMAL(12,2) NOT NULL"), Map.entry("any_num", "TEXT"), Map.entry("neg_scale", "TEXT"),
                Map.entry("title", "STRING NOT NULL DEFAULT untitled"), Map.entry("code", "STRING"), Map.entry("fixed", "STRING"),
                Map.entry("status", "ENUM"), Map.entry("uid", "UUID"), Map.entry("doc", "JSON"), Map.entry("raw_json", "JSON"),
                Map.entry("raw", "BYTES"), Map.entry("day", "DATE"), Map.entry("at_time", "TIME_MICROS"),
                Map.entry("at_time3", "TIME_MICROS"), Map.entry("created", "TIMESTAMP_MICROS"),
                Map.entry("local_ts", "LOCAL_TIMESTAMP_MICROS"), Map.entry("tags", "STRING[]"),
                Map.entry("scores", "DECIMAL[](5,1)"), Map.entry("matrix", "INT[][]"), Map.entry("span", "TEXT"),
                Map.entry("tz_time", "TEXT"), Map.entry("addr", "TEXT"), Map.entry("short", "STRING NOT NULL DEFAULT x"),
                Map.entry("big_id", "LONG"), Map.entry("Order-ID", "INT"), Map.entry("gen", "INT"), Map.entry("ident", "LONG NOT NULL"));

        Schema row = orders.rowSchema();
        assertThat(row.getField("price").schema().getLogicalType()).isEqualTo(LogicalTypes.decimal(12, 2));
        assertThat(row.getField("price").getProp("pg.type")).isEqualTo("numeric(12,2)");
        assertThat(row.getField("n").schema().getType()).isEqualTo(Schema.Type.INT);
        assertThat(row.getField("n").defaultVal()).isEqualTo(0);
        assertThat(row.getField("title").defaultVal()).isEqualTo("untitled");
        assertThat(row.getField("ident").hasDefaultValue()).isFalse();
        assertThat(row.getField("flag").schema().toString()).isEqualTo("[\"null\",\"boolean\"]");
        assertThat(row.getField("flag").defaultVal()).isEqualTo(JsonProperties.NULL_VALUE);
        assertThat(row.getField("created").schema().getTypes().get(1).getLogicalType()).isEqualTo(LogicalTypes.timestampMicros());
        assertThat(row.getField("local_ts").schema().getTypes().get(1).getLogicalType()).isEqualTo(LogicalTypes.localTimestampMicros());
        assertThat(row.getField("day").schema().getTypes().get(1).getLogicalType()).isEqualTo(LogicalTypes.date());
        assertThat(row.getField("at_time3").schema().getTypes().get(1).getLogicalType()).isEqualTo(LogicalTypes.timeMicros());
        assertThat(row.getField("uid").schema().getTypes().get(1).getLogicalType()).isEqualTo(LogicalTypes.uuid());
        assertThat(row.getField("status").schema().getTypes().get(1).getType()).isEqualTo(Schema.Type.STRING);
        assertThat(row.getField("status").getProp("pg.type")).isEqualTo("mood");
        assertThat(row.getField("scores").schema().getTypes().get(1).toString()).isEqualTo(
                "{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":5,\"scale\":1}]}");
        assertThat(row.getField("scores").getProp("pg.type")).isEqualTo("numeric(5,1)[]");
        assertThat(row.getField("short").schema().getType()).isEqualTo(Schema.Type.STRING);
        assertThat(row.getField("Order_ID").getProp("pg.column")).isEqualTo("Order-ID");
        assertThat(orders.valueSchema().getFullName()).isEqualTo("dev.cdcmigrator.v2.orders.Envelope");
    }

    @Test
    void postgresqlGetsBackEveryValueItGave() throws Exception {
        V2TableSchema orders = derive("orders");
        V2AvroConverter converter = new V2AvroConverter(orders);
        try (Connection c = postgres.connect(db); Statement st = c.createStatement()) {
            // Output in a zone with a half-hour offset, so timestamptz text carries a real offset.
            st.execute("SET TIME ZONE 'Asia/Kolkata'");
            try (ResultSet rs = st.executeQuery("SELECT * FROM orders ORDER BY id")) {
                ResultSetMetaData meta = rs.getMetaData();
                while (rs.next()) {
                    // The row in PostgreSQL's text output, as the v2 JSON form (text input form) would carry it.
                    ObjectNode after = Json.MAPPER.createObjectNode();
                    for (int i = 1; i <= meta.getColumnCount(); i++) {
                        String text = rs.getString(i);
                        after.set(meta.getColumnName(i), text == null ? Json.MAPPER.nullNode() : TextNode.valueOf(text));
                    }
                    long id = rs.getLong("id");
                    V2Change change = new V2Change(Op.READ, "orders", Json.MAPPER.createObjectNode().put("id", id), after,
                            new SourcePosition("public.orders", 1, null, null, 0, true));

                    V2Change back = converter.fromAvro(converter.toAvro(change));

                    for (V2Column column : orders.columns()) {
                        assertSameValue(c, column, id, back.after().get(column.name()));
                    }
                }
            }
        }
    }

    /** PostgreSQL compares the value that went through Avro with the stored one, with the column type's own equality. */
    private static void assertSameValue(Connection c, V2Column column, long id, JsonNode value) throws Exception {
        String quoted = "\"" + column.name().replace("\"", "\"\"") + "\"";
        String sql;
        String bound;
        if (value.isNull()) {
            sql = "SELECT " + quoted + " IS NULL FROM orders WHERE id = ?";
            bound = null;
        } else if (column.isArray()) {
            sql = "SELECT array_to_json(" + quoted + ")::jsonb = ?::jsonb FROM orders WHERE id = ?";
            bound = value.toString();
        } else if (column.pgType().equals("json")) {
            sql = "SELECT " + quoted + "::text = ? FROM orders WHERE id = ?";
            bound = value.asText();
        } else {
            sql = "SELECT " + quoted + " IS NOT DISTINCT FROM (?::text)::" + column.pgType() + " FROM orders WHERE id = ?";
            // As the sink binds v2 values.
            bound = value.isBigDecimal() ? value.decimalValue().toPlainString() : value.asText();
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            if (bound != null) {
                ps.setString(i++, bound);
            }
            ps.setLong(i, id);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getBoolean(1)).as("row %d, column %s (%s): %s", id, column.name(), column.pgType(), value).isTrue();
            }
        }
    }

    @Test
    void anAddedColumnIsANewCompatibleVersionAndATypeChangeIsRefused() throws Exception {
        postgres.execute(db, "CREATE TABLE items (id integer PRIMARY KEY, qty integer NOT NULL, label text)");
        String topic = "app.v2.items";
        String subject = "app.v2.items-value";
        try (RegistryStandIn registry = RegistryStandIn.start()) {
            SchemaRegistryClient client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
            ConfluentAvroSerializer serializer = new ConfluentAvroSerializer(client, false);
            ObjectNode key = Json.MAPPER.createObjectNode().put("id", 1);
            SourcePosition source = new SourcePosition("public.items", 10, 9L, 5L, 1000, false);

            V2TableSchema v1 = derive("items");
            byte[] written1 = serializer.serialize(topic, new V2AvroConverter(v1).toAvro(
                    new V2Change(Op.CREATE, "items", key, V2AvroConverterTest.json("{\"id\": 1, \"qty\": 3, \"label\": \"a\"}"), source)));
            assertThat(registry.versions(subject)).containsExactly(1);

            // A nullable column, then a NOT NULL column with a constant default: each a new compatible version.
            postgres.execute(db, "ALTER TABLE items ADD COLUMN note text");
            V2TableSchema v2 = derive("items");
            serializer.serialize(topic, new V2AvroConverter(v2).toAvro(new V2Change(Op.UPDATE, "items", key,
                    V2AvroConverterTest.json("{\"id\": 1, \"qty\": 4, \"label\": \"a\", \"note\": \"n\"}"), source)));
            postgres.execute(db, "ALTER TABLE items ADD COLUMN priority text NOT NULL DEFAULT 'normal'");
            V2TableSchema v3 = derive("items");
            byte[] written3 = serializer.serialize(topic, new V2AvroConverter(v3).toAvro(new V2Change(Op.UPDATE, "items", key,
                    V2AvroConverterTest.json("{\"id\": 1, \"qty\": 5, \"label\": null, \"note\": null, \"priority\": \"high\"}"), source)));
            assertThat(registry.versions(subject)).containsExactly(1, 2, 3);
            assertThat(WireFormat.schemaId(written3)).isEqualTo(3);

            // A reader of the newest schema reads the oldest record: the new columns take their defaults.
            ConfluentAvroDeserializer reader = new ConfluentAvroDeserializer(client, false, v3.valueSchema());
            V2Change old = new V2AvroConverter(v3).fromAvro(reader.deserialize(topic, written1));
            assertThat(old.after().toString()).isEqualTo("{\"id\":1,\"qty\":3,\"label\":\"a\",\"note\":null,\"priority\":\"normal\"}");

            // A NOT NULL column whose default is not a constant has no Avro default: old records cannot be read.
            postgres.execute(db, "ALTER TABLE items ADD COLUMN created_by text NOT NULL DEFAULT current_user");
            V2TableSchema v4 = derive("items");
            GenericRecord withCreatedBy = new V2AvroConverter(v4).toAvro(new V2Change(Op.UPDATE, "items", key, V2AvroConverterTest.json(
                    "{\"id\": 1, \"qty\": 5, \"priority\": \"high\", \"created_by\": \"me\"}"), source));
            assertThatThrownBy(() -> serializer.serialize(topic, withCreatedBy))
                    .isInstanceOfSatisfying(IncompatibleSchemaException.class, e -> assertThat(e.subject()).isEqualTo(subject))
                    .hasMessageContaining("subject '" + subject + "'")
                    .hasMessageContaining("Value.created_by: the new field created_by has no default");
            postgres.execute(db, "ALTER TABLE items DROP COLUMN created_by");

            // A type change int -> text: the new schema cannot read the old records.
            postgres.execute(db, "ALTER TABLE items ALTER COLUMN qty TYPE text");
            V2TableSchema v5 = derive("items");
            GenericRecord textQty = new V2AvroConverter(v5).toAvro(new V2Change(Op.UPDATE, "items", key, V2AvroConverterTest.json(
                    "{\"id\": 1, \"qty\": \"five\", \"priority\": \"high\"}"), source));
            assertThatThrownBy(() -> serializer.serialize(topic, textQty))
                    .isInstanceOfSatisfying(IncompatibleSchemaException.class, e -> {
                        assertThat(e.subject()).isEqualTo(subject);
                        assertThat(e.status()).isEqualTo(409);
                    })
                    .hasMessageStartingWith("subject 'app.v2.items-value': the schema registry refused the schema as incompatible")
                    .hasMessageContaining("Value.qty: the type changed (reader type: STRING not compatible with writer type: INT)");
            assertThat(registry.versions(subject)).containsExactly(1, 2, 3);
        }
    }

    @Test
    void tablesWithoutAPrimaryKeyNeedTheSpecsKey() throws Exception {
        postgres.execute(db, "CREATE TABLE no_pk (a integer NOT NULL, b text, UNIQUE (a))");
        assertThatThrownBy(() -> derive("no_pk"))
                .hasMessage("table public.no_pk has no primary key; give its v2 key columns (the spec's key)");
        try (Connection c = postgres.connect(db)) {
            assertThat(new V2AvroSchemas("acme.events").derive(c, "public", "no_pk", List.of("a")).keySchema().toString())
                    .isEqualTo("{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"acme.events.no_pk\",\"doc\":\"The key of v2 table no_pk\","
                            + "\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"pg.type\":\"integer\"}]}");
            assertThatThrownBy(() -> new V2AvroSchemas().derive(c, "public", "missing"))
                    .hasMessageStartingWith("table public.missing does not exist");
        }
    }
}
