package dev.cdcmigrator.capture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.SchemaReferences;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.KafkaSpec;
import dev.cdcmigrator.common.spec.SourceSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.common.spec.TargetSpec;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Capture against a real PostgreSQL (pgoutput) and a real Kafka broker, read back with a plain consumer. */
class CaptureIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    /** Client ids capture gives its producer and its offset store's admin (Kafka names their threads after them). */
    private static final String PRODUCER_THREAD = "kafka-producer-network-thread | migrator-capture";
    private static final String OFFSETS_ADMIN_THREAD = "kafka-admin-client-thread | migrator-capture-offsets-admin";

    private final PostgresServer pg = TestPostgres.shared();
    private final List<Capture> captures = new ArrayList<>();
    private final List<RawReader> readers = new ArrayList<>();
    private String v1;
    private String prefix;

    @BeforeEach
    void createV1() throws SQLException {
        v1 = pg.createDatabase("capture_it");
        prefix = "capture_it_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        execute("""
                CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer DEFAULT 10);
                INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', NULL);
                CREATE TABLE order_lines (order_id bigint, line_no integer, sku text NOT NULL, PRIMARY KEY (order_id, line_no));
                INSERT INTO order_lines VALUES (1, 1, 'A'), (1, 2, 'B'), (2, 1, 'C');
                """);
    }

    @AfterEach
    void cleanUp() throws SQLException {
        readers.forEach(RawReader::close);
        captures.forEach(Capture::close);
        // The cluster is shared by the whole test JVM and has few slots: drop ours once its walsender let go of it.
        await("slot " + prefix + " released").atMost(DEADLINE).until(() -> !slotActive());
        try (Connection c = connect(); PreparedStatement st = c.prepareStatement(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ?")) {
            st.setString(1, prefix);
            st.execute();
        }
    }

    @Test
    void snapshotsExistingRowsThenStreamsCommittedChangesInOrder() throws Exception {
        Spec spec = spec();
        Capture capture = start(spec);
        RawReader items = reader(new Topics(spec).raw("items"));
        RawReader lines = reader(new Topics(spec).raw("order_lines"));

        await("snapshot").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> items.poll().size() >= 3 && lines.poll().size() >= 3);

        assertThat(items.events()).allSatisfy(e -> {
            assertThat(e.op()).isEqualTo("r");
            assertThat(e.keySchema().isObject()).as("key schema of %s", e).isTrue();
            assertThat(e.valueSchema().isObject()).as("value schema of %s", e).isTrue();
            assertThat(e.source().path("table").asText()).isEqualTo("items");
            assertThat(e.source().path("lsn").isIntegralNumber()).as("source.lsn of %s", e).isTrue();
            assertThat(e.payload().get("before").isNull()).isTrue();
        });
        assertThat(items.events()).extracting(Event::keyPayload).containsExactlyInAnyOrder(
                json("{\"id\":1}"), json("{\"id\":2}"), json("{\"id\":3}"));
        assertThat(items.events()).extracting(Event::after).containsExactlyInAnyOrder(
                json("{\"id\":1,\"name\":\"apple\",\"qty\":3}"),
                json("{\"id\":2,\"name\":\"pear\",\"qty\":5}"),
                json("{\"id\":3,\"name\":\"plum\",\"qty\":null}"));
        assertThat(items.events()).allSatisfy(e -> assertThat(e.keyPayload().get("id")).isEqualTo(e.after().get("id")));
        // The heartbeat table is snapshotted last (cutover wait relies on it): its read is the snapshot's last record.
        RawReader heartbeat = reader(new Topics(spec).heartbeat());
        await("the heartbeat's snapshot read").atMost(DEADLINE).until(() -> !heartbeat.poll().isEmpty());
        assertThat(heartbeat.events().get(0).source().path("snapshot").asText()).isEqualTo("last");

        assertThat(lines.events()).allSatisfy(e -> {
            assertThat(e.op()).isEqualTo("r");
            assertThat(e.keySchema().isObject()).isTrue();
            assertThat(e.source().path("table").asText()).isEqualTo("order_lines");
            assertThat(e.source().path("lsn").isIntegralNumber()).isTrue();
        });
        assertThat(lines.events()).extracting(Event::keyPayload).containsExactlyInAnyOrder(
                json("{\"order_id\":1,\"line_no\":1}"), json("{\"order_id\":1,\"line_no\":2}"), json("{\"order_id\":2,\"line_no\":1}"));
        assertThat(lines.events()).extracting(Event::after).containsExactlyInAnyOrder(
                json("{\"order_id\":1,\"line_no\":1,\"sku\":\"A\"}"),
                json("{\"order_id\":1,\"line_no\":2,\"sku\":\"B\"}"),
                json("{\"order_id\":2,\"line_no\":1,\"sku\":\"C\"}"));

        rolledBack("INSERT INTO items VALUES (4, 'ghost', 0)");
        execute("INSERT INTO items VALUES (4, 'fig', 1)");
        rolledBack("UPDATE items SET name = 'rolled back' WHERE id = 4");
        // An explicit NULL in a column with a default stays NULL (Connect's JSON converter would write the default).
        execute("UPDATE items SET qty = NULL WHERE id = 4");
        execute("DELETE FROM items WHERE id = 4");
        rolledBack("INSERT INTO items VALUES (5, 'ghost', 0)");
        execute("UPDATE order_lines SET sku = 'B2' WHERE order_id = 1 AND line_no = 2");
        // Same key again: a tombstone after the delete would sit between the two, in the key's partition.
        execute("INSERT INTO items VALUES (4, 'fig again', 7)");

        await("streamed changes").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> items.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("fig again"))
                        && lines.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("B2")));
        // Everything before the last insert was acknowledged by Kafka before it was sent: read up to the end.
        items.drain();
        lines.drain();

        List<Event> four = items.events().stream().filter(e -> e.keyPayload().equals(json("{\"id\":4}"))).toList();
        assertThat(four).extracting(Event::op).containsExactly("c", "u", "d", "c");
        assertThat(four.get(0).after()).isEqualTo(json("{\"id\":4,\"name\":\"fig\",\"qty\":1}"));
        assertThat(four.get(1).after()).isEqualTo(json("{\"id\":4,\"name\":\"fig\",\"qty\":null}"));
        assertThat(four.get(2).before().get("id").asLong()).isEqualTo(4);
        assertThat(four.get(2).after()).isNull();
        assertThat(four.get(3).after()).isEqualTo(json("{\"id\":4,\"name\":\"fig again\",\"qty\":7}"));
        assertThat(four).allSatisfy(e -> {
            assertThat(e.source().path("table").asText()).isEqualTo("items");
            assertThat(e.source().path("lsn").isIntegralNumber()).isTrue();
        });
        assertThat(four).extracting(e -> e.source().get("lsn").asLong()).isSorted().doesNotHaveDuplicates();
        // Nothing else: no tombstone, no rolled-back insert or update, no second snapshot.
        assertThat(items.events()).hasSize(3 + 4);
        // Each schema travels inline once per partition, in the partition's first record of it; later ones name it
        // (events() fails on a name the partition did not carry before).
        assertThat(items.records().stream().collect(Collectors.groupingBy(ConsumerRecord::partition)).values()).allSatisfy(partition -> {
            assertThat(partition.get(0).headers().toArray()).isEmpty();
            assertThat(partition.subList(1, partition.size())).allSatisfy(r -> {
                assertThat(SchemaReferences.referenced(r.headers(), SchemaReferences.KEY_HEADER)).isNotNull();
                assertThat(SchemaReferences.referenced(r.headers(), SchemaReferences.VALUE_HEADER)).isNotNull();
                assertThat(r.value()).doesNotContain("\"schema\":{");
            });
        });
        assertThat(items.records()).allSatisfy(r -> assertThat(r.value()).isNotNull().doesNotContain("ghost", "rolled back"));

        assertThat(lines.events()).hasSize(3 + 1);
        assertThat(lines.events()).filteredOn(e -> !e.op().equals("r")).extracting(Event::op).containsExactly("u");
        Event lineUpdate = lines.events().stream().filter(e -> e.op().equals("u")).findFirst().orElseThrow();
        assertThat(lineUpdate.keyPayload()).isEqualTo(json("{\"order_id\":1,\"line_no\":2}"));
        assertThat(lineUpdate.after()).isEqualTo(json("{\"order_id\":1,\"line_no\":2,\"sku\":\"B2\"}"));

        // One snapshot-completed marker per partition of each raw topic, after that partition's snapshot reads and
        // before its streamed changes, naming the snapshot's LSN.
        long snapshotLsn = items.events().stream().filter(e -> e.op().equals("r")).findFirst().orElseThrow().source().get("lsn").asLong();
        for (RawReader reader : List.of(items, lines)) {
            assertThat(reader.markers()).extracting(ConsumerRecord::partition).containsExactlyInAnyOrder(0, 1, 2);
            for (ConsumerRecord<String, String> marker : reader.markers()) {
                assertThat(json(marker.value()).get("snapshotLsn").asLong()).isEqualTo(snapshotLsn);
                List<Event> samePartition = reader.events().stream().filter(e -> e.partition() == marker.partition()).toList();
                assertThat(samePartition).allSatisfy(e -> assertThat(e.offset() < marker.offset())
                        .as("offset %d of partition %d is a snapshot read", e.offset(), e.partition())
                        .isEqualTo(e.op().equals("r")));
            }
        }
    }

    @Test
    void keepsOffsetsInKafkaAndResumesWithoutSnapshottingAgain() throws Exception {
        Spec spec = spec();
        Topics topics = new Topics(spec);
        Capture first = start(spec);
        RawReader items = reader(topics.raw("items"));
        await("snapshot").atMost(DEADLINE).failFast("capture failed", () -> first.failure() != null)
                .until(() -> items.poll().size() >= 3);
        execute("INSERT INTO items VALUES (10, 'streamed before restart', 1)");
        await("streamed insert").atMost(DEADLINE).failFast("capture failed", () -> first.failure() != null)
                .until(() -> items.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("streamed before restart")));
        close(first);
        assertThat(first.failure()).isNull();

        execute("""
                INSERT INTO items VALUES (11, 'written while stopped', 1), (12, 'also while stopped', 2);
                UPDATE items SET name = 'apple, updated while stopped' WHERE id = 1;
                """);
        Capture second = start(spec);
        await("changes made while stopped").atMost(DEADLINE).failFast("capture failed", () -> second.failure() != null)
                .until(() -> items.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("updated while stopped")));
        // A second snapshot would be published before any change streamed after it; this marker comes after both.
        execute("INSERT INTO items VALUES (13, 'marker', 0)");
        await("marker").atMost(DEADLINE).failFast("capture failed", () -> second.failure() != null)
                .until(() -> items.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("marker")));
        items.drain();

        assertThat(items.events().stream().filter(e -> e.op().equals("r")).map(Event::keyPayload))
                .as("snapshot records")
                .containsExactlyInAnyOrder(json("{\"id\":1}"), json("{\"id\":2}"), json("{\"id\":3}"));
        assertThat(items.events()).filteredOn(e -> e.op().equals("c")).extracting(Event::after).contains(
                json("{\"id\":11,\"name\":\"written while stopped\",\"qty\":1}"),
                json("{\"id\":12,\"name\":\"also while stopped\",\"qty\":2}"),
                json("{\"id\":13,\"name\":\"marker\",\"qty\":0}"));
        assertThat(items.events()).filteredOn(e -> e.op().equals("u")).extracting(Event::after)
                .containsExactly(json("{\"id\":1,\"name\":\"apple, updated while stopped\",\"qty\":3}"));

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            assertThat(admin.listTopics().names().get()).contains(topics.captureOffsets());
        }
        try (KafkaConsumer<String, String> consumer = consumer()) {
            List<TopicPartition> partitions = partitions(consumer, topics.captureOffsets());
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long stored = partitions.stream().mapToLong(p -> end.get(p) - begin.get(p)).sum();
            assertThat(stored).as("records in %s", topics.captureOffsets()).isPositive();
        }
    }

    @Test
    void aPartitionedTableStreamsThroughItsRootIncludingRowsMovedBetweenPartitionsAndPartitionsCreatedOrAttachedLater()
            throws Exception {
        execute("""
                CREATE TABLE events (id bigint, happened_at timestamptz, kind text NOT NULL, PRIMARY KEY (id, happened_at))
                    PARTITION BY RANGE (happened_at);
                CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
                CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
                INSERT INTO events VALUES (1, '2025-03-01', 'snapshot'), (2, '2026-03-01', 'snapshot');
                """);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Spec spec = spec("events", "id", "happened_at", "kind");
        Capture capture = start(spec, registry);
        RawReader events = reader(new Topics(spec).raw("events"));
        await("snapshot").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> events.poll().size() >= 2);

        execute("""
                INSERT INTO events VALUES (3, '2025-06-01', 'streamed'), (4, '2026-06-01', 'streamed');
                UPDATE events SET happened_at = '2026-02-01', kind = 'moved' WHERE id = 1;
                CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
                INSERT INTO events VALUES (5, '2027-02-01', 'in a partition created while streaming');
                CREATE TABLE events_2028 (LIKE events INCLUDING ALL);
                ALTER TABLE events ATTACH PARTITION events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
                INSERT INTO events VALUES (6, '2028-02-01', 'in an attached partition');
                ALTER TABLE events DETACH PARTITION events_2025;
                UPDATE events SET kind = 'after a detach' WHERE id = 2;
                """);
        await("streamed changes").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> events.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("after a detach")));
        events.drain();

        // In commit order (the raw topic's partitions each keep their keys' order).
        List<Event> streamed = events.events().stream().filter(e -> !e.op().equals("r"))
                .sorted(Comparator.comparingLong(e -> e.source().get("lsn").asLong())).toList();
        assertThat(streamed).allSatisfy(e -> assertThat(e.source().path("table").asText()).isEqualTo("events"));
        assertThat(streamed).extracting(e -> e.op() + " " + e.keyPayload().get("id")).containsExactly(
                "c 3", "c 4", "d 1", "c 1", "c 5", "c 6", "u 2");
        assertThat(streamed.get(3).after().get("kind").asText()).isEqualTo("moved");
        assertThat(streamed.get(3).keyPayload().get("happened_at").asText()).startsWith("2026-02-01");
        assertThat(streamed.get(2).keyPayload().get("happened_at").asText()).startsWith("2025-03-01");
        assertThat(received(registry, "unmapped")).isEmpty();
        assertThat(received(registry, "published")).containsEntry("public.events", 2.0 + 7);
    }

    /**
     * Only the columns it is given, and the primary key and replica identity columns, leave v1: in the snapshot, in
     * every streamed image (REPLICA IDENTITY FULL's old images too), and not a column added later. Names that a
     * regular expression or Debezium's comma-separated list would misread are matched exactly. (Debezium refuses a
     * table whose columns differ only by case, so that case is left to {@code ColumnFilterTest}.)
     */
    @Test
    void carriesOnlyTheColumnsItIsGivenAndTheIdentityInTheSnapshotAndTheStream() throws Exception {
        execute("""
                CREATE TABLE people (id bigint PRIMARY KEY, "Name" text, nickname text, "a,b" text, "x.y" text, xay text,
                                     code text NOT NULL UNIQUE, ssn text);
                ALTER TABLE people REPLICA IDENTITY FULL;
                INSERT INTO people VALUES (1, 'Upper', 'lower', 'comma', 'dot', 'not x.y', 'c1', '123-45-6789');
                """);
        // Only an expression can name such columns (row['a,b']); the mapping here just makes capture read the table.
        Spec spec = spec("people", "id");
        Set<String> carried = Set.of("id", "Name", "a,b", "x.y");
        Capture capture = start(spec, new SimpleMeterRegistry(), new CapturedColumns(Map.of("people",
                new CapturedColumns.Table(new TreeSet<>(Set.of("Name", "a,b", "x.y")), null))));
        RawReader people = reader(new Topics(spec).raw("people"));
        await("snapshot").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> people.poll().size() >= 1);

        execute("ALTER TABLE people ADD COLUMN added_later text");
        execute("""
                INSERT INTO people VALUES (2, 'U2', 'l2', 'c,2', 'd2', 'n2', 'c2', '987-65-4321', 'later');
                UPDATE people SET ssn = '000-00-0000', "Name" = 'U1' WHERE id = 1;
                DELETE FROM people WHERE id = 2;
                """);
        await("the streamed changes").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> people.poll().size() >= 4);

        // Rows 1 and 2 may be in different partitions: their order between them is not kept.
        assertThat(people.events()).extracting(Event::op).containsExactlyInAnyOrder("r", "c", "u", "d");
        for (Event event : people.events()) {
            for (JsonNode image : new JsonNode[] {event.before(), event.after()}) {
                if (image != null && !image.isNull()) {
                    assertThat(fieldNames(image)).as("%s", event).isEqualTo(carried);
                }
            }
        }
        assertThat(people.records()).allSatisfy(r -> assertThat(r.value()).doesNotContain("ssn", "123-45", "987-65",
                "000-00", "lower", "not x.y", "added_later", "later"));
        Map<String, Event> byOp = people.events().stream().collect(Collectors.toMap(Event::op, e -> e));
        assertThat(byOp.get("r").after()).isEqualTo(json("{\"id\":1,\"Name\":\"Upper\",\"a,b\":\"comma\",\"x.y\":\"dot\"}"));
        assertThat(byOp.get("u").before()).isEqualTo(json("{\"id\":1,\"Name\":\"Upper\",\"a,b\":\"comma\",\"x.y\":\"dot\"}"));
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new java.util.HashSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void aChangeOfATableTheSpecDoesNotMapIsCountedAndNamedNeverDroppedUnseen() throws Exception {
        execute("CREATE TABLE audit_log (id bigint PRIMARY KEY, line text)");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Spec spec = spec();
        Capture capture = start(spec, registry);
        RawReader items = reader(new Topics(spec).raw("items"));
        await("snapshot").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> items.poll().size() >= 3);

        // A publication changed by hand (or one that reports partitions under their own names) sends changes of a
        // table capture does not read: whatever the reason, they are counted under the table's name.
        execute("ALTER PUBLICATION \"" + prefix + "\" ADD TABLE audit_log");
        execute("""
                INSERT INTO audit_log VALUES (1, 'one'), (2, 'two');
                UPDATE audit_log SET line = 'uno' WHERE id = 1;
                INSERT INTO items VALUES (20, 'after the unmapped changes', 1);
                """);
        await("the mapped change after them").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(() -> items.poll().stream().anyMatch(r -> r.value() != null && r.value().contains("after the unmapped")));

        // The record is in Kafka before the producer's callback counts it.
        await("counted").atMost(DEADLINE).untilAsserted(() -> {
            assertThat(received(registry, "unmapped")).containsExactly(Map.entry("public.audit_log", 3.0));
            assertThat(received(registry, "published")).containsEntry("public.items", 3.0 + 1);
        });
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            assertThat(admin.listTopics().names().get()).noneMatch(topic -> topic.contains("audit_log"));
        }
    }

    @Test
    void refusesAnExistingPublicationThatWouldReportPartitionsUnderTheirOwnNames() throws Exception {
        execute("""
                CREATE TABLE events (id bigint, happened_at timestamptz, PRIMARY KEY (id, happened_at)) PARTITION BY RANGE (happened_at);
                CREATE TABLE events_all PARTITION OF events DEFAULT;
                CREATE PUBLICATION "%s" FOR TABLE events;
                """.formatted(prefix));
        Spec spec = spec("events", "id", "happened_at");

        assertThatThrownBy(() -> start(spec, new SimpleMeterRegistry()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("publication " + prefix + " has publish_via_partition_root = false")
                .hasMessageContaining("public.events")
                .hasMessageContaining("ALTER PUBLICATION \"" + prefix + "\" SET (publish_via_partition_root = true)");
        assertThat(slotExists()).as("slot created").isFalse();
    }

    /** {@code migrator.capture.changes} of one outcome, per table. */
    private static Map<String, Double> received(SimpleMeterRegistry registry, String outcome) {
        return registry.find("migrator.capture.changes").tag("outcome", outcome).counters().stream()
                .collect(Collectors.toMap(c -> c.getId().getTag("table"), c -> c.count()));
    }

    private boolean slotExists() throws SQLException {
        try (Connection c = connect(); PreparedStatement st = c.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?")) {
            st.setString(1, prefix);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        }
    }

    @Test
    void closeLeavesNoKafkaClientThreadsBehind() {
        Spec spec = spec();
        Capture capture = start(spec);
        await("capture running").atMost(DEADLINE).failFast("capture failed", () -> capture.failure() != null)
                .until(capture::running);
        // The check below means something only if these threads exist while capture runs.
        await("capture's client threads").atMost(DEADLINE)
                .until(() -> captureThreads(), names -> names.contains(PRODUCER_THREAD) && names.contains(OFFSETS_ADMIN_THREAD));

        close(capture);

        await("capture's client threads ended").atMost(Duration.ofSeconds(15))
                .until(() -> captureThreads(), Set::isEmpty);
        assertThat(capture.failure()).isNull();
    }

    /** Live threads named after capture's client ids, or its own engine thread. */
    private static Set<String> captureThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.contains("migrator-capture"))
                .collect(Collectors.toSet());
    }

    private static LinkedHashMap<String, ColumnSpec> copies(String... columns) {
        LinkedHashMap<String, ColumnSpec> mapped = new LinkedHashMap<>();
        for (String column : columns) {
            mapped.put(column, ColumnSpec.from(column));
        }
        return mapped;
    }

    private Spec spec() {
        Map<String, TableSpec> tables = new LinkedHashMap<>();
        tables.put("items", TableSpec.of(null, null, copies("id", "name")));
        tables.put("order_lines", TableSpec.of(null, null, copies("order_id", "line_no", "sku")));
        return spec(tables);
    }

    private Spec spec(String table, String... columns) {
        return spec(Map.of(table, TableSpec.of(null, null, copies(columns))));
    }

    private Spec spec(Map<String, TableSpec> tables) {
        return new Spec(Spec.CURRENT_VERSION,
                new SourceSpec(pg.jdbcUrl(v1), pg.user(), pg.password(), null, null),
                // Capture never writes v2; the target only has to be a valid spec.
                new TargetSpec(pg.jdbcUrl(v1), pg.user(), pg.password(), null, null),
                new KafkaSpec(TestKafka.bootstrapServers(), prefix, 3, null),
                tables);
    }

    private Capture start(Spec spec) {
        return start(spec, new SimpleMeterRegistry());
    }

    private Capture start(Spec spec, SimpleMeterRegistry registry) {
        return start(spec, registry, everyColumn(spec));
    }

    /** Every column of every table: what these tests look at is capture's own work, whatever the spec reads. */
    static CapturedColumns everyColumn(Spec spec) {
        Map<String, CapturedColumns.Table> tables = new LinkedHashMap<>();
        spec.capturedTables().forEach(table -> tables.put(table, new CapturedColumns.Table(new TreeSet<>(), "the test")));
        return new CapturedColumns(tables);
    }

    private Capture start(Spec spec, SimpleMeterRegistry registry, CapturedColumns columns) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);
        }
        Capture capture = Capture.start(spec, columns, TestKafka.bootstrapServers(), registry, Map.of(), Map.of());
        captures.add(capture);
        return capture;
    }

    private void close(Capture capture) {
        captures.remove(capture);
        capture.close();
    }

    private RawReader reader(String topic) {
        RawReader reader = new RawReader(topic);
        readers.add(reader);
        return reader;
    }

    private static KafkaConsumer<String, String> consumer() {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        return consumer.partitionsFor(topic, DEADLINE).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition()))
                .toList();
    }

    private boolean slotActive() throws SQLException {
        try (Connection c = connect(); PreparedStatement st = c.prepareStatement(
                "SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
            st.setString(1, prefix);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(pg.jdbcUrl(v1), pg.user(), pg.password());
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private void rolledBack(String sql) throws SQLException {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute(sql);
            }
            c.rollback();
        }
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * One raw record, parsed: key and value payloads with the schemas they carried inline or named (resolved from the
     * partition's earlier records, as {@link SchemaReferences} says a reader does); a tombstone has a null value and op
     * "tombstone".
     */
    private record Event(int partition, long offset, JsonNode keyPayload, JsonNode keySchema, JsonNode payload, JsonNode valueSchema) {

        String op() {
            return payload == null ? "tombstone" : payload.path("op").asText();
        }

        JsonNode before() {
            return payload == null ? null : payload.get("before");
        }

        JsonNode after() {
            JsonNode after = payload == null ? null : payload.get("after");
            return after == null || after.isNull() ? null : after;
        }

        JsonNode source() {
            return payload.path("source");
        }
    }

    /** Reads every partition of one topic from the beginning, keeping all records in partition order. */
    private static final class RawReader implements AutoCloseable {

        private final KafkaConsumer<String, String> consumer = consumer();
        private final List<TopicPartition> partitions;
        private final List<ConsumerRecord<String, String>> records = new ArrayList<>();
        private final List<ConsumerRecord<String, String>> markers = new ArrayList<>();

        RawReader(String topic) {
            partitions = partitions(consumer, topic);
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        }

        /** Polls once and returns every change record read so far (snapshot-completed markers are kept apart). */
        List<ConsumerRecord<String, String>> poll() {
            consumer.poll(Duration.ofMillis(200)).forEach(r -> (SnapshotCompleted.isMarker(r.headers()) ? markers : records).add(r));
            return records;
        }

        List<ConsumerRecord<String, String>> markers() {
            return markers;
        }

        /** Reads up to the end offsets as of now. */
        void drain() {
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            Predicate<TopicPartition> behind = p -> consumer.position(p) < end.get(p);
            await("reading up to " + end).atMost(DEADLINE).until(() -> {
                poll();
                return partitions.stream().noneMatch(behind);
            });
        }

        List<ConsumerRecord<String, String>> records() {
            return records;
        }

        /** The change records read so far, each schema read inline or resolved by the id its header names. */
        List<Event> events() {
            Map<String, JsonNode> inline = new HashMap<>();
            List<Event> events = new ArrayList<>();
            for (ConsumerRecord<String, String> r : records) {
                JsonNode[] key = resolve(r, r.key(), SchemaReferences.KEY_HEADER, inline);
                JsonNode[] value = r.value() == null ? new JsonNode[2] : resolve(r, r.value(), SchemaReferences.VALUE_HEADER, inline);
                events.add(new Event(r.partition(), r.offset(), key[0], key[1], value[0], value[1]));
            }
            return events;
        }

        /** Payload and schema of a key or value; fails the test if it names a schema its partition has not carried. */
        private static JsonNode[] resolve(ConsumerRecord<String, String> r, String text, String header, Map<String, JsonNode> inline) {
            JsonNode read = json(text);
            String ref = SchemaReferences.referenced(r.headers(), header);
            if (ref == null) {
                // The id is of the schema's bytes as they appear inline: the text between the two members' names.
                byte[] schema = text.substring("{\"schema\":".length(), text.indexOf(",\"payload\":")).getBytes(StandardCharsets.UTF_8);
                inline.put(r.partition() + "/" + SchemaReferences.id(schema, 0, schema.length), read.get("schema"));
                return new JsonNode[] {read.get("payload"), read.get("schema")};
            }
            JsonNode schema = inline.get(r.partition() + "/" + ref);
            assertThat(schema).as("the schema %s named at offset %d of partition %d, carried inline before it", ref, r.offset(), r.partition())
                    .isNotNull();
            return new JsonNode[] {read, schema};
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
