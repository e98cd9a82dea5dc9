package dev.cdcmigrator.bench;

import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs {@link TransformHotPath} (3 x 2 s warm-up, 5 x 2 s measurement, 1 fork, 1 thread). */
final class JmhRun {

    /** Score (ops/s = rows/s on one thread, i.e. per core) and its 99.9% error, by benchmark method. */
    record Result(Map<String, double[]> scores, Path output) {
    }

    private JmhRun() {
    }

    static Result run(Path workDir) throws Exception {
        Path output = workDir.resolve("jmh.txt");
        Progress.say("jmh: TransformHotPath (3 x 2 s warm-up, 5 x 2 s measurement, 1 fork); JMH output in %s", output);
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(TransformHotPath.class.getName() + "\\.")
                .warmupIterations(3).warmupTime(TimeValue.seconds(2))
                .measurementIterations(5).measurementTime(TimeValue.seconds(2))
                .forks(1).threads(1)
                .shouldFailOnError(true)
                .output(output.toString())
                // The forked JVM logs (Kafka Streams warnings) to a file, not into the benchmark's stderr.
                .jvmArgsAppend("-Dlogback.configurationFile=dev/cdcmigrator/bench/logback-bench.xml",
                        "-Dbench.log=" + workDir.resolve("jmh-fork.log"))
                .build()).run();
        Map<String, double[]> scores = new LinkedHashMap<>();
        results.stream()
                .sorted(java.util.Comparator.comparing(r -> r.getParams().getBenchmark()))
                .forEach(r -> {
                    String name = r.getParams().getBenchmark();
                    scores.put(name.substring(name.lastIndexOf('.') + 1), new double[] {
                        r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()});
                });
        scores.forEach((name, s) -> Progress.say("jmh: %s %,.0f ± %,.0f rows/s", name, s[0], s[1]));
        return new Result(scores, output);
    }
}
