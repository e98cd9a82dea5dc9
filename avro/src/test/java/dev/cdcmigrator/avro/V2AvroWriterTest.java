package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.avro.V2Column.Kind;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.testkit.RegistryStandIn;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.CachedSchemaRegistryClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Writing v2 changes with schemas of their own columns, reading them back with the schema each was written with. */
class V2AvroWriterTest {

    private static final String TOPIC = "app.v2.orders";
    private static final V2Column NOTE = V2Column.of("note", "text", Kind.STRING, true);

    private RegistryStandIn registry;
    private SchemaRegistryClient client;
    /** The v2 table as the catalog shows it now; the tests change it as ALTER TABLE would. */
    private final AtomicReference<List<V2Column>> orders = new AtomicReference<>(withNote(V2AvroConverterTest.COLUMNS));
    private final AtomicInteger catalogReads = new AtomicInteger();

    @BeforeEach
    void startRegistry() {
        registry = RegistryStandIn.start();
        client = new SchemaRegistryClient(RegistryConfig.of(registry.url()));
    }

    @AfterEach
    void stopRegistry() {
        registry.close();
    }

    private static List<V2Column> withNote(List<V2Column> columns) {
        List<V2Column> all = new ArrayList<>(columns);
        all.add(NOTE);
        return all;
    }

    private V2Catalog catalog() {
        return new V2Catalog(table -> {
            catalogReads.incrementAndGet();
            if (!table.equals("orders")) {
                throw new IllegalArgumentException("table public." + table + " does not exist");
            }
            return orders.get();
        }, Duration.ZERO);
    }

    private V2AvroWriter writer() {
        return new V2AvroWriter(client, catalog(), Map.of("orders", V2AvroConverterTest.fullRow().properties().stream()
                .map(Map.Entry::getKey).toList()));
    }

    private static V2Change upsert(ObjectNode row) {
        return new V2Change(Op.UPDATE, "orders", V2AvroConverterTest.json("{\"id\": " + row.get("id") + "}"), row,
                V2AvroConverterTest.SOURCE);
    }

    private Schema registered(byte[] framed) {
        return registry.schema(WireFormat.schemaId(framed));
    }

    @Test
    void aChangeIsWrittenWithTheColumnsItCarriesAndReadBackAsTheSinkAppliesIt() {
        V2Change change = upsert(V2AvroConverterTest.fullRow());
        V2AvroWriter writer = writer();

        byte[] value = writer.value(TOPIC, change);
        byte[] key = writer.key(TOPIC, "orders", change.key());

        Schema schema = registered(value);
        assertThat(schema.getFullName()).isEqualTo("dev.cdcmigrator.v2.orders.Envelope");
        assertThat(schema).isEqualTo(V2AvroConverterTest.ORDERS.valueSchema());
        assertThat(schema.toString()).as("a v2 column the migration does not write").doesNotContain("\"note\"");
        GenericRecord keyRecord = new ConfluentAvroDeserializer(client, true, null).deserialize(TOPIC, key);
        assertThat(keyRecord.getSchema()).isEqualTo(V2AvroConverterTest.ORDERS.keySchema());
        assertThat(keyRecord.get("id")).isEqualTo(42L);
        assertThat(registry.versions(TOPIC + "-value")).hasSize(1);
        assertThat(registry.versions(TOPIC + "-key")).hasSize(1);

        V2Change read = new V2AvroReader(client).value(TOPIC, value);

        V2Change expected = V2AvroConverterTest.CONVERTER.fromAvro(V2AvroConverterTest.CONVERTER.toAvro(change));
        assertThat(read).isEqualTo(expected);
        assertThat(read.after().properties()).extracting(Map.Entry::getKey)
                .containsExactlyElementsOf(change.after().properties().stream().map(Map.Entry::getKey).toList());
        assertThat(V2Change.inputText(read.after().get("price"))).isEqualTo("12.50");
        assertThat(V2Change.inputText(read.after().get("created"))).isEqualTo("2024-03-01T12:34:56.000001Z");
        assertThat(catalogReads).hasValue(1);
    }

    @Test
    void anUpdateLeavingColumnsUnchangedIsRefusedNamingTableKeyAndColumnsAndRegistersNothing() {
        ObjectNode row = V2AvroConverterTest.fullRow();
        row.remove("note");
        V2Change partial = new V2Change(Op.UPDATE, "orders", V2AvroConverterTest.json("{\"id\": " + row.get("id") + "}"),
                row, V2AvroConverterTest.SOURCE, null, List.of("note"));

        assertThatThrownBy(() -> writer().value(TOPIC, partial))
                .isInstanceOfSatisfying(AvroConversionException.class, e -> assertThat(e.column()).isEqualTo("note"))
                .hasMessageStartingWith("v2 table orders key {\"id\":" + row.get("id") + "}: columns [note] are to keep the"
                        + " values v2 holds");
        assertThat(registry.requests()).isEmpty();
    }

    @Test
    void aDeleteSharesTheSchemaOfTheUpsertsAndComesBackWithoutARowImage() {
        V2AvroWriter writer = writer();
        writer.value(TOPIC, upsert(V2AvroConverterTest.fullRow()));

        byte[] delete = writer.value(TOPIC, new V2Change(Op.DELETE, "orders", V2AvroConverterTest.json("{\"id\": 42}"), null,
                V2AvroConverterTest.SOURCE));

        assertThat(registry.versions(TOPIC + "-value")).hasSize(1);
        V2Change read = new V2AvroReader(client).value(TOPIC, delete);
        assertThat(read.op()).isEqualTo(Op.DELETE);
        assertThat(read.after()).isNull();
        assertThat(read.key()).hasToString("{\"id\":42}");
    }

    @Test
    void rowsOfDifferentColumnsGetSchemaVersionsOfTheirOwnAndEachReadsBackWithItsColumns() {
        V2AvroWriter writer = writer();
        byte[] full = writer.value(TOPIC, upsert(V2AvroConverterTest.fullRow()));
        byte[] narrow = writer.value(TOPIC, upsert(V2AvroConverterTest.json("{\"id\": 7, \"price\": 1, \"title\": \"t\", \"note\": \"n\"}")));

        assertThat(registry.versions(TOPIC + "-value")).hasSize(2);
        V2AvroReader reader = new V2AvroReader(client);
        assertThat(reader.value(TOPIC, narrow).after()).hasToString("{\"id\":7,\"price\":1.00,\"title\":\"t\",\"note\":\"n\"}");
        assertThat(reader.value(TOPIC, full).after().has("note")).isFalse();
    }

    @Test
    void aColumnAddedToTheV2TableDuringTheMigrationRegistersACompatibleVersionOnTheNextRecord() {
        orders.set(V2AvroConverterTest.COLUMNS);
        V2AvroWriter writer = writer();
        writer.value(TOPIC, upsert(V2AvroConverterTest.fullRow()));
        ObjectNode withNote = V2AvroConverterTest.fullRow().put("note", "added");

        assertThatThrownBy(() -> writer.value(TOPIC, upsert(withNote)))
                .isInstanceOf(AvroConversionException.class)
                .hasMessageStartingWith("v2 table orders has no column note (its columns: id, flag, ")
                .hasMessageEndingWith("); add it to the v2 table or take it out of the spec")
                .extracting(e -> ((AvroConversionException) e).column()).isEqualTo("note");

        orders.set(withNote(V2AvroConverterTest.COLUMNS)); // ALTER TABLE orders ADD COLUMN note text
        byte[] value = writer.value(TOPIC, upsert(withNote));

        assertThat(registry.versions(TOPIC + "-value")).hasSize(2);
        assertThat(registered(value).toString()).contains("\"note\"");
        assertThat(new V2AvroReader(client).value(TOPIC, value).after().get("note").asText()).isEqualTo("added");
    }

    @Test
    void anIncompatibleChangeOfAV2ColumnIsRefusedNamingTheSubject() {
        writer().value(TOPIC, upsert(V2AvroConverterTest.fullRow()));
        // ALTER TABLE orders ALTER COLUMN title TYPE integer, then the transform restarts.
        List<V2Column> retyped = new ArrayList<>(orders.get());
        retyped.replaceAll(c -> c.name().equals("title") ? V2Column.of("title", "integer", Kind.INT, false) : c);
        orders.set(retyped);
        ObjectNode row = V2AvroConverterTest.fullRow().put("title", 5);

        assertThatThrownBy(() -> writer().value(TOPIC, upsert(row)))
                .isInstanceOf(IncompatibleSchemaException.class)
                .hasMessageContaining("subject '" + TOPIC + "-value': the schema registry refused the schema as incompatible")
                .extracting(e -> ((IncompatibleSchemaException) e).subject()).isEqualTo(TOPIC + "-value");
    }

    @Test
    void confluentsCodeReadsWhatTheWriterWrites() throws Exception {
        byte[] value = writer().value(TOPIC, upsert(V2AvroConverterTest.fullRow()));

        JsonNode read = ConfluentContractTest.confluentDeserialize(new CachedSchemaRegistryClient(registry.url(), 10), TOPIC, value);

        JsonNode after = read.at("/after/dev.cdcmigrator.v2.orders.Value");
        assertThat(read.path("op").asText()).isEqualTo("u");
        assertThat(after.path("title").asText()).isEqualTo("Ünïcode ✓");
        assertThat(after.path("id").asLong()).isEqualTo(42L);
    }
}
