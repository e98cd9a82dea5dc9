package dev.cdcmigrator.common.spec;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * The Kafka cluster and how topics are named.
 *
 * @param bootstrap {@code embedded} for the in-process broker, or {@code host:port[,host:port...]}
 * @param topicPrefix prefix of every topic, consumer group and the replication slot; default {@code migrator}
 * @param partitions partitions of the topics the migrator creates; default 3
 * @param replicationFactor replication factor of the topics the migrator creates; default 1
 * @param client settings for every Kafka client of the migrator (TLS, SASL: {@code security.protocol}, ...)
 * @param producer settings for its producers (capture's, the sink's dead letters)
 * @param consumer settings for its consumers (the sink)
 * @param streams settings for the transform's Kafka Streams application
 * @param v2Format how the transform writes the v2 topics: {@link V2Format#JSON} (default) or {@link V2Format#AVRO}
 * @param schemaRegistry the registry of Avro v2 topics: required with {@code v2Format: avro}; with {@code json} the
 *                       sink still uses it to read Avro records already in the v2 topics (a format switched mid-way)
 * @param deadLetterRetention how long the dead-letter topic keeps a letter, ISO-8601 ({@code P30D}): letters hold
 *                            row images, which a privacy policy may bound; null (the default) keeps them until
 *                            {@code migrator cleanup}, as every other topic of the migration is kept
 */
public record KafkaSpec(String bootstrap, String topicPrefix, Integer partitions, Short replicationFactor,
                        Map<String, Object> client, Map<String, Object> producer, Map<String, Object> consumer,
                        Map<String, Object> streams, V2Format v2Format, SchemaRegistrySpec schemaRegistry,
                        String deadLetterRetention) {

    public static final String EMBEDDED = "embedded";

    // Lower case only: the prefix also names the replication slot, which PostgreSQL restricts to [a-z0-9_].
    private static final Pattern PREFIX = Pattern.compile("[a-z][a-z0-9_]{0,39}");

    static final KafkaSpec DEFAULT = new KafkaSpec(null, null, null, null, null, null, null, null, null, null, null);

    public KafkaSpec {
        bootstrap = bootstrap == null ? EMBEDDED : Identifiers.requireText(bootstrap, "bootstrap");
        topicPrefix = topicPrefix == null ? "migrator" : topicPrefix;
        if (!PREFIX.matcher(topicPrefix).matches()) {
            throw new IllegalArgumentException("topicPrefix '" + topicPrefix
                    + "' must be 1-40 characters of a-z, 0-9 and _, starting with a letter (it also names the replication slot)");
        }
        partitions = partitions == null ? 3 : partitions;
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be at least 1, was " + partitions);
        }
        replicationFactor = replicationFactor == null ? 1 : replicationFactor;
        if (replicationFactor < 1) {
            throw new IllegalArgumentException("replicationFactor must be at least 1, was " + replicationFactor);
        }
        client = Settings.of(client, "client");
        producer = Settings.of(producer, "producer");
        consumer = Settings.of(consumer, "consumer");
        streams = Settings.of(streams, "streams");
        v2Format = v2Format == null ? V2Format.JSON : v2Format;
        if (v2Format == V2Format.AVRO && schemaRegistry == null) {
            throw new IllegalArgumentException("v2Format avro needs schemaRegistry: { url: ... } (where the v2 topics' Avro schemas are registered)");
        }
        if (deadLetterRetention != null) {
            java.time.Duration retention;
            try {
                retention = java.time.Duration.parse(deadLetterRetention);
            } catch (java.time.format.DateTimeParseException e) {
                throw new IllegalArgumentException("deadLetterRetention '" + deadLetterRetention + "' is not an ISO-8601"
                        + " duration (for example P30D or PT12H)");
            }
            if (retention.isNegative() || retention.toMillis() < 1) {
                throw new IllegalArgumentException("deadLetterRetention must be positive (for example P30D), was " + deadLetterRetention);
            }
        }
    }

    /** {@link #deadLetterRetention()} as a duration; empty when letters are kept until cleanup. */
    public java.util.Optional<java.time.Duration> deadLetterRetentionDuration() {
        return java.util.Optional.ofNullable(deadLetterRetention).map(java.time.Duration::parse);
    }

    /** Kafka without pass-through settings. */
    public KafkaSpec(String bootstrap, String topicPrefix, Integer partitions, Short replicationFactor) {
        this(bootstrap, topicPrefix, partitions, replicationFactor, null, null, null, null, null, null, null);
    }

    /** Whether the in-process broker is meant. */
    public boolean embedded() {
        return EMBEDDED.equals(bootstrap);
    }
}
