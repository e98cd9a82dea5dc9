package dev.cdcmigrator.cutover;

import static dev.cdcmigrator.common.SqlText.quote;
import static dev.cdcmigrator.common.SqlText.quoteIfNeeded;

import dev.cdcmigrator.capture.SlotHealth;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.KafkaUnreachableException;
import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Removes what a migration left behind, after the cutover or when it is abandoned: on v1 the replication slot and the
 * publication named {@code kafka.topicPrefix} and capture's heartbeat table ({@link Topics#heartbeatTable()}); with
 * Kafka, the migrator's topics and consumer groups; with the state, the sink's state schema on v2.
 *
 * <p>Dropping the slot loses capture's position for good (a new capture starts over with a snapshot), so the work is
 * split: {@link #plan()} only reads and says what exists, what would be dropped and what stops it; {@link #execute}
 * drops. Nothing is dropped while the pipeline runs: an active slot, or a consumer group with members, refuses the
 * whole cleanup. Both steps are idempotent: what is gone already is simply not listed.
 *
 * <p>Kafka: the raw and v2 topics of the spec, the heartbeat table's raw topic, {@code <prefix>.dlq},
 * {@code <prefix>.capture.offsets}, every topic
 * starting with {@code <prefix>-transform-} (Kafka Streams' changelog and repartition topics), and the groups
 * {@code <prefix>-sink} and {@code <prefix>-transform}. Raw and v2 topics of tables the spec no longer maps are left
 * alone and reported. The transform's transactional ids cannot be deleted; Kafka expires them
 * ({@code transactional.id.expiration.ms}).
 */
public final class Cleanup implements AutoCloseable {

    private static final String APPLICATION = "migrator-cleanup";
    private static final Duration TOPIC_GONE_POLL = Duration.ofMillis(100);
    private static final String STREAMS_GROUP = "streams group";

    /** What kind of object an {@link Item} is. */
    public enum Kind {
        SLOT("replication slot", "on v1"),
        PUBLICATION("publication", "on v1"),
        HEARTBEAT_TABLE("heartbeat table", "on v1"),
        TOPIC("topic", ""),
        GROUP("consumer group", ""),
        STATE_SCHEMA("schema", "on v2");

        private final String noun;
        private final String where;

        Kind(String noun, String where) {
            this.noun = noun;
            this.where = where;
        }
    }

    /**
     * One object to drop.
     *
     * @param kind what it is
     * @param name its name
     * @param detail what the operator should know about it (e.g. how much WAL the slot retains); may be empty
     */
    public record Item(Kind kind, String name, String detail) {

        /** {@code replication slot app on v1}. */
        public String what() {
            return kind.noun + " " + name + (kind.where.isEmpty() ? "" : " " + kind.where);
        }

        /** The dry-run line. */
        public String wouldDrop() {
            return "would " + (kind == Kind.TOPIC || kind == Kind.GROUP ? "delete " : "drop ") + what()
                    + (detail.isEmpty() ? "" : " (" + detail + ")");
        }

        /** The line once dropped. */
        public String dropped() {
            return switch (kind) {
                case SLOT -> "dropped " + what() + (detail.isEmpty() ? "" : " (it was " + detail + ")");
                case STATE_SCHEMA -> "dropped " + what() + " and everything in it (" + detail + ")";
                case TOPIC, GROUP -> "deleted " + what();
                case PUBLICATION, HEARTBEAT_TABLE -> "dropped " + what();
            };
        }
    }

    /**
     * What {@link #plan()} found.
     *
     * @param items what would be dropped, in the order {@link #execute} drops it
     * @param refusals why nothing may be dropped now (e.g. the slot is active); empty when it may
     * @param leftAlone objects with the migrator's names that are not dropped, and why
     * @param slot the replication slot named after the prefix, if it exists (also when it is not capture's)
     */
    public record Plan(List<Item> items, List<String> refusals, List<String> leftAlone, Optional<SlotHealth> slot) {

        public Plan {
            items = List.copyOf(items);
            refusals = List.copyOf(refusals);
            leftAlone = List.copyOf(leftAlone);
        }

        /** Whether cleanup must not drop anything now. */
        public boolean refused() {
            return !refusals.isEmpty();
        }
    }

    /** Dropping stopped part-way; what was dropped before was reported. */
    public static final class CleanupFailedException extends RuntimeException {
        CleanupFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Spec spec;
    private final Topics names;
    private final Duration timeout;
    private final Connection v1;
    private final Connection v2;
    private final Admin admin;

    private Cleanup(Spec spec, Duration timeout, Connection v1, Connection v2, Admin admin) {
        this.spec = spec;
        this.names = new Topics(spec);
        this.timeout = timeout;
        this.v1 = v1;
        this.v2 = v2;
        this.admin = admin;
    }

    /**
     * Connects to v1, to v2 when {@code state}, and to Kafka when {@code kafkaBootstrap} is given.
     *
     * @param state whether the state schema on v2 is to be dropped
     * @param kafkaBootstrap {@code host:port[,...]} when the Kafka topics and groups are to be deleted, else null
     * @param timeout how long to wait for Kafka at each step
     * @throws UnreachableException if one of them does not answer
     */
    public static Cleanup open(Spec spec, boolean state, String kafkaBootstrap, Duration timeout) {
        Connection v1 = null;
        Connection v2 = null;
        try {
            var source = spec.source();
            v1 = Connections.open(UnreachableException.What.SOURCE, source.url(), source.user(), source.password(),
                    APPLICATION);
            if (state) {
                var target = spec.target();
                v2 = Connections.open(UnreachableException.What.TARGET, target.url(), target.user(), target.password(),
                        APPLICATION);
            }
            Admin admin = kafkaBootstrap == null ? null : admin(spec, kafkaBootstrap, timeout);
            return new Cleanup(spec, timeout, v1, v2, admin);
        } catch (RuntimeException e) {
            closeQuietly(v1);
            closeQuietly(v2);
            throw e;
        }
    }

    private static Admin admin(Spec spec, String bootstrap, Duration timeout) {
        try {
            return KafkaClients.connectedAdmin(spec, bootstrap, Map.of(
                    AdminClientConfig.CLIENT_ID_CONFIG, APPLICATION,
                    AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis(),
                    AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()), timeout);
        } catch (KafkaUnreachableException e) {
            throw new UnreachableException(UnreachableException.What.KAFKA, e.getMessage(), e);
        }
    }

    // ---- plan --------------------------------------------------------------------------------------------------

    /** Reads what exists and what stops a cleanup; changes nothing. */
    public Plan plan() throws SQLException {
        List<Item> items = new ArrayList<>();
        List<String> refusals = new ArrayList<>();
        List<String> leftAlone = new ArrayList<>();
        String name = names.slot();

        String database = currentDatabase(v1);
        Optional<SlotHealth> slot = SlotHealth.query(v1, name);
        if (slot.isPresent()) {
            SlotHealth s = slot.get();
            if (!s.isCaptureSlotOn(database)) {
                leftAlone.add("replication slot " + name + " on v1 is a " + s.type() + " slot"
                        + (s.plugin() == null ? "" : " of plugin " + s.plugin())
                        + (s.database() == null ? "" : " on database " + s.database())
                        + ", not capture's (logical, pgoutput, on " + database + "): not dropped");
            } else {
                if (s.active()) {
                    refusals.add("replication slot " + name + " on v1 is active (PID " + s.activePid() + "): the "
                            + "pipeline (migrator run) or another client still reads it. Stop it, then run cleanup "
                            + "again (a client that died releases the slot within wal_sender_timeout)");
                }
                items.add(new Item(Kind.SLOT, name, s.describe()));
            }
        }
        Optional<String> publication = publication(name);
        if (publication.isPresent() && marked(v1, Marks.Subject.publication(name), leftAlone)) {
            items.add(new Item(Kind.PUBLICATION, name, publication.get()));
        }
        String schema = spec.source().schema();
        String heartbeat = names.heartbeatTable();
        Optional<Catalog.Relation> heartbeatRelation = Catalog.relation(v1, schema, heartbeat);
        if (heartbeatRelation.isPresent()) {
            String qualified = quoteIfNeeded(schema) + "." + quoteIfNeeded(heartbeat);
            if (!heartbeatRelation.get().isTable()) {
                leftAlone.add(qualified + " on v1 is a " + heartbeatRelation.get().kindName() + ", not capture's "
                        + "heartbeat table: not dropped");
            } else if (marked(v1, Marks.Subject.table("v1", schema, heartbeat), leftAlone)) {
                items.add(new Item(Kind.HEARTBEAT_TABLE, qualified, ""));
            }
        }
        if (admin != null) {
            planKafka(items, refusals, leftAlone);
        }
        if (v2 != null) {
            planState(items, refusals, leftAlone);
        }
        return new Plan(items, refusals, leftAlone, slot);
    }

    private static String currentDatabase(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_database()")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The publication's tables in words, if it exists. */
    private Optional<String> publication(String name) throws SQLException {
        try (PreparedStatement ps = v1.prepareStatement("""
                SELECT p.puballtables,
                       array(SELECT t.schemaname || '.' || t.tablename FROM pg_publication_tables t
                             WHERE t.pubname = p.pubname ORDER BY 1)
                FROM pg_publication p WHERE p.pubname = ?""")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                if (rs.getBoolean(1)) {
                    return Optional.of("FOR ALL TABLES");
                }
                List<String> tables = strings(rs.getArray(2));
                return Optional.of(tables.isEmpty() ? "no tables" : "tables " + String.join(", ", tables));
            }
        }
    }

    private void planKafka(List<Item> items, List<String> refusals, List<String> leftAlone) {
        Set<String> exact = new HashSet<>();
        exact.addAll(names.allRaw(spec));
        exact.addAll(names.allV2(spec));
        exact.addAll(names.allLookups(spec));
        exact.add(names.heartbeat());
        exact.add(names.deadLetters());
        exact.add(names.replayOutcomes());
        exact.add(names.captureOffsets());
        String internal = names.transformApplicationId() + "-";
        String rawPrefix = names.rawPrefix() + ".";
        String v2Prefix = spec.kafka().topicPrefix() + ".v2.";
        String lookupPrefix = spec.kafka().topicPrefix() + ".lookups.";

        Set<String> topics = kafka("list the topics", admin.listTopics(new ListTopicsOptions().listInternal(false)
                .timeoutMs((int) timeout.toMillis())).names());
        for (String topic : new TreeSet<>(topics)) {
            if (exact.contains(topic) || topic.startsWith(internal)) {
                items.add(new Item(Kind.TOPIC, topic, ""));
            } else if (topic.startsWith(rawPrefix) || topic.startsWith(v2Prefix) || topic.startsWith(lookupPrefix)) {
                leftAlone.add("topic " + topic + " is not a topic of the spec's tables: not deleted (delete it by hand "
                        + "if it is left from an earlier spec)");
            }
        }

        Set<String> ours = Set.of(names.sinkGroup(), names.transformApplicationId());
        Map<String, GroupListing> groups = new TreeMap<>();
        for (GroupListing g : kafka("list the consumer groups",
                admin.listGroups(new ListGroupsOptions().timeoutMs((int) timeout.toMillis())).all())) {
            if (ours.contains(g.groupId())) {
                groups.put(g.groupId(), g);
            }
        }
        for (GroupListing g : groups.values()) {
            Optional<GroupState> state = g.groupState();
            if (state.isPresent() && state.get() == GroupState.DEAD) {
                continue;
            }
            if (state.isPresent() && state.get() != GroupState.EMPTY) {
                refusals.add("consumer group " + g.groupId() + " has members (state " + state.get() + "): the pipeline "
                        + "(migrator run) is still running. Stop it, then run cleanup again");
            }
            String type = g.type().map(t -> t == GroupType.STREAMS ? STREAMS_GROUP : "").orElse("");
            items.add(new Item(Kind.GROUP, g.groupId(), type));
        }
    }

    /**
     * Whether {@code subject} carries this migration's mark ({@link Marks}); if not, says in {@code leftAlone} why it
     * is not dropped.
     */
    private boolean marked(Connection c, Marks.Subject subject, List<String> leftAlone) throws SQLException {
        Optional<Refusal> refusal = Marks.refusal(c, subject, spec.kafka().topicPrefix());
        refusal.ifPresent(r -> leftAlone.add(subject.kind().noun() + " " + subject.shown() + " on " + subject.side()
                + " " + r.reason() + ": not dropped (" + r.fix() + ")"));
        return refusal.isEmpty();
    }

    private void planState(List<Item> items, List<String> refusals, List<String> leftAlone) throws SQLException {
        String state = spec.target().stateSchema();
        try (PreparedStatement ps = v2.prepareStatement("""
                SELECT array(SELECT c.relname FROM pg_class c
                             WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                             ORDER BY 1)
                FROM pg_namespace n WHERE n.nspname = ?""")) {
            ps.setString(1, state);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return;
                }
                if (state.equals(spec.target().schema()) || state.equals("public")) {
                    refusals.add("the state schema " + state + " is " + (state.equals(spec.target().schema())
                            ? "also target.schema, where the v2 tables are" : "public") + ": dropping it with "
                            + "everything in it would drop more than the migrator's state. Leave out --state and drop "
                            + quoteIfNeeded(state) + ".sink_offsets by hand");
                } else if (!marked(v2, Marks.Subject.schema(state), leftAlone)) {
                    return;
                }
                List<String> tables = strings(rs.getArray(1));
                items.add(new Item(Kind.STATE_SCHEMA, state, tables.isEmpty() ? "no tables"
                        : "tables " + String.join(", ", tables)));
            }
        }
    }

    // ---- execute -----------------------------------------------------------------------------------------------

    /**
     * Drops every item of {@code plan}, in its order, and reports each one to {@code dropped} as it is gone. Stops at
     * the first failure (what was dropped before stays dropped; running cleanup again continues).
     *
     * @throws IllegalStateException if the plan is refused
     * @throws CleanupFailedException if dropping one fails; the message names it and why
     */
    public void execute(Plan plan, Consumer<Item> dropped) {
        if (plan.refused()) {
            throw new IllegalStateException("cleanup refused: " + String.join("; ", plan.refusals()));
        }
        List<Item> topics = new ArrayList<>();
        for (Item item : plan.items()) {
            switch (item.kind()) {
                case SLOT -> sql(item, v1, "SELECT pg_drop_replication_slot(?)", dropped);
                case PUBLICATION -> sql(item, v1, "DROP PUBLICATION IF EXISTS " + quote(item.name()), dropped);
                case HEARTBEAT_TABLE -> sql(item, v1, "DROP TABLE IF EXISTS " + quote(spec.source().schema()) + "."
                        + quote(names.heartbeatTable()), dropped);
                case TOPIC -> topics.add(item);
                case GROUP -> {
                    deleteTopics(topics, dropped);
                    topics.clear();
                    deleteGroup(item, dropped);
                }
                case STATE_SCHEMA -> {
                    deleteTopics(topics, dropped);
                    topics.clear();
                    sql(item, v2, "DROP SCHEMA IF EXISTS " + quote(item.name()) + " CASCADE", dropped);
                }
            }
        }
        deleteTopics(topics, dropped);
    }

    private void sql(Item item, Connection c, String sql, Consumer<Item> dropped) {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (item.kind() == Kind.SLOT) {
                ps.setString(1, item.name());
            }
            ps.execute();
            dropped.accept(item);
        } catch (SQLException e) {
            if (item.kind() == Kind.SLOT && "42704".equals(e.getSQLState())) {
                return; // dropped meanwhile
            }
            String why = item.kind() == Kind.SLOT && "55006".equals(e.getSQLState())
                    ? ": it became active, so the pipeline runs again. Stop it, then run cleanup again"
                    : "42501".equals(e.getSQLState()) ? "; it needs its owner (or a superuser) to drop it" : "";
            throw new CleanupFailedException("could not drop " + item.what() + ": " + Connections.describe(e) + why, e);
        }
    }

    private void deleteTopics(List<Item> topics, Consumer<Item> dropped) {
        if (topics.isEmpty()) {
            return;
        }
        Map<String, Item> byName = new LinkedHashMap<>();
        topics.forEach(t -> byName.put(t.name(), t));
        Map<String, KafkaFuture<Void>> results = admin.deleteTopics(byName.keySet()).topicNameValues();
        List<String> deleted = new ArrayList<>();
        for (String topic : byName.keySet()) {
            try {
                results.get(topic).get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
                deleted.add(topic);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw new CleanupFailedException("could not delete topic " + topic + ": "
                            + e.getCause().getMessage(), e.getCause());
                }
            } catch (TimeoutException e) {
                throw new CleanupFailedException("Kafka did not confirm deleting topic " + topic + " within "
                        + timeout.toSeconds() + " s", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CleanupFailedException("interrupted while deleting topics", e);
            }
        }
        awaitGone(deleted);
        deleted.forEach(t -> dropped.accept(byName.get(t)));
    }

    /** Waits (at most the timeout) until the brokers no longer list the deleted topics, so a rerun does not see them. */
    private void awaitGone(List<String> deleted) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<String> listed = kafka("list the topics", admin.listTopics(new ListTopicsOptions()
                    .timeoutMs((int) timeout.toMillis())).names());
            if (deleted.stream().noneMatch(listed::contains) || System.nanoTime() > deadline) {
                return;
            }
            try {
                Thread.sleep(TOPIC_GONE_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void deleteGroup(Item item, Consumer<Item> dropped) {
        KafkaFuture<Void> result = item.detail().equals(STREAMS_GROUP)
                ? admin.deleteStreamsGroups(List.of(item.name())).all()
                : admin.deleteConsumerGroups(List.of(item.name())).all();
        try {
            result.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            dropped.accept(item);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return; // gone meanwhile
            }
            String why = e.getCause() instanceof GroupNotEmptyException
                    ? ": it has members again, so the pipeline runs. Stop it, then run cleanup again" : "";
            throw new CleanupFailedException("could not delete " + item.what() + ": " + e.getCause().getMessage() + why,
                    e.getCause());
        } catch (TimeoutException e) {
            throw new CleanupFailedException("Kafka did not confirm deleting " + item.what() + " within "
                    + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CleanupFailedException("interrupted while deleting " + item.what(), e);
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private <T> T kafka(String what, KafkaFuture<T> future) {
        try {
            return future.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Kafka: could not " + what + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka: could not " + what + " within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while trying to " + what, e);
        }
    }

    private static List<String> strings(Array array) throws SQLException {
        return array == null ? List.of() : Arrays.asList((String[]) array.getArray());
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                // nothing to do about it
            }
        }
    }

    @Override
    public void close() {
        closeQuietly(v1);
        closeQuietly(v2);
        if (admin != null) {
            admin.close(timeout);
        }
    }
}
