package dev.cdcmigrator.cutover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.Cleanup.Item;
import dev.cdcmigrator.cutover.Cleanup.Kind;
import dev.cdcmigrator.cutover.Cleanup.Plan;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Cleanup against a real PostgreSQL (slot, publication, state schema) and Kafka (topics, groups). */
class CleanupIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    private final PostgresServer pg = TestPostgres.shared();
    private final String prefix = "cl_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    private final String bootstrap = TestKafka.bootstrapServers();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private Admin admin;
    private String v1Db;
    private String v2Db;

    private List<String> ourTopics() {
        return List.of(prefix + "-transform-images-users-changelog", prefix + ".capture.offsets", prefix + ".dlq",
                prefix + ".raw.public." + prefix + "_heartbeat", prefix + ".raw.public.users", prefix + ".v2.accounts");
    }

    private List<String> otherTopics() {
        return List.of(prefix + ".raw.public.gone", prefix + "_other.dlq");
    }

    @BeforeEach
    void setUp() throws Exception {
        v1Db = pg.createDatabase("cleanup_v1");
        v2Db = pg.createDatabase("cleanup_v2");
        pg.execute(v1Db, "CREATE TABLE users (id bigint PRIMARY KEY, name text); CREATE TABLE " + prefix
                + "_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text); "
                + "CREATE PUBLICATION " + prefix + " FOR TABLE users, " + prefix + "_heartbeat; "
                // What capture and the sink mark as theirs when they create it.
                + Marks.commentStatement(Marks.Subject.table("v1", "public", prefix + "_heartbeat"), prefix) + "; "
                + Marks.commentStatement(Marks.Subject.publication(prefix), prefix));
        pg.execute(v1Db, "SELECT pg_create_logical_replication_slot('" + prefix + "', 'pgoutput')");
        pg.execute(v2Db, "CREATE TABLE accounts (id bigint PRIMARY KEY, name text); CREATE SCHEMA migrator_state; "
                + "CREATE TABLE migrator_state.sink_offsets (grp text, topic text, part int, next_offset bigint); "
                + Marks.commentStatement(Marks.Subject.schema("migrator_state"), prefix));

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        admin = Admin.create(props);
        List<String> topics = new ArrayList<>(ourTopics());
        topics.addAll(otherTopics());
        admin.createTopics(topics.stream().map(t -> new NewTopic(t, 1, (short) 1)).toList()).all().get();
        await().atMost(DEADLINE).until(() -> topics().containsAll(topics));
        for (String group : List.of(prefix + "-sink", prefix + "-transform", prefix + "-other")) {
            admin.alterConsumerGroupOffsets(group, Map.of(new TopicPartition(prefix + ".v2.accounts", 0),
                    new OffsetAndMetadata(0))).all().get();
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        // A slot left behind would hold WAL of the shared server.
        await().atMost(DEADLINE).until(() -> pg.rows(v1Db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '"
                + prefix + "' AND active").get(0).get(0).equals("0"));
        pg.execute(v1Db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"
                + prefix + "'");
        admin.close();
    }

    @Test
    void planListsEverythingAndDropsNothing() throws Exception {
        Plan plan;
        try (Cleanup cleanup = Cleanup.open(spec(""), true, bootstrap, TIMEOUT)) {
            plan = cleanup.plan();
        }

        assertThat(plan.refusals()).isEmpty();
        assertThat(plan.items()).extracting(Item::wouldDrop).satisfiesExactly(
                slot -> assertThat(slot).matches("would drop replication slot " + prefix + " on v1 \\(inactive"
                        + "( since [^,]+)?, retaining [0-9]+ (bytes|kB|MB) \\([0-9]+ bytes\\) of WAL\\)"),
                publication -> assertThat(publication).isEqualTo("would drop publication " + prefix
                        + " on v1 (tables public." + prefix + "_heartbeat, public.users)"),
                heartbeat -> assertThat(heartbeat).isEqualTo("would drop heartbeat table public." + prefix
                        + "_heartbeat on v1"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + "-transform-images-users-changelog"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + ".capture.offsets"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + ".dlq"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + ".raw.public." + prefix + "_heartbeat"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + ".raw.public.users"),
                t -> assertThat(t).isEqualTo("would delete topic " + prefix + ".v2.accounts"),
                g -> assertThat(g).isEqualTo("would delete consumer group " + prefix + "-sink"),
                g -> assertThat(g).isEqualTo("would delete consumer group " + prefix + "-transform"),
                s -> assertThat(s).isEqualTo("would drop schema migrator_state on v2 (tables sink_offsets)"));
        assertThat(plan.leftAlone()).containsExactly("topic " + prefix + ".raw.public.gone is not a topic of the "
                + "spec's tables: not deleted (delete it by hand if it is left from an earlier spec)");
        assertThat(plan.slot()).hasValueSatisfying(s -> {
            assertThat(s.active()).isFalse();
            assertThat(s.retainedWalBytes()).isNotNull().isNotNegative();
        });

        assertThat(slots()).containsExactly(prefix);
        assertThat(publications()).containsExactly(prefix);
        assertThat(stateSchemas()).containsExactly("migrator_state");
        assertThat(topics()).containsAll(ourTopics());
        assertThat(groups()).containsExactlyInAnyOrder(prefix + "-sink", prefix + "-transform", prefix + "-other");
    }

    @Test
    void executeDropsEverythingAndASecondRunFindsNothing() throws Exception {
        List<String> dropped = new ArrayList<>();
        try (Cleanup cleanup = Cleanup.open(spec(""), true, bootstrap, TIMEOUT)) {
            cleanup.execute(cleanup.plan(), item -> dropped.add(item.dropped()));
        }

        assertThat(dropped).hasSize(12);
        assertThat(dropped.get(0)).startsWith("dropped replication slot " + prefix + " on v1 (it was inactive");
        assertThat(dropped.subList(1, 12)).containsExactly(
                "dropped publication " + prefix + " on v1",
                "dropped heartbeat table public." + prefix + "_heartbeat on v1",
                "deleted topic " + prefix + "-transform-images-users-changelog",
                "deleted topic " + prefix + ".capture.offsets",
                "deleted topic " + prefix + ".dlq",
                "deleted topic " + prefix + ".raw.public." + prefix + "_heartbeat",
                "deleted topic " + prefix + ".raw.public.users",
                "deleted topic " + prefix + ".v2.accounts",
                "deleted consumer group " + prefix + "-sink",
                "deleted consumer group " + prefix + "-transform",
                "dropped schema migrator_state on v2 and everything in it (tables sink_offsets)");
        assertThat(slots()).isEmpty();
        assertThat(publications()).isEmpty();
        assertThat(pg.rows(v1Db, "SELECT to_regclass('public." + prefix + "_heartbeat') IS NULL, count(*) FROM users"))
                .containsExactly(List.of("t", "0"));
        assertThat(stateSchemas()).isEmpty();
        assertThat(pg.rows(v2Db, "SELECT count(*) FROM accounts")).containsExactly(List.of("0"));
        await().atMost(DEADLINE).untilAsserted(() -> assertThat(topics()).doesNotContainAnyElementsOf(ourTopics())
                .containsAll(otherTopics()));
        assertThat(groups()).containsExactly(prefix + "-other");

        try (Cleanup again = Cleanup.open(spec(""), true, bootstrap, TIMEOUT)) {
            Plan second = again.plan();
            assertThat(second.items()).isEmpty();
            assertThat(second.refusals()).isEmpty();
            List<String> droppedAgain = new ArrayList<>();
            again.execute(second, item -> droppedAgain.add(item.dropped()));
            assertThat(droppedAgain).isEmpty();
        }
    }

    @Test
    void withoutKafkaAndStateOnlyTheSlotAndThePublicationAreDropped() throws Exception {
        List<String> dropped = new ArrayList<>();
        try (Cleanup cleanup = Cleanup.open(spec(""), false, null, TIMEOUT)) {
            cleanup.execute(cleanup.plan(), item -> dropped.add(item.kind().name()));
        }

        assertThat(dropped).containsExactly("SLOT", "PUBLICATION", "HEARTBEAT_TABLE");
        assertThat(stateSchemas()).containsExactly("migrator_state");
        assertThat(topics()).containsAll(ourTopics());
        assertThat(groups()).contains(prefix + "-sink", prefix + "-transform");
    }

    @Test
    void anActiveSlotRefusesTheWholeCleanup() throws Exception {
        holdSlotOpen();

        try (Cleanup cleanup = Cleanup.open(spec(""), true, bootstrap, TIMEOUT)) {
            Plan plan = cleanup.plan();
            assertThat(plan.refused()).isTrue();
            assertThat(plan.refusals()).singleElement().asString().matches("replication slot " + prefix
                    + " on v1 is active \\(PID [0-9]+\\): the pipeline \\(migrator run\\) or another client still reads "
                    + "it\\. Stop it, then run cleanup again \\(a client that died releases the slot within "
                    + "wal_sender_timeout\\)");
            assertThatThrownBy(() -> cleanup.execute(plan, item -> { }))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("cleanup refused: replication slot");
        }

        assertThat(slots()).containsExactly(prefix);
        assertThat(publications()).containsExactly(prefix);
        assertThat(stateSchemas()).containsExactly("migrator_state");
        assertThat(topics()).containsAll(ourTopics());
    }

    @Test
    void aConsumerGroupWithMembersRefusesTheWholeCleanup() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, prefix + "-sink");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props);
        toClose.add(consumer);
        consumer.subscribe(List.of(prefix + ".v2.accounts"));
        await().atMost(DEADLINE).until(() -> {
            consumer.poll(Duration.ofMillis(100));
            return !consumer.assignment().isEmpty();
        });

        try (Cleanup cleanup = Cleanup.open(spec(""), false, bootstrap, TIMEOUT)) {
            Plan plan = cleanup.plan();
            assertThat(plan.refusals()).singleElement().asString().matches("consumer group " + prefix + "-sink has "
                    + "members \\(state [A-Za-z]+\\): the pipeline \\(migrator run\\) is still running\\. Stop it, then "
                    + "run cleanup again");
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        assertThat(slots()).containsExactly(prefix);
    }

    /**
     * Objects with the migrator's names that it did not make (no mark), or that another migration made, are listed
     * as left alone and survive the cleanup; the slot, which cannot carry a mark, is dropped as before.
     */
    @Test
    void objectsThisMigrationDidNotMakeAreLeftAlone() throws Exception {
        pg.execute(v1Db, "COMMENT ON PUBLICATION " + prefix + " IS NULL; COMMENT ON TABLE " + prefix + "_heartbeat IS "
                + "'audit, do not touch'");
        pg.execute(v2Db, Marks.commentStatement(Marks.Subject.schema("migrator_state"), "other"));

        Plan plan;
        try (Cleanup cleanup = Cleanup.open(spec(""), true, null, TIMEOUT)) {
            plan = cleanup.plan();
            assertThat(plan.items()).extracting(Item::kind).containsExactly(Kind.SLOT);
            cleanup.execute(plan, item -> { });
        }

        assertThat(plan.leftAlone()).containsExactly(
                "publication " + prefix + " on v1 was not made by the migrator (it has no comment, not the migrator's "
                        + "mark): migration " + prefix + " uses and drops only what it made, or what was made for it: "
                        + "not dropped (if it was made for this migration, mark it: COMMENT ON PUBLICATION \"" + prefix
                        + "\" IS 'cdc-migrator migration " + prefix + "'; otherwise choose another name "
                        + "(kafka.topicPrefix, target.stateSchema))",
                "table public." + prefix + "_heartbeat on v1 was not made by the migrator (it has the comment "
                        + "'audit, do not touch', not the migrator's mark): migration " + prefix + " uses and drops only "
                        + "what it made, or what was made for it: not dropped (if it was made for this migration, mark "
                        + "it: COMMENT ON TABLE \"public\".\"" + prefix + "_heartbeat\" IS 'cdc-migrator migration "
                        + prefix + "'; otherwise choose another name (kafka.topicPrefix, target.stateSchema))",
                "schema migrator_state on v2 belongs to migration other (its comment says so): migration " + prefix
                        + " uses and drops only what it made, or what was made for it: not dropped (if it was made for "
                        + "this migration, mark it: COMMENT ON SCHEMA \"migrator_state\" IS 'cdc-migrator migration "
                        + prefix + "'; otherwise choose another name (kafka.topicPrefix, target.stateSchema))");
        assertThat(slots()).isEmpty();
        assertThat(publications()).containsExactly(prefix);
        assertThat(pg.rows(v1Db, "SELECT to_regclass('public." + prefix + "_heartbeat') IS NOT NULL").get(0))
                .containsExactly("t");
        assertThat(stateSchemas()).containsExactly("migrator_state");
    }

    @Test
    void aStateSchemaThatHoldsTheV2TablesIsRefused() throws Exception {
        try (Cleanup cleanup = Cleanup.open(spec("stateSchema: public"), true, null, TIMEOUT)) {
            Plan plan = cleanup.plan();
            assertThat(plan.refusals()).containsExactly("the state schema public is also target.schema, where the v2 "
                    + "tables are: dropping it with everything in it would drop more than the migrator's state. Leave out "
                    + "--state and drop public.sink_offsets by hand");
        }
        assertThat(slots()).containsExactly(prefix);
    }

    @Test
    void theSlotHealthQueryReportsRetainedWal() throws Exception {
        long before;
        try (Connection c = pg.connect(v1Db)) {
            before = SlotHealth.query(c, prefix).orElseThrow().retainedWalBytes();
        }
        // md5 text does not compress, so the WAL grows by at least the rows' size.
        pg.execute(v1Db, "INSERT INTO users SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 32) i)"
                + " FROM generate_series(1, 2000) g");
        // pg_current_wal_lsn() is the WAL written out: with synchronous_commit off (the test server) the WAL writer
        // catches up with the insert position within wal_writer_delay, later on a busy machine.
        await().atMost(DEADLINE).untilAsserted(() -> {
            try (Connection c = pg.connect(v1Db)) {
                assertThat(SlotHealth.query(c, prefix).orElseThrow().retainedWalBytes()).isGreaterThan(before + 500_000L);
            }
        });
        try (Connection c = pg.connect(v1Db)) {
            SlotHealth health = SlotHealth.query(c, prefix).orElseThrow();
            assertThat(health.type()).isEqualTo("logical");
            assertThat(health.plugin()).isEqualTo("pgoutput");
            assertThat(health.database()).isEqualTo(v1Db);
            assertThat(health.active()).isFalse();
            assertThat(health.activePid()).isNull();
            // Nothing reads the slot, so it keeps the WAL those rows wrote.
            assertThat(health.retainedWalBytes()).isGreaterThan(before + 500_000L);
            assertThat(health.retainedWal()).matches("[0-9]+ (kB|MB) \\([0-9]+ bytes\\)");
            assertThat(SlotHealth.query(c, prefix + "_none")).isEmpty();
        }
        holdSlotOpen();
        try (Connection c = pg.connect(v1Db)) {
            SlotHealth health = SlotHealth.query(c, prefix).orElseThrow();
            assertThat(health.active()).isTrue();
            assertThat(health.activePid()).isPositive();
            assertThat(health.describe()).startsWith("active (PID " + health.activePid() + "), retaining ");
        }
    }

    /** Reads the slot through a replication connection, as capture does, until the test ends. */
    private void holdSlotOpen() throws Exception {
        toClose.add(0, pg.readSlot(v1Db, prefix, prefix));
        await().atMost(DEADLINE).until(() -> pg.rows(v1Db, "SELECT active FROM pg_replication_slots WHERE slot_name = '"
                + prefix + "'").equals(List.of(List.of("t"))));
    }

    private Spec spec(String targetExtra) {
        return new SpecParser(name -> null).parse("""
                version: 1
                source: { url: "%s", user: "%s", password: "%s" }
                target: { url: "%s", user: "%s", password: "%s" %s }
                kafka: { topicPrefix: %s }
                tables:
                  users: { into: accounts, columns: { id: { from: id }, name: { from: name } } }
                """.formatted(pg.jdbcUrl(v1Db), pg.user(), pg.password(), pg.jdbcUrl(v2Db), pg.user(), pg.password(),
                targetExtra.isEmpty() ? "" : ", " + targetExtra, prefix), "cleanup-it.yaml");
    }

    private List<String> slots() {
        return column(v1Db, "SELECT slot_name FROM pg_replication_slots WHERE slot_name = '" + prefix + "'");
    }

    private List<String> publications() {
        return column(v1Db, "SELECT pubname FROM pg_publication");
    }

    private List<String> stateSchemas() {
        return column(v2Db, "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'migrator_state'");
    }

    private List<String> column(String db, String query) {
        return pg.rows(db, query).stream().map(r -> r.get(0)).toList();
    }

    private Set<String> topics() throws Exception {
        return admin.listTopics().names().get();
    }

    private Set<String> groups() throws Exception {
        return admin.listGroups().all().get().stream().map(GroupListing::groupId)
                .filter(g -> g.startsWith(prefix)).collect(Collectors.toSet());
    }
}
