package dev.cdcmigrator.common.spec;

import java.util.Map;
import java.util.Objects;

/**
 * A migration spec: where v1 and v2 live, which Kafka to use, and how each v1 table maps to v2.
 * The YAML format is the public API (docs/spec.md); this record is its in-memory form, validated on construction.
 *
 * @param version the spec format version; only {@value #CURRENT_VERSION} exists
 * @param source the v1 database
 * @param target the v2 database
 * @param kafka the Kafka cluster and topic naming
 * @param tables mapped v1 tables by v1 table name (unqualified, in {@code source.schema})
 * @param debezium Debezium connector and engine settings that replace the migrator's (e.g. {@code snapshot.fetch.size})
 */
public record Spec(int version, SourceSpec source, TargetSpec target, KafkaSpec kafka, Map<String, TableSpec> tables,
                   Map<String, Object> debezium) {

    public static final int CURRENT_VERSION = 1;

    public Spec {
        if (version != CURRENT_VERSION) {
            throw new IllegalArgumentException("unsupported spec version " + version + " (expected " + CURRENT_VERSION + ")");
        }
        Objects.requireNonNull(source, "source is required");
        Objects.requireNonNull(target, "target is required");
        kafka = kafka == null ? KafkaSpec.DEFAULT : kafka;
        if (tables == null || tables.isEmpty()) {
            throw new IllegalArgumentException("tables is required and must map at least one v1 table");
        }
        tables.keySet().forEach(name -> Identifiers.requireValid(name, "a v1 table name"));
        tables = Map.copyOf(tables);
        debezium = Settings.of(debezium, "debezium");
    }

    /** A spec without Debezium settings. */
    public Spec(int version, SourceSpec source, TargetSpec target, KafkaSpec kafka, Map<String, TableSpec> tables) {
        this(version, source, target, kafka, tables, null);
    }
}
