package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.Status;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec.Target;

/** {@code migrator status}: one screen with where every stage stands. */
@Command(name = "status", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, description = {
    "Where the migration stands, per table, and whether the cutover can go ahead.",
    "Shows the changes the transform and the sink have not processed yet (and the age of the oldest), approximate",
    "rows in v1 and v2 (backfill progress), the replication slot on v1 and dead letters. Changes behind are counted in Kafka offsets, as consumer lag is: they include",
    "the transform's transaction markers, so a small number may remain until the next change; 0 means caught up."})
final class StatusCommand implements Callable<Integer> {

    private static final int BAR = 20;

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @picocli.CommandLine.Mixin
    Direction direction;

    @picocli.CommandLine.Mixin
    KafkaAddress kafkaAddress;

    @Option(names = "--json", description = "Print the report as one JSON object (for scripts).")
    boolean json;

    @Option(names = "--watch", paramLabel = "SECONDS", arity = "0..1", fallbackValue = "5",
            description = "Refresh every SECONDS (default 5) until interrupted.")
    Integer watchSeconds;

    @Override
    public Integer call() throws Exception {
        Spec parsed = direction.load(spec);
        String kafka = kafkaAddress.resolve(parsed, command.commandLine());
        PrintWriter out = command.commandLine().getOut();
        Status.Report previous = null;
        do {
            Status.Report report = Status.read(parsed, kafka);
            if (json) {
                out.println(Json.MAPPER.writeValueAsString(report));
            } else {
                if (watchSeconds != null) {
                    out.print("\033[H\033[2J");
                }
                print(report, previous, out);
            }
            out.flush();
            previous = report;
            if (watchSeconds != null) {
                Thread.sleep(watchSeconds * 1000L);
            }
        } while (watchSeconds != null);
        return ExitCodes.OK;
    }

    static void print(Status.Report report, Status.Report previous, PrintWriter out) {
        out.printf("migrator status  %s  %s%n", report.topicPrefix(), report.at());
        out.println(report.slot() == null ? "slot: none on v1" : "slot " + report.slot().name() + ": " + report.slot().describe());
        out.printf("%-20s %-20s %22s %22s  %s%n", "v1 table", "v2 table", "transform behind", "sink behind", "v2 rows / v1 rows (approx.)");
        for (Status.Mapping m : report.mappings()) {
            out.printf("%-20s %-20s %22s %22s  %s%n", m.v1Table(), m.v2Table(), lag(m.transform()), lag(m.sink()), progress(m));
        }
        List<Status.Mapping> derived = report.mappings().stream().filter(Status.Mapping::derivedTopics).toList();
        if (!derived.isEmpty()) {
            // The table columns above show names as PostgreSQL has them; Kafka tools show these.
            out.println("topics of names Kafka does not take as they are:");
            for (Status.Mapping m : derived) {
                out.printf("  %s -> %s, %s -> %s%n", m.v1Table(), m.rawTopic(), m.v2Table(), m.v2Topic());
            }
        }
        if (previous != null) {
            double seconds = (report.at().toEpochMilli() - previous.at().toEpochMilli()) / 1000.0;
            out.printf("throughput: %.0f changes/s applied to v2%n", (report.sinkPosition() - previous.sinkPosition()) / Math.max(seconds, 0.001));
        }
        out.println("dead letters: " + report.deadLetters());
        out.println("cutover: " + report.readiness());
    }

    private static String lag(Status.Lag lag) {
        return String.format("%,d (%.1f s)", lag.records(), lag.seconds());
    }

    private static String progress(Status.Mapping m) {
        if (m.v1Rows() < 0 || m.v2Rows() < 0) {
            return "?";
        }
        double done = m.v1Rows() == 0 ? 1 : Math.min(1, (double) m.v2Rows() / m.v1Rows());
        int filled = (int) Math.round(done * BAR);
        return String.format("%,d / %,d [%s%s] %3.0f%%", m.v2Rows(), m.v1Rows(), "#".repeat(filled), ".".repeat(BAR - filled), done * 100);
    }
}
