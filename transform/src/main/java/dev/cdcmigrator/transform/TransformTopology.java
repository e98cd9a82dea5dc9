package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.transform.internal.MapProcessor;
import dev.cdcmigrator.transform.internal.TableMapping;
import dev.cdcmigrator.transform.internal.expr.TypedRow;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.state.Stores;

/**
 * The transform as a Kafka Streams topology, a pure function of the spec: per captured v1 table a source
 * {@code raw-<v1 table>} on its raw topic and a processor {@code map-<v1 table>} with its store
 * {@code images-<v1 table>} (per v1 row the position of the last applied change and the full image after it,
 * persistent and changelogged; replayed changes are dropped against it) and {@code schemas-<v1 table>} (the Debezium
 * schemas its raw partition carried inline, by id, for the records that name them); per v2 table a sink
 * {@code v2-<v2 table>}; and the sink {@code dead-letters}. A table whose dimensions look up other tables also has the
 * source {@code lookups-<v1 table>} on its lookup topic and the stores {@code lookup-rows-}, {@code lookup-links-} and
 * {@code held-<v1 table>}; a lookup table has a sink {@code lookup-<lookup table>-for-<dependent>} per dependent
 * table, writing to every partition of the dependent's lookup topic; and the sink {@code replay-outcomes}, where a
 * map processor reports what became of each dead letter {@code migrator dlq replay} sent back.
 *
 * <p>The v2 sink nodes write the spec's {@code kafka.v2Format} with the {@link V2Serializers} they are given:
 * {@link V2Serializers#json()} by default; Avro ones need a registry client and the v2 tables' columns, which
 * {@link Transform#start} obtains, so that building stays free of I/O.
 */
public final class TransformTopology {

    /** Name of the sink node writing the dead-letter topic. */
    public static final String DEAD_LETTERS = "dead-letters";
    /** Name of the sink node writing the replay-outcome topic. */
    public static final String REPLAY_OUTCOMES = "replay-outcomes";

    private TransformTopology() {
    }

    /**
     * Compiles every mapping of the spec (expressions, functions, keys) without building a topology.
     *
     * @throws dev.cdcmigrator.common.spec.SpecException naming the YAML path of the first problem
     */
    public static void validate(Spec spec) {
        List<SpecException> problems = problems(spec);
        if (!problems.isEmpty()) {
            throw problems.get(0);
        }
    }

    /**
     * Compiles every mapping of the spec, each v1 table on its own, and returns what {@link #validate} would refuse:
     * the first problem of each table, naming its YAML path; empty when the spec builds.
     */
    public static List<SpecException> problems(Spec spec) {
        List<SpecException> problems = new ArrayList<>();
        for (String v1 : spec.tables().keySet()) {
            try {
                new TableMapping(v1, spec.tables().get(v1));
            } catch (SpecException e) {
                problems.add(e);
            }
        }
        return problems;
    }

    /**
     * One value {@code v1Table}'s mappings write into a v2 column (an {@code expr}, a {@code value}, a {@code default},
     * a {@code map} value or {@code otherwise}; not {@code from} copies, whose type is the v1 column's, nor
     * {@code java} functions), or one {@code where} filter, checked against the v1 table's columns.
     *
     * @param mapping the index of the mapping in {@code v1Table}'s mappings
     * @param path the YAML path of the expression or constant
     * @param v2Column the v2 column it fills; null for a {@code where} filter
     * @param kind the kind of value it writes ({@link ValueKind#ANY} when not known before run time)
     * @param constant the value itself when it is a constant; null for an expression
     * @param problem why the expression fails to type-check, naming {@code path}: a column that does not exist, an
     *                operation the column's type does not have ({@code row.name + 1} on a text column). At run time
     *                the row is untyped, so it would fail on every row.
     */
    public record CheckedValue(int mapping, String path, String v2Column, ValueKind kind, JsonNode constant,
                               Optional<SpecException> problem) {
    }

    /**
     * Every value {@code v1Table}'s mappings write, and every filter, type-checked against the table's actual columns,
     * as {@code migrator check} does before any row flows. Expressions that index the row or use it whole are left to
     * run time.
     *
     * @param columnTypes the v1 table's columns: name to PostgreSQL base type ({@code pg_type.typname})
     */
    public static List<CheckedValue> typeCheck(Spec spec, String v1Table, Map<String, String> columnTypes) {
        TableSpec table = spec.tables().get(v1Table);
        TypedRow row = TypedRow.of(columnTypes);
        List<CheckedValue> checked = new ArrayList<>();
        List<MappingSpec> mappings = table.mappings();
        for (int i = 0; i < mappings.size(); i++) {
            int mapping = i;
            MappingSpec mappingSpec = mappings.get(i);
            String path = table.mappingPath(v1Table, i);
            if (mappingSpec.where() != null) {
                checked.add(checkExpression(row, mapping, path + ".where", null, mappingSpec.where(),
                        "the filter does not type-check against the columns of v1 table " + v1Table));
            }
            mappingSpec.columns().forEach((column, source) -> {
                String columnPath = path + ".columns." + column;
                if (source.map() != null) {
                    // A mapped column writes only the map's values (a default is looked up in the map too).
                    source.map().forEach((from, to) ->
                            checked.add(constant(mapping, columnPath + ".map." + from, column, to)));
                    if (source.otherwise() != null) {
                        checked.add(constant(mapping, columnPath + ".otherwise", column, source.otherwise()));
                    }
                } else {
                    if (source.expr() != null) {
                        checked.add(checkExpression(row, mapping, columnPath + ".expr", column, source.expr(),
                                "the expression does not type-check against the columns of v1 table " + v1Table));
                    } else if (source.value() != null) {
                        checked.add(constant(mapping, columnPath + ".value", column, source.value()));
                    }
                    JsonNode fallback = source.defaultValue();
                    if (fallback != null && fallback.isTextual()) {
                        checked.add(checkExpression(row, mapping, columnPath + ".default", column, fallback.asText(),
                                "the default does not type-check against the columns of v1 table " + v1Table));
                    } else if (fallback != null) {
                        checked.add(constant(mapping, columnPath + ".default", column, fallback));
                    }
                }
            });
        }
        return checked;
    }

    private static CheckedValue checkExpression(TypedRow row, int mapping, String path, String v2Column, String source,
                                                String what) {
        TypedRow.Checked result = row.check(source);
        return new CheckedValue(mapping, path, v2Column, result.result(), null,
                result.problem().map(p -> SpecException.invalid(path, what + ": " + p, null)));
    }

    private static CheckedValue constant(int mapping, String path, String v2Column, JsonNode value) {
        return new CheckedValue(mapping, path, v2Column, ValueKind.of(value), value, Optional.empty());
    }

    /**
     * Builds the topology for a spec whose v2 topics are JSON; {@code registry} receives the transform's meters.
     *
     * @throws IllegalArgumentException if the spec says {@code v2Format: avro}: use {@link #build(Spec, MeterRegistry, V2Serializers)}
     */
    public static Topology build(Spec spec, MeterRegistry registry) {
        return build(spec, registry, V2Serializers.json());
    }

    /**
     * Builds the topology for {@code spec}, its v2 sink nodes writing with {@code serializers}; {@code registry} receives the
     * transform's meters.
     *
     * @throws IllegalArgumentException if {@code serializers} write another format than the spec's {@code kafka.v2Format}
     */
    public static Topology build(Spec spec, MeterRegistry registry, V2Serializers serializers) {
        if (serializers.format() != spec.kafka().v2Format()) {
            throw new IllegalArgumentException("the spec's v2 topics are " + spec.kafka().v2Format().text()
                    + " but the v2 serializers write " + serializers.format().text());
        }
        Topics topics = new Topics(spec);
        Map<String, TableMapping> mappings = compile(spec);
        Topology topology = new Topology();
        ByteArrayDeserializer in = new ByteArrayDeserializer();
        ByteArraySerializer out = new ByteArraySerializer();

        Map<String, Set<String>> v2SinkParents = new TreeMap<>();
        List<String> lookupSinks = new ArrayList<>();
        for (Map.Entry<String, TableMapping> table : mappings.entrySet()) {
            String v1 = table.getKey();
            TableMapping mapping = table.getValue();
            String processor = "map-" + v1;
            boolean readsLookups = !mapping.lookupColumns().isEmpty();
            Map<String, Map.Entry<String, Set<String>>> lookupChildren = new TreeMap<>();
            for (String dependent : spec.lookupTables().getOrDefault(v1, new TreeSet<>())) {
                Set<String> columns = mappings.get(dependent).lookupColumns().get(v1);
                lookupChildren.put(dependent, Map.entry("lookup-" + v1 + "-for-" + dependent, columns));
            }
            // Store names become changelog topic names and directories, which take fewer characters than tables.
            String stored = Topics.topicPart(v1);
            MapProcessor.Wiring wiring = new MapProcessor.Wiring("images-" + stored, "schemas-" + stored,
                    readsLookups ? "lookup-rows-" + stored : null, readsLookups ? "lookup-links-" + stored : null,
                    readsLookups ? "held-" + stored : null, readsLookups ? topics.lookups(v1) : null,
                    v2 -> "v2-" + v2, DEAD_LETTERS, REPLAY_OUTCOMES, lookupChildren);

            topology.addSource("raw-" + v1, in, in, topics.raw(v1));
            List<String> parents = new ArrayList<>(List.of("raw-" + v1));
            if (readsLookups) {
                topology.addSource("lookups-" + v1, in, in, topics.lookups(v1));
                parents.add("lookups-" + v1);
            }
            topology.addProcessor(processor,
                    () -> new MapProcessor(spec.source().schema(), v1, mapping, fingerprint(spec.tables().get(v1)), wiring,
                            spec.tenancy(), registry),
                    parents.toArray(String[]::new));
            List<String> stores = new ArrayList<>(List.of(wiring.images(), wiring.schemas()));
            if (readsLookups) {
                stores.addAll(List.of(wiring.lookupRows(), wiring.links(), wiring.held()));
            }
            for (String store : stores) {
                topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store),
                        Serdes.Bytes(), Serdes.ByteArray()), processor);
            }
            lookupChildren.forEach((dependent, child) -> {
                topology.addSink(child.getKey(), topics.lookups(dependent), out, out, TO_EVERY_PARTITION, processor);
                lookupSinks.add(child.getKey());
            });
            mapping.v2Tables().forEach(v2 -> v2SinkParents.computeIfAbsent(v2, k -> new LinkedHashSet<>()).add(processor));
        }
        v2SinkParents.forEach((table, parents) -> topology.addSink("v2-" + table, topics.v2(table), serializers.key(table),
                serializers.value(table), serializers.partitioner(), parents.toArray(String[]::new)));
        String[] processors = mappings.keySet().stream().map(v1 -> "map-" + v1).toArray(String[]::new);
        topology.addSink(DEAD_LETTERS, topics.deadLetters(), out, out, processors);
        topology.addSink(REPLAY_OUTCOMES, topics.replayOutcomes(), out, out, processors);
        return topology;
    }

    /** Changes whenever the table's spec changes; the same in every JVM (records print every component). */
    private static String fingerprint(TableSpec table) {
        return table == null ? "lookup only" : Integer.toHexString(table.toString().hashCode());
    }

    /**
     * Lookup changes go to every task of the dependent table: each keeps the lookup rows next to the rows it maps, so
     * that resolving a dimension never leaves the task.
     */
    private static final StreamPartitioner<byte[], byte[]> TO_EVERY_PARTITION = (topic, key, value, partitions) ->
            Optional.of(IntStream.range(0, partitions).boxed().collect(Collectors.toSet()));

    // Sorted by v1 table, so that YAML order changes neither the topology nor its node and store names. Lookup
    // tables that are not mapped themselves get a mapping into no v2 table.
    static Map<String, TableMapping> compile(Spec spec) {
        Map<String, TableMapping> mappings = new LinkedHashMap<>();
        for (String v1 : spec.capturedTables()) {
            TableSpec table = spec.tables().get(v1);
            mappings.put(v1, table != null ? new TableMapping(v1, table) : TableMapping.lookupOnly(v1));
        }
        return mappings;
    }
}
