package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.Cleanup;
import dev.cdcmigrator.cutover.Cleanup.Kind;
import dev.cdcmigrator.cutover.Cleanup.Plan;
import dev.cdcmigrator.pg.UnreachableException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec.Target;

/** {@code migrator cleanup}: drop the slot, publication and heartbeat table, and on request the Kafka and state leftovers. */
@Command(name = "cleanup", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {
            "Drop what the migration left behind, after the cutover or when abandoning it: on v1 the replication slot "
                + "and the publication named kafka.topicPrefix and capture's heartbeat table <prefix>_heartbeat; with "
                + "--kafka the migrator's topics and consumer groups; with --state the sink's state schema on v2.",
            "",
            "A dry run unless --yes is given: it lists what would be dropped and drops nothing. Dropping the slot loses "
                + "capture's position for good (a new capture starts over with a snapshot). A slot left behind makes v1 "
                + "keep every WAL segment from its position on, until the disk is full: the listing shows how much WAL "
                + "it holds.",
            "",
            "Refuses, dropping nothing, while the pipeline runs (the slot is active, or a consumer group has members). "
                + "Running it again is safe: what is gone is not listed again.",
            "",
            "Exit 0 when done, when there is nothing left, or for a dry run that --yes would carry out; 1 when refused, "
                + "when v1 or v2 cannot be reached or a drop fails; 2 when the command line or the spec is wrong, or "
                + "Kafka cannot be reached for --kafka.",
            ""})
final class CleanupCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @picocli.CommandLine.Mixin
    Direction direction;

    @Option(names = "--kafka", description = "Also delete the migrator's topics (raw, v2, heartbeat, dead letters, capture offsets, "
            + "the transform's internal <prefix>-transform-* topics) and consumer groups (<prefix>-sink, <prefix>-transform).")
    boolean kafka;

    @Option(names = "--state", description = "Also drop the sink's state schema on v2 (target.stateSchema) with "
            + "everything in it.")
    boolean state;

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT",
            description = "With --kafka: the Kafka to use instead of the spec's kafka.bootstrap; required when that is "
                + "`embedded`.")
    String bootstrap;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "15",
            description = "With --kafka: give up when Kafka does not answer within this time (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--yes", description = "Drop for real. Without it, only list what would be dropped.")
    boolean yes;

    @Override
    public Integer call() throws SQLException {
        if (timeoutSeconds < 1) {
            throw new ParameterException(command.commandLine(), "--timeout must be at least 1 second, was " + timeoutSeconds);
        }
        if (bootstrap != null && !kafka) {
            throw new ParameterException(command.commandLine(), "--bootstrap is only used with --kafka; add --kafka to "
                    + "delete the topics and consumer groups, or leave out --bootstrap");
        }
        Spec parsed = direction.load(spec);
        String servers = kafka ? kafkaServers(parsed) : null;
        PrintWriter out = command.commandLine().getOut();
        PrintWriter err = command.commandLine().getErr();
        String prefix = parsed.kafka().topicPrefix();

        try (Cleanup cleanup = Cleanup.open(parsed, state, servers, Duration.ofSeconds(timeoutSeconds))) {
            Plan plan = cleanup.plan();
            List<String> notes = new ArrayList<>();
            plan.leftAlone().forEach(n -> notes.add("left alone: " + n));
            notes.addAll(notChecked(parsed));
            if (plan.refused()) {
                plan.items().forEach(i -> out.println(i.wouldDrop()));
                notes.forEach(out::println);
                out.flush();
                plan.refusals().forEach(r -> err.println("cleanup refused: " + r));
                err.println("cleanup: nothing was dropped");
                err.flush();
                return ExitCodes.FAILED;
            }
            if (plan.items().isEmpty()) {
                notes.forEach(out::println);
                out.println("cleanup: nothing left to drop for kafka.topicPrefix " + prefix);
                out.flush();
                return ExitCodes.OK;
            }
            if (!yes) {
                plan.items().forEach(i -> out.println(i.wouldDrop()));
                notes.forEach(out::println);
                boolean slot = plan.items().stream().anyMatch(i -> i.kind() == Kind.SLOT);
                out.println("cleanup: dry run, nothing was dropped; run again with --yes to drop "
                        + (plan.items().size() == 1 ? "it" : "these " + plan.items().size())
                        + (slot ? " (the replication slot cannot be brought back: a new capture starts over with a "
                            + "snapshot)" : ""));
                out.flush();
                return ExitCodes.OK;
            }
            int[] dropped = new int[1];
            try {
                cleanup.execute(plan, item -> {
                    dropped[0]++;
                    out.println(item.dropped());
                    out.flush();
                });
            } catch (Cleanup.CleanupFailedException e) {
                out.flush();
                err.println("cleanup: stopped: " + e.getMessage() + ". What is listed above was dropped; run cleanup "
                        + "again once this is fixed");
                err.flush();
                return ExitCodes.FAILED;
            }
            notes.forEach(out::println);
            out.println(dropped[0] == 0 ? "cleanup: nothing left to drop for kafka.topicPrefix " + prefix
                    : "cleanup: dropped " + (dropped[0] == 1 ? "1 object" : dropped[0] + " objects"));
            out.flush();
            return ExitCodes.OK;
        } catch (UnreachableException e) {
            err.println("migrator cleanup: " + e.getMessage()
                    + (e.what() == UnreachableException.What.KAFKA ? "; pass --bootstrap with a reachable broker, or leave "
                        + "out --kafka" : "") + "; nothing was dropped");
            err.flush();
            return e.what() == UnreachableException.What.KAFKA ? ExitCodes.USAGE : ExitCodes.FAILED;
        }
    }

    /** The Kafka to delete topics and groups in: --bootstrap, or the spec's cluster. */
    private String kafkaServers(Spec parsed) {
        if (bootstrap != null) {
            return bootstrap;
        }
        if (parsed.kafka().embedded()) {
            throw new ParameterException(command.commandLine(), "--kafka needs a Kafka cluster, but the spec says "
                    + "kafka.bootstrap: embedded: its topics live in the data directory of `migrator run` (--data-dir, "
                    + "default ./.migrator) and go away with it. Leave out --kafka and delete that directory once the "
                    + "pipeline is stopped for good, or pass --bootstrap HOST:PORT of a broker that holds them.");
        }
        return parsed.kafka().bootstrap();
    }

    /** What this run did not look at, and the option that would. */
    private List<String> notChecked(Spec parsed) {
        List<String> parts = new ArrayList<>();
        if (!kafka) {
            parts.add("Kafka topics and consumer groups (add --kafka)");
        }
        if (!state) {
            parts.add("the state schema " + parsed.target().stateSchema() + " on v2 (add --state)");
        }
        return parts.isEmpty() ? List.of() : List.of("not checked: " + String.join("; ", parts));
    }
}
