package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.transform.internal.BoundedRocksDb;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;

/** The transform's stores share one bounded RocksDB cache (see {@link BoundedRocksDb}). */
class BoundedRocksDbTest {

    private static final Spec SPEC = new SpecParser(name -> null).parse("""
            version: 1
            source: { url: "jdbc:postgresql://v1/keiko", user: u }
            target: { url: "jdbc:postgresql://v2/keiko", user: u }
            kafka: { topicPrefix: keiko }
            tables:
              users:
                into: accounts
                columns:
                  account_id: { from: id }
                  display_name: { from: name }
            """, "test.yaml");

    @Test
    void theImagesOfEveryStoreAreChargedToTheOneBoundedCache() {
        DebeziumEnvelopes users = new DebeziumEnvelopes("users").column("id", "int64").column("name", "string");
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "bounded-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class);
        long before = BoundedRocksDb.usage();
        try (TopologyTestDriver driver = new TopologyTestDriver(TransformTopology.build(SPEC, new SimpleMeterRegistry()), props)) {
            TestInputTopic<byte[], byte[]> raw = driver.createInputTopic("keiko.raw.public.users", new ByteArraySerializer(), new ByteArraySerializer());
            String name = "x".repeat(1000);
            for (int id = 1; id <= 5_000; id++) {
                Map<String, Object> row = new HashMap<>(Map.of("id", id, "name", name + id));
                raw.pipeInput(users.key("id", id), users.change("c", null, row, 100 + id));
            }
            KeyValueStore<Bytes, byte[]> images = driver.getKeyValueStore("images-users");
            assertThat(images.approximateNumEntries()).as("the images are in RocksDB").isGreaterThanOrEqualTo(5_000);
            // 5 MB of images sit in the store's memtable, which the write buffer manager charges to the shared cache.
            assertThat(BoundedRocksDb.usage()).isGreaterThan(before + 1024 * 1024).isLessThanOrEqualTo(BoundedRocksDb.TOTAL_BYTES);
        }
    }
}
