package dev.cdcmigrator.common.spec;

import java.util.List;
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
 * @param tables mapped v1 tables by v1 table name (unqualified, in {@code source.schema}); may be empty with
 *               {@code otherTables}
 * @param debezium Debezium connector and engine settings that replace the migrator's (e.g. {@code snapshot.fetch.size})
 * @param tenancy settings for the tables' isolation dimensions
 * @param backfill how the rows already in v1 reach v2
 * @param otherTables what to do with the v1 tables {@code tables} does not list; null: nothing. While it is set, the
 *                    spec is not resolved yet: {@link #tables()} refuses, and {@link #withOtherTables} gives the spec
 *                    every stage works from
 */
public record Spec(int version, SourceSpec source, TargetSpec target, KafkaSpec kafka, Map<String, TableSpec> tables,
                   Map<String, Object> debezium, TenancySpec tenancy, BackfillSpec backfill, OtherTables otherTables) {

    public static final int CURRENT_VERSION = 1;

    public Spec {
        if (version != CURRENT_VERSION) {
            throw new IllegalArgumentException("unsupported spec version " + version + " (expected " + CURRENT_VERSION + ")");
        }
        Objects.requireNonNull(source, "source is required");
        Objects.requireNonNull(target, "target is required");
        kafka = kafka == null ? KafkaSpec.DEFAULT : kafka;
        tables = tables == null ? Map.of() : tables;
        if (tables.isEmpty() && otherTables == null) {
            throw new IllegalArgumentException("tables is required and must map at least one v1 table (or set otherTables: copy)");
        }
        tables.keySet().forEach(name -> Identifiers.requireValid(name, "a v1 table name"));
        tables = Map.copyOf(tables);
        debezium = Settings.of(debezium, "debezium");
        tenancy = tenancy == null ? TenancySpec.DEFAULT : tenancy;
        backfill = backfill == null ? BackfillSpec.DEFAULT : backfill;
        requireDistinctTopics("v1 tables", tables.keySet());
        requireDistinctTopics("v2 tables", tables.entrySet().stream()
                .flatMap(t -> t.getValue().v2Tables(t.getKey()).stream()).collect(java.util.stream.Collectors.toSet()));
        for (Map.Entry<String, TableSpec> table : tables.entrySet()) {
            for (DimensionSpec dimension : table.getValue().dimensions().values()) {
                if (dimension.lookup() != null && dimension.lookup().table().equals(table.getKey())) {
                    throw new IllegalArgumentException("table " + table.getKey() + " looks up a dimension in itself; use from or expr");
                }
            }
        }
    }

    // Topics.topicPart appends 32 bits of a digest: two names meeting there are unlikely, but would share a topic.
    private static void requireDistinctTopics(String what, java.util.Collection<String> names) {
        Map<String, String> byPart = new java.util.HashMap<>();
        for (String name : new java.util.TreeSet<>(names)) {
            String other = byPart.putIfAbsent(dev.cdcmigrator.common.Topics.topicPart(name), name);
            if (other != null) {
                throw new IllegalArgumentException(what + " '" + other + "' and '" + name + "' would share the topic name "
                        + dev.cdcmigrator.common.Topics.topicPart(name) + "; rename one of them");
            }
        }
    }

    /** A spec without Debezium, tenancy or backfill settings. */
    public Spec(int version, SourceSpec source, TargetSpec target, KafkaSpec kafka, Map<String, TableSpec> tables) {
        this(version, source, target, kafka, tables, null, null, null, null);
    }

    /** A spec that maps exactly the tables it lists. */
    public Spec(int version, SourceSpec source, TargetSpec target, KafkaSpec kafka, Map<String, TableSpec> tables,
                Map<String, Object> debezium, TenancySpec tenancy, BackfillSpec backfill) {
        this(version, source, target, kafka, tables, debezium, tenancy, backfill, null);
    }

    /**
     * The mapped v1 tables.
     *
     * @throws IllegalStateException while {@code otherTables} is not resolved ({@link #withOtherTables}): a stage
     *                               that went on with the listed tables only would leave the others out, unseen
     */
    @Override
    public Map<String, TableSpec> tables() {
        if (otherTables != null) {
            throw new IllegalStateException("a spec with otherTables is used before the tables it maps were read from v1"
                    + " and v2 (CopiedColumns.resolve)");
        }
        return tables;
    }

    /** The tables the spec lists itself: with {@code otherTables} not resolved, not the others it maps. */
    public Map<String, TableSpec> listedTables() {
        return tables;
    }

    /**
     * This spec with {@code otherTables} resolved: each of {@code others} (v1 tables it does not list) mapped as
     * {@code { copy: all }}, into the v2 table of its name, and {@code otherTables} no longer set.
     *
     * @throws IllegalArgumentException if one of {@code others} is listed already
     */
    public Spec withOtherTables(java.util.Collection<String> others) {
        Map<String, TableSpec> all = new java.util.LinkedHashMap<>(tables);
        for (String table : others) {
            if (all.putIfAbsent(table, new TableSpec(null, null, null, null, null, null, null, MappingSpec.Copy.ALL)) != null) {
                throw new IllegalArgumentException("table " + table + " is listed; otherTables maps only the others");
            }
        }
        return new Spec(version, source, target, kafka, all, debezium, tenancy, backfill, null);
    }

    /** The v1 tables with a {@code copy: all} not resolved yet ({@link #withCopiedColumns}), sorted. */
    public java.util.SortedSet<String> copyingTables() {
        java.util.SortedSet<String> copying = new java.util.TreeSet<>();
        tables.forEach((name, table) -> {
            if (table.copies()) {
                copying.add(name);
            }
        });
        return copying;
    }

    /**
     * This spec with every {@code copy: all} replaced by the columns it copies ({@link TableSpec#withCopiedColumns}),
     * so that every stage works from named columns only.
     *
     * @param v1Columns per table of {@link #copyingTables()}, its v1 columns in their order
     * @param skipped per table, v1 columns a copy must not take; may lack a table
     */
    public Spec withCopiedColumns(Map<String, List<String>> v1Columns, Map<String, java.util.Set<String>> skipped) {
        Map<String, TableSpec> resolved = new java.util.LinkedHashMap<>();
        tables.forEach((name, table) -> resolved.put(name, !table.copies() ? table
                : table.withCopiedColumns(v1Columns.get(name), skipped.getOrDefault(name, java.util.Set.of()))));
        return new Spec(version, source, target, kafka, resolved, debezium, tenancy, backfill, otherTables);
    }

    /**
     * The v1 tables capture reads: the mapped tables and the lookup tables of their dimensions, sorted.
     */
    public java.util.SortedSet<String> capturedTables() {
        java.util.SortedSet<String> captured = new java.util.TreeSet<>(tables().keySet());
        captured.addAll(lookupTables().keySet());
        return captured;
    }

    /**
     * Per v2 table (sorted), every column the spec writes into it: those of each mapping into it
     * ({@link TableSpec#writtenColumns}). No stage writes any other column of a v2 table.
     */
    public java.util.SortedMap<String, java.util.SortedSet<String>> v2Columns() {
        java.util.SortedMap<String, java.util.SortedSet<String>> columns = new java.util.TreeMap<>();
        tables().forEach((v1, table) -> table.mappings().forEach(mapping -> columns
                .computeIfAbsent(mapping.v2Table(v1), k -> new java.util.TreeSet<>()).addAll(table.writtenColumns(mapping))));
        return columns;
    }

    /** Per lookup table, the mapped tables whose dimensions look it up (both sorted). */
    public java.util.SortedMap<String, java.util.SortedSet<String>> lookupTables() {
        java.util.SortedMap<String, java.util.SortedSet<String>> lookups = new java.util.TreeMap<>();
        tables.forEach((name, table) -> table.dimensions().values().stream()
                .filter(d -> d.lookup() != null)
                .forEach(d -> lookups.computeIfAbsent(d.lookup().table(), k -> new java.util.TreeSet<>()).add(name)));
        return lookups;
    }
}
