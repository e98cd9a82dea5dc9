package dev.cdcmigrator.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * A cheap CPU profile of this JVM with JFR (only jdk.ExecutionSample, every 20 ms per running Java thread): where the
 * pipeline's Java threads spend their CPU, by stage (thread) and by the code on top of the stack.
 */
final class Profile {

    private final Recording recording;
    private final Path file;

    private Profile(Recording recording, Path file) {
        this.recording = recording;
        this.file = file;
    }

    static Profile start(Path file) {
        Recording r = new Recording();
        r.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(20));
        r.setToDisk(true);
        r.start();
        return new Profile(r, file);
    }

    /** Samples by stage, by operation and by leaf method, in percent of all samples. */
    record Summary(long samples, Map<String, Double> byStage, Map<String, Double> byOperation, Map<String, Double> byMethod,
                   Path file) {
    }

    Summary stop() throws IOException {
        recording.stop();
        recording.dump(file);
        recording.close();
        Map<String, Long> stage = new HashMap<>();
        Map<String, Long> area = new HashMap<>();
        Map<String, Long> method = new HashMap<>();
        long total = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample")) {
                continue;
            }
            RecordedStackTrace stack = e.getStackTrace();
            String thread = e.getThread("sampledThread") == null ? "?" : e.getThread("sampledThread").getJavaName();
            if (thread != null && (thread.startsWith(JvmStats.BENCH_THREAD_PREFIX) || thread.equals("main"))) {
                continue;
            }
            total++;
            stage.merge(Stages.of(thread), 1L, Long::sum);
            List<RecordedFrame> frames = stack == null ? List.of() : stack.getFrames();
            if (frames.isEmpty()) {
                area.merge("(no stack)", 1L, Long::sum);
                continue;
            }
            RecordedFrame top = frames.get(0);
            // Hidden classes of lambdas carry an address in their name: one entry per lambda site instead.
            method.merge(top.getMethod().getType().getName().replaceAll("\\$\\$Lambda.*", "\\$\\$Lambda") + "." + top.getMethod().getName(), 1L, Long::sum);
            area.merge(operation(frames), 1L, Long::sum);
        }
        return new Summary(total, percent(stage, total, 10), percent(area, total, 16), percent(method, total, 15), file);
    }

    /**
     * What a sample is doing: the first of these whose frame pattern occurs anywhere in its stack (so the order goes
     * from specific to general), else "other" with the leaf frame's package.
     */
    private static final List<String[]> OPERATIONS = List.of(
            new String[] {"RawSchemas.parse", "transform: parse the Debezium envelope (JSON with schema)"},
            new String[] {"RawChange.parse", "transform: parse the Debezium envelope (JSON with schema)"},
            new String[] {"MapProcessor.keyPayload", "transform: parse the key envelope (JSON)"},
            new String[] {"transform.internal.expr.", "transform: CEL expressions"},
            new String[] {"TableMapping.map", "transform: mapping other than CEL (copies, maps, keys)"},
            new String[] {"StoredImage", "transform: image (de)serialization"},
            new String[] {"RocksDB", "transform: RocksDB image store"},
            new String[] {"MapProcessor.process", "transform: v2 serialization and forwarding"},
            new String[] {"org.apache.kafka.streams", "transform: Kafka Streams runtime (poll, commit, EOS)"},
            new String[] {"JsonConverter.fromConnectData", "capture: Connect JSON converter (envelope with schema)"},
            new String[] {"CommonEventMeter", "capture: Debezium metrics (event summary strings)"},
            new String[] {"MeasurementCollector", "capture: Debezium metrics (event summary strings)"},
            new String[] {"RelationalSnapshotChangeEventSource", "capture: Debezium snapshot (JDBC read, change records)"},
            new String[] {"io.debezium.connector.postgresql.connection", "capture: Debezium streaming (pgoutput decoding, change records)"},
            new String[] {"KafkaHandoff", "capture: hand-off to the producer"},
            new String[] {"io.debezium", "capture: Debezium engine, other"},
            new String[] {"BatchWriter", "sink: JDBC batches (bind, send, wait)"},
            new String[] {"SinkLoop", "sink: decode and reduce v2 changes, offsets"},
            new String[] {"org.apache.kafka.clients.producer", "Kafka producers (batching, compression, send)"},
            new String[] {"org.apache.kafka.clients.consumer", "Kafka consumers (fetch, decompression)"},
            new String[] {"kafka.", "embedded broker"},
            new String[] {"org.apache.kafka.server", "embedded broker"},
            new String[] {"org.apache.kafka.storage", "embedded broker"},
            new String[] {"org.apache.kafka.raft", "embedded broker"},
            new String[] {"org.apache.kafka.coordinator", "embedded broker"},
            new String[] {"org.apache.kafka.network", "embedded broker"});

    private static String operation(List<RecordedFrame> frames) {
        for (String[] op : OPERATIONS) {
            for (RecordedFrame f : frames) {
                String method = f.getMethod().getType().getName() + "." + f.getMethod().getName();
                if (method.contains(op[0])) {
                    return op[1];
                }
            }
        }
        String leaf = frames.get(0).getMethod().getType().getName();
        int dot = leaf.lastIndexOf('.');
        return "other: " + (dot < 0 ? leaf : leaf.substring(0, dot));
    }

    private static Map<String, Double> percent(Map<String, Long> counts, long total, int limit) {
        Map<String, Double> out = new LinkedHashMap<>();
        counts.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .limit(limit)
                .forEach(e -> out.put(e.getKey(), 100.0 * e.getValue() / Math.max(1, total)));
        return out;
    }
}
