package dev.cdcmigrator.transform;

import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.transform.internal.MapProcessor;
import dev.cdcmigrator.transform.internal.TableMapping;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The transform as a Kafka Streams topology, a pure function of the spec: per mapped v1 table a source
 * {@code raw-<v1 table>} on its raw topic and a processor {@code map-<v1 table>} with its store
 * {@code images-<v1 table>} (per v1 row the position of the last applied change and the full image after it,
 * persistent and changelogged; replayed changes are dropped against it); per v2 table a sink
 * {@code v2-<v2 table>}; and the sink {@code dead-letters}.
 */
public final class TransformTopology {

    /** Name of the sink node writing the dead-letter topic. */
    public static final String DEAD_LETTERS = "dead-letters";

    private TransformTopology() {
    }

    /**
     * Compiles every mapping of the spec (expressions, functions, keys) without building a topology.
     *
     * @throws dev.cdcmigrator.common.spec.SpecException naming the YAML path of the first problem
     */
    public static void validate(Spec spec) {
        compile(spec);
    }

    /** Builds the topology for {@code spec}; {@code registry} receives the transform's meters. */
    public static Topology build(Spec spec, MeterRegistry registry) {
        Topics topics = new Topics(spec);
        Map<String, TableMapping> mappings = compile(spec);
        Topology topology = new Topology();
        ByteArrayDeserializer in = new ByteArrayDeserializer();
        ByteArraySerializer out = new ByteArraySerializer();

        Map<String, Set<String>> v2SinkParents = new TreeMap<>();
        for (Map.Entry<String, TableMapping> table : mappings.entrySet()) {
            String v1 = table.getKey();
            String processor = "map-" + v1;
            String store = "images-" + v1;
            topology.addSource("raw-" + v1, in, in, topics.raw(v1));
            topology.addProcessor(processor,
                    () -> new MapProcessor(spec.source().schema(), v1, table.getValue(), store, v2 -> "v2-" + v2, DEAD_LETTERS, registry),
                    "raw-" + v1);
            topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store),
                    Serdes.Bytes(), Serdes.ByteArray()), processor);
            table.getValue().v2Tables().forEach(v2 -> v2SinkParents.computeIfAbsent(v2, k -> new LinkedHashSet<>()).add(processor));
        }
        v2SinkParents.forEach((v2, parents) -> topology.addSink("v2-" + v2, topics.v2(v2), out, out, parents.toArray(String[]::new)));
        topology.addSink(DEAD_LETTERS, topics.deadLetters(), out, out,
                mappings.keySet().stream().map(v1 -> "map-" + v1).toArray(String[]::new));
        return topology;
    }

    // Sorted by v1 table, so that YAML order changes neither the topology nor its node and store names.
    private static Map<String, TableMapping> compile(Spec spec) {
        Map<String, TableMapping> mappings = new LinkedHashMap<>();
        new TreeMap<>(spec.tables()).forEach((v1, table) -> mappings.put(v1, new TableMapping(v1, table)));
        return mappings;
    }
}
