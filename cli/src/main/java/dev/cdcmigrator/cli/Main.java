package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.SpecException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code migrator} command. */
@Command(name = "migrator", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Streams every committed change of a PostgreSQL v1 schema through Kafka into a v2 schema.",
        subcommands = {DemoCommand.class, RunCommand.class, StageCommands.CaptureCommand.class,
                StageCommands.TransformCommand.class, StageCommands.SinkCommand.class, VerifyCommand.class, DlqCommand.class, CheckCommand.class, StatusCommand.class,
                CutoverCommand.class, CleanupCommand.class})
public final class Main {

    /** Runs the command line on standard output and error and returns the exit code. */
    public static int execute(String... args) {
        return execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the command line writing to {@code out} and {@code err} and returns the exit code. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main()).setOut(out).setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("migrator: " + e.getMessage());
            return e instanceof SpecException ? ExitCodes.USAGE : ExitCodes.FAILED;
        });
        return cli.execute(args);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}
