package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.CaughtUp;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec.Target;

/** {@code migrator cutover wait}: returns only once v2 reflects every v1 commit made before it was called. */
@Command(name = "wait", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, description = {
    "Wait until v2 reflects every v1 commit up to the WAL position taken when the command starts, stage by stage:",
    "capture (a heartbeat marker committed on v1 reaches Kafka), transform (its offsets pass the raw topics' ends),",
    "sink (the offsets stored in v2 pass the v2 topics' ends). Exit 0 when caught up, 4 at the timeout, naming the",
    "stage and partition still behind. v1 may keep receiving writes: later ones are not waited for."})
final class CutoverWaitCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @picocli.CommandLine.Mixin
    KafkaAddress kafkaAddress;

    @picocli.CommandLine.Mixin
    Direction direction;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "PT5M",
            description = "Give up after this long, ISO-8601 (PT30S, PT5M; default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws SQLException {
        Spec parsed = direction.load(spec);
        PrintWriter out = command.commandLine().getOut();
        long started = System.nanoTime();
        CaughtUp protocol = new CaughtUp(parsed, kafkaAddress.resolve(parsed, command.commandLine()));
        String[] position = new String[1];
        try {
            List<CaughtUp.Stage> stages = protocol.await(timeout, lsn -> {
                position[0] = lsn;
                out.printf("cutover wait: v1 WAL position %s; waiting for every commit up to it%n", lsn);
                out.flush();
            }, stage -> {
                out.printf("  %-9s caught up in %6.2f s (%s)%n", stage.name(), stage.took().toNanos() / 1e9, stage.detail());
                out.flush();
            });
            out.printf("caught up: v2 reflects every v1 commit up to %s (%.2f s, %d stages)%n", position[0],
                    (System.nanoTime() - started) / 1e9, stages.size());
            out.flush();
            return ExitCodes.OK;
        } catch (CaughtUp.BehindException e) {
            command.commandLine().getErr().printf("cutover wait: not caught up after %s: %s%n", timeout, e.getMessage());
            command.commandLine().getErr().flush();
            return ExitCodes.NOT_CAUGHT_UP;
        }
    }
}
