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
 */
public record KafkaSpec(String bootstrap, String topicPrefix, Integer partitions, Short replicationFactor,
                        Map<String, Object> client, Map<String, Object> producer, Map<String, Object> consumer,
                        Map<String, Object> streams, V2Format v2Format, SchemaRegistrySpec schemaRegistry) {

    public static final String EMBEDDED = "embedded";

    // Lower case only: the prefix also names the replication slot, which PostgreSQL restricts to [a-z0-9_].
    private static final Pattern PREFIX = Pattern.compile("[a-z][a-z0-9_]{0,39}");

    static final KafkaSpec DEFAULT = new KafkaSpec(null, null, null, null, null, null, null, null, null, null);

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
    }

    /** Kafka without pass-through settings. */
    public KafkaSpec(String bootstrap, String topicPrefix, Integer partitions, Short replicationFactor) {
        this(bootstrap, topicPrefix, partitions, replicationFactor, null, null, null, null, null, null);
    }

    /** Whether the in-process broker is meant. */
    public boolean embedded() {
        return EMBEDDED.equals(bootstrap);
    }
}
