package dev.cdcmigrator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The benchmark of issue 9, in one run: PostgreSQL's native logical replication as the reference, then the pipeline
 * on the same data and load, then the JMH benchmark of the transform hot path; the report goes to stdout (and is
 * appended to {@code --report}), progress to stderr, the pipeline's log to a file in the work dir.
 */
public final class Benchmark {

    private Benchmark() {
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(Arrays.asList(args));
        } catch (Options.UsageException e) {
            if (e.getMessage() != null) {
                System.err.println("bench: " + e.getMessage());
            }
            System.err.print(Options.USAGE);
            System.exit(e.getMessage() == null ? 0 : 2);
            return;
        } catch (RuntimeException e) {
            System.err.println("bench: " + e.getMessage());
            System.err.print(Options.USAGE);
            System.exit(2);
            return;
        }
        Path work = o.workDir() != null ? Files.createDirectories(o.workDir()) : Files.createTempDirectory("cdc-migrator-bench-");
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "dev/cdcmigrator/bench/logback-bench.xml");
        }
        System.setProperty("bench.log", work.resolve("bench.log").toString());
        // Logging starts now, so that no later first use re-creates the log file in a deleted work dir.
        org.slf4j.LoggerFactory.getLogger(Benchmark.class).info("benchmark {}", o);
        ZonedDateTime started = ZonedDateTime.now(ZoneOffset.UTC);
        long startedNanos = System.nanoTime();
        Progress.say("bench: work dir %s (pipeline log: bench.log there)", work);

        JvmStats jvm = new JvmStats();
        NativeRun.Result nat = null;
        PipelineRun.Result pipe = null;
        JmhRun.Result jmh = null;
        try (Sampler sampler = new Sampler(jvm)) {
            if (o.runNative()) {
                nat = NativeRun.run(o, work, sampler);
            }
            if (o.runPipeline()) {
                pipe = PipelineRun.run(o, work, sampler, jvm);
            }
        } finally {
            if (!o.keep() && o.workDir() == null) {
                // The JFR files and the log are only kept with --keep.
                deleteQuietly(work);
            }
        }
        if (o.runJmh()) {
            boolean keepJmh = o.keep() || o.workDir() != null;
            Path jmhDir = keepJmh ? work : Files.createTempDirectory("cdc-migrator-jmh-");
            try {
                jmh = JmhRun.run(jmhDir);
            } finally {
                if (!keepJmh) {
                    deleteQuietly(jmhDir);
                }
            }
        }
        double wall = (System.nanoTime() - startedNanos) / 1e9;
        String report = Report.render(o, started, wall, nat, pipe, jmh);
        System.out.print(report);
        System.out.flush();
        if (o.report() != null) {
            Files.writeString(o.report(), "\n" + report, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Progress.say("bench: report appended to %s", o.report());
        }
        // Kafka, Debezium and JDBC may leave non-daemon threads behind.
        System.exit(0);
    }

    static void deleteQuietly(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp directory
        }
    }
}
