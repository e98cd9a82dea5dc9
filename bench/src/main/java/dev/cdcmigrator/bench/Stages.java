package dev.cdcmigrator.bench;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Which part of the pipeline a JVM thread belongs to, by its name. */
final class Stages {

    static final String BENCH = "benchmark (not counted)";
    static final String CAPTURE = "capture (Debezium, its producer, offset store)";
    static final String TRANSFORM = "transform (Kafka Streams)";
    static final String SINK = "sink (consumer, JDBC)";
    static final String BROKER = "embedded Kafka broker";
    static final String OTHER = "other Java threads";
    static final String START = "start-up (Pipeline.start: broker, topics, stages)";
    static final String ROCKSDB = "transform's RocksDB flushes and compactions (native threads)";
    static final String JIT = "JIT compiler threads (while they lived)";
    static final String VM = "VM thread (serial GC) and other VM threads";

    private Stages() {
    }

    static String of(String thread) {
        if (thread == null) {
            return OTHER;
        }
        if (thread.startsWith(JvmStats.NATIVE_PREFIX + "rocksdb:")) {
            return ROCKSDB;
        }
        if (thread.startsWith(JvmStats.NATIVE_PREFIX + "C1 ") || thread.startsWith(JvmStats.NATIVE_PREFIX + "C2 ")) {
            return JIT;
        }
        if (thread.startsWith(JvmStats.NATIVE_PREFIX)) {
            return VM;
        }
        String t = thread.toLowerCase(Locale.ROOT);
        if (t.startsWith(JvmStats.BENCH_THREAD_PREFIX) || t.equals("main")) {
            return BENCH;
        }
        if (t.contains("-transform")) {
            return TRANSFORM;
        }
        if (t.contains("sink")) {
            return SINK;
        }
        if (t.equals("pipeline-start")) {
            return START;
        }
        // pool-N-thread-M: the async Debezium engine's polling and record-processing executors; Thread-N: Debezium's
        // metrics publisher (nothing else in the pipeline starts unnamed threads).
        if (t.contains("capture") || t.contains("debezium") || t.contains("postgres") || t.contains("engine")
                || t.contains("offset") || t.contains("blocking-snapshot") || t.startsWith("pool-") || t.startsWith("thread-")) {
            return CAPTURE;
        }
        if (t.contains("kafka") || t.contains("raft") || t.contains("quorum") || t.contains("broker") || t.contains("controller")
                || t.contains("data-plane") || t.contains("reaper") || t.contains("log") || t.contains("replica")
                || t.contains("group-coordinator") || t.contains("transaction") || t.contains("executor")
                || t.contains("scheduler") || t.contains("metadata") || t.contains("share")) {
            return BROKER;
        }
        return OTHER;
    }

    /** Thread CPU by stage, in seconds. */
    static Map<String, Double> byStage(Map<String, Long> threadNanos) {
        Map<String, Double> out = new TreeMap<>();
        threadNanos.forEach((name, nanos) -> out.merge(of(name), nanos / 1e9, Double::sum));
        return out;
    }
}
