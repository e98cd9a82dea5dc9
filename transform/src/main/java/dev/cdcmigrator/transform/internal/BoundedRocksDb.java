package dev.cdcmigrator.transform.internal;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the transform's RocksDB memory for the whole process, whatever the number of stores. Kafka Streams gives
 * every store of every task its own 50 MB block cache and three 16 MB memtables by default: the transform has one to
 * four stores per v1 table and task, so a spec of a few tables on a few partitions could take gigabytes off-heap, and
 * more as the images fill. Here every store shares one block cache, and their memtables are charged to it (Kafka
 * Streams' documented bounded-memory setup), so the off-heap use stays near {@link #TOTAL_BYTES}.
 *
 * <p>The transform sets this as {@code rocksdb.config.setter}; the spec's {@code kafka.streams} can name another.
 */
public final class BoundedRocksDb implements RocksDBConfigSetter {

    /** Block cache and memtables of every store together. */
    public static final long TOTAL_BYTES = 128L * 1024 * 1024;
    /** The memtables' share of {@link #TOTAL_BYTES}. */
    static final long MEMTABLE_BYTES = 32L * 1024 * 1024;

    /** Sorted runs that start a compaction (RocksDB's default: 4). */
    static final int COMPACTION_TRIGGER_RUNS = 12;

    private static final Cache CACHE;
    private static final WriteBufferManager WRITE_BUFFERS;

    static {
        RocksDB.loadLibrary();
        // Index and filter blocks go in the cache too (high priority, 10% reserved), so they count against the bound.
        CACHE = new LRUCache(TOTAL_BYTES, -1, false, 0.1);
        WRITE_BUFFERS = new WriteBufferManager(MEMTABLE_BYTES, CACHE);
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(CACHE);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(WRITE_BUFFERS);
        options.setTableFormatConfig(table);
        // Kafka Streams' universal compaction merges as soon as four sorted runs exist. The image store of a copied
        // table is a bulk load of keys written once, flushed in small memtables (the bound above), so with four
        // runs a trigger it rewrote every image several times: 115 of the 623 CPU-s of a 10,000,000-row backfill.
        // Merging a dozen runs at a time took that to 63 (docs/benchmarks.md); point reads consult a bloom filter
        // per run, so they pay little for the extra runs.
        options.setLevel0FileNumCompactionTrigger(COMPACTION_TRIGGER_RUNS);
        options.setLevel0SlowdownWritesTrigger(4 * COMPACTION_TRIGGER_RUNS);
        options.setLevel0StopWritesTrigger(6 * COMPACTION_TRIGGER_RUNS);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and the write buffer manager are shared by every store of the process and outlive each one.
    }

    /** Bytes the stores hold in the shared cache now (blocks and memtables). */
    public static long usage() {
        return CACHE.getUsage();
    }
}
