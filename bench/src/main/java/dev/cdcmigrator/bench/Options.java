package dev.cdcmigrator.bench;

import java.nio.file.Path;
import java.util.List;

/** The command line of {@link Benchmark}. */
record Options(long rows, int loadSeconds, int clients, int warmupSeconds, int ratedSeconds, int ratedRate,
               long markerIntervalMillis,
               int catchUpTimeoutSeconds, int backfillTimeoutSeconds, boolean runNative, boolean runPipeline,
               boolean runJmh, boolean profile, Path report, Path workDir, boolean keep, String command,
               String loadAverageAtStart, String backfillMode, int streamThreads) {

    static final String USAGE = """
            Usage: bench/run [options]
              --rows N               v1 tasks rows loaded before replication starts (default 1000000)
              --load-seconds S       seconds of the full-speed pgbench mix (default 60)
              --clients C            pgbench clients (default 4)
              --warmup-seconds S     seconds at the rated rate right after the initial copy, reported on their own
                                     rows and not in the rated phase's figures (the JIT compiles the streaming
                                     paths then), 0 to skip (default 10)
              --rated-seconds S      seconds of the rate-limited phase before the full-speed one, 0 to skip (default 20)
              --rated-rate R         its rate in changes/s (default 1000)
              --marker-interval-ms M a marker row every M ms during the load (default 1000)
              --catchup-timeout S    give up waiting for the target after S s past the load's end (default 300)
              --backfill-timeout S   give up waiting for the initial copy after S s (default 900)
              --backfill MODE        the spec's backfill.mode: copy (default) or debezium
              --stream-threads N     the transform's num.stream.threads (default 1; the raw topics have 3 partitions)
              --no-native | --no-pipeline | --no-jmh   leave a part out
              --jmh                  only the JMH benchmark of the transform hot path
              --no-profile           no JFR sampling of the pipeline JVM
              --report FILE          append the report (markdown) to FILE as well as printing it
              --work-dir DIR         where the clusters and the broker live (default: a new temp dir, deleted after)
              --keep                 keep the work dir
            """;

    static Options parse(List<String> args) {
        long rows = 1_000_000;
        int load = 60;
        int clients = 4;
        int warmup = 10;
        int rated = 20;
        int rate = 1000;
        long marker = 1000;
        int catchUp = 300;
        int backfill = 900;
        boolean nat = true;
        boolean pipe = true;
        boolean jmh = true;
        boolean profile = true;
        Path report = null;
        Path work = null;
        boolean keep = false;
        String command = null;
        String backfillMode = "copy";
        int streamThreads = 1;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "--rows" -> rows = Long.parseLong(args.get(++i).replace("_", "").replace(",", ""));
                case "--load-seconds" -> load = Integer.parseInt(args.get(++i));
                case "--clients" -> clients = Integer.parseInt(args.get(++i));
                case "--warmup-seconds" -> warmup = Integer.parseInt(args.get(++i));
                case "--rated-seconds" -> rated = Integer.parseInt(args.get(++i));
                case "--rated-rate" -> rate = Integer.parseInt(args.get(++i));
                case "--marker-interval-ms" -> marker = Long.parseLong(args.get(++i));
                case "--catchup-timeout" -> catchUp = Integer.parseInt(args.get(++i));
                case "--backfill-timeout" -> backfill = Integer.parseInt(args.get(++i));
                case "--backfill" -> backfillMode = args.get(++i);
                case "--stream-threads" -> streamThreads = Integer.parseInt(args.get(++i));
                case "--no-native" -> nat = false;
                case "--no-pipeline" -> pipe = false;
                case "--no-jmh" -> jmh = false;
                case "--jmh" -> {
                    nat = false;
                    pipe = false;
                    jmh = true;
                }
                case "--no-profile" -> profile = false;
                case "--report" -> report = Path.of(args.get(++i));
                case "--work-dir" -> work = Path.of(args.get(++i));
                case "--keep" -> keep = true;
                case "--command" -> command = args.get(++i);
                case "-h", "--help" -> throw new UsageException(null);
                default -> throw new UsageException("unknown option " + a);
            }
        }
        if (rows < 1 || load < 1 || clients < 1 || warmup < 0 || rated < 0 || rate < 1 || marker < 10 || streamThreads < 1) {
            throw new UsageException("--rows, --load-seconds, --clients, --rated-rate, --stream-threads must be positive, --warmup-seconds and "
                    + "--rated-seconds not negative, --marker-interval-ms at least 10");
        }
        if (command == null) {
            command = "java dev.cdcmigrator.bench.Benchmark " + String.join(" ", args);
        }
        return new Options(rows, load, clients, warmup, rated, rate, marker, catchUp, backfill, nat, pipe, jmh, profile, report,
                work, keep, command, Report.loadAverage(), backfillMode, streamThreads);
    }

    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
