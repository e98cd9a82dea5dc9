package dev.cdcmigrator.common;

import dev.cdcmigrator.common.spec.Spec;
import java.util.HashMap;
import java.util.Map;

/**
 * The properties every Kafka client of the migrator starts from: the bootstrap servers and the spec's
 * {@code kafka.client} settings (TLS, SASL), plus the settings of the client's kind. A client's own settings go first
 * and these on top, so the spec has the last word.
 */
public final class KafkaClients {

    private KafkaClients() {
    }

    /** For an admin client, or any client without settings of its own kind. */
    public static Map<String, Object> common(Spec spec, String bootstrap) {
        Map<String, Object> props = new HashMap<>(spec.kafka().client());
        props.put("bootstrap.servers", bootstrap);
        return props;
    }

    /** The spec's settings for producers (without bootstrap: for stages that take overrides). */
    public static Map<String, Object> producerOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().producer());
    }

    /** The spec's settings for consumers. */
    public static Map<String, Object> consumerOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().consumer());
    }

    /** The spec's settings for the transform's Kafka Streams application. */
    public static Map<String, Object> streamsOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().streams());
    }

    /** The spec's settings for Debezium: its Kafka offset store takes the client settings too. */
    public static Map<String, String> debeziumOverrides(Spec spec) {
        Map<String, String> props = new HashMap<>();
        merged(spec.kafka().client(), spec.debezium()).forEach((k, v) -> props.put(k, v == null ? null : v.toString()));
        return props;
    }

    private static Map<String, Object> merged(Map<String, Object> first, Map<String, Object> then) {
        Map<String, Object> props = new HashMap<>(first);
        props.putAll(then);
        return props;
    }
}
