package dev.cdcmigrator.common;

import dev.cdcmigrator.common.spec.Spec;
import java.util.LinkedHashSet;
import java.util.Set;

/** The names of every topic, consumer group and slot the migrator uses, derived from the spec. */
public final class Topics {

    private final String prefix;
    private final String sourceSchema;

    public Topics(Spec spec) {
        this.prefix = spec.kafka().topicPrefix();
        this.sourceSchema = spec.source().schema();
    }

    /** Appended to a migration's topic prefix to name its way back (the same spec read backwards, v2 to v1). */
    public static final String REVERSE_SUFFIX = "_reverse";

    /**
     * The migration whose sink's writes a capture of {@code spec} must not carry on: the other direction of the same
     * migration ({@code <prefix>_reverse} for a migration, {@code <prefix>} for its way back), which already holds them.
     */
    public static String otherDirection(Spec spec) {
        String prefix = spec.kafka().topicPrefix();
        return prefix.endsWith(REVERSE_SUFFIX) ? prefix.substring(0, prefix.length() - REVERSE_SUFFIX.length())
                : prefix + REVERSE_SUFFIX;
    }

    /** Debezium's {@code topic.prefix}: raw topics are {@code <this>.<schema>.<table>}. */
    public String rawPrefix() {
        return prefix + ".raw";
    }

    /** The raw change topic of a v1 table (Debezium envelope, key = v1 primary key). */
    public String raw(String v1Table) {
        return rawPrefix() + "." + sourceSchema + "." + v1Table;
    }

    /** The change topic of a v2 table (v2 row image, key = v2 key). */
    public String v2(String v2Table) {
        return prefix + ".v2." + v2Table;
    }

    /** The dead-letter topic of every stage. */
    public String deadLetters() {
        return prefix + ".dlq";
    }

    /** Where the stages report what became of each replayed dead letter ({@code ReplayOutcome}). */
    public String replayOutcomes() {
        return prefix + ".replays";
    }

    /** Where capture's Debezium offsets live. */
    public String captureOffsets() {
        return prefix + ".capture.offsets";
    }

    /** The Kafka Streams application id of the transform (prefix of its internal topics). */
    public String transformApplicationId() {
        return prefix + "-transform";
    }

    /** The consumer group of the sink. */
    public String sinkGroup() {
        return prefix + "-sink";
    }

    /** The replication slot and publication name on v1. */
    public String slot() {
        return prefix;
    }

    /**
     * The v1 table capture keeps for heartbeats: Debezium updates it periodically (so that an idle v1 still moves the
     * slot) and {@code cutover wait} commits a marker into it. Unqualified, in the source schema.
     */
    public String heartbeatTable() {
        return prefix + "_heartbeat";
    }

    /** The raw topic of {@link #heartbeatTable()}. */
    public String heartbeat() {
        return raw(heartbeatTable());
    }

    /** Every raw topic of the spec's captured tables (mapped and lookup tables). */
    public Set<String> allRaw(Spec spec) {
        Set<String> topics = new LinkedHashSet<>();
        spec.capturedTables().forEach(t -> topics.add(raw(t)));
        return topics;
    }

    /**
     * The topic carrying, to every partition, the changes of the lookup tables a v1 table's dimensions use. It has the
     * partitions of the table's raw topic, so that each transform task keeps the lookup rows next to the rows it maps.
     */
    public String lookups(String v1Table) {
        return prefix + ".lookups." + v1Table;
    }

    /** Every lookup topic of the spec. */
    public Set<String> allLookups(Spec spec) {
        Set<String> topics = new java.util.TreeSet<>();
        spec.lookupTables().values().forEach(dependents -> dependents.forEach(t -> topics.add(lookups(t))));
        return topics;
    }

    /**
     * The topics {@code migrator dlq replay} may send a dead letter's record to: the raw topic of each mapped v1 table
     * (the transform's input) and the v2 topic of each v2 table (the sink's). A letter naming any other topic is
     * refused: whoever can write to the dead-letter topic must not reach other topics through a replay.
     */
    public Set<String> replayTargets(Spec spec) {
        Set<String> topics = new LinkedHashSet<>();
        new java.util.TreeSet<>(spec.tables().keySet()).forEach(t -> topics.add(raw(t)));
        topics.addAll(allV2(spec));
        return topics;
    }

    /** Every v2 topic of the spec. */
    public Set<String> allV2(Spec spec) {
        Set<String> topics = new LinkedHashSet<>();
        spec.tables().forEach((v1, table) -> table.v2Tables(v1).forEach(v2 -> topics.add(v2(v2))));
        return topics;
    }
}
