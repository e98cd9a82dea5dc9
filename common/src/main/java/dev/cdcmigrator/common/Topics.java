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
        return raw(rawPrefix(), sourceSchema, v1Table);
    }

    /**
     * The raw change topic of {@code schema.table} under Debezium's {@code topic.prefix} {@code rawPrefix}: what
     * capture's topic naming strategy gives Debezium, so that the topic capture writes is the one the transform reads.
     */
    public static String raw(String rawPrefix, String schema, String table) {
        return rawPrefix + "." + topicPart(schema) + "." + topicPart(table);
    }

    /** The change topic of a v2 table (v2 row image, key = v2 key). */
    public String v2(String v2Table) {
        return prefix + ".v2." + topicPart(v2Table);
    }

    /** The v2 table of one of the spec's v2 topics, or empty for any other topic. */
    public java.util.Optional<String> v2Table(Spec spec, String topic) {
        return spec.v2Columns().keySet().stream().filter(table -> v2(table).equals(topic)).findFirst();
    }

    /**
     * {@code name} (a schema or table name) as one part of a topic, consumer group or state store name. A name of
     * ASCII letters, digits and {@code _} only is itself, so such names keep the topics they always had. Any other
     * name keeps those characters, has every other one replaced by {@code _}, and gets {@code -} and the first 8 hex
     * digits of the SHA-256 of its UTF-8 bytes appended: Kafka takes only {@code [A-Za-z0-9._-]}, a {@code .} inside a
     * part would blur where schema and table part, and the digest keeps {@code "Order Lines"} and {@code Order_Lines}
     * (which has no {@code -}, as no name of the first kind has) on different topics. At most 72 characters for a
     * name of at most 63 bytes, so every derived topic stays far below Kafka's 249.
     */
    public static String topicPart(String name) {
        if (PLAIN.matcher(name).matches()) {
            return name;
        }
        StringBuilder part = new StringBuilder(name.length() + 9);
        name.codePoints().forEach(cp -> part.append(cp < 128 && (Character.isLetterOrDigit(cp) || cp == '_') ? (char) cp : '_'));
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return part.append('-').append(java.util.HexFormat.of().formatHex(digest, 0, 4)).toString();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static final java.util.regex.Pattern PLAIN = java.util.regex.Pattern.compile("[A-Za-z0-9_]+");

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
        return prefix + ".lookups." + topicPart(v1Table);
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
