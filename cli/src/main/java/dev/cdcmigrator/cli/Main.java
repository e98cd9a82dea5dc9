package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.Logging;
import dev.cdcmigrator.common.spec.SpecException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

/** The {@code migrator} command. */
@Command(name = "migrator", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Streams every committed change of a PostgreSQL v1 schema through Kafka into a v2 schema.",
        subcommands = {DemoCommand.class, RunCommand.class, StageCommands.CaptureCommand.class,
                StageCommands.TransformCommand.class, StageCommands.SinkCommand.class, VerifyCommand.class, DlqCommand.class, CheckCommand.class, StatusCommand.class,
                CutoverCommand.class, CleanupCommand.class})
public final class Main {

    /** Where the operator commands log unless told otherwise: their own output is what the operator reads. */
    static final String DEFAULT_LOG_FILE = "migrator.log";

    /** The {@code --log-file} that means standard error, as in most command-line tools (a Job's log is its only one). */
    private static final String STANDARD_ERROR = "-";

    @Option(names = "--log-file", scope = ScopeType.INHERIT, paramLabel = "FILE", defaultValue = "${env:MIGRATOR_LOG_FILE}",
            description = "Write the log to FILE (appending); - for standard error. Default: standard error for run,"
                    + " capture, transform and sink; " + DEFAULT_LOG_FILE + " in the working directory (or the temporary"
                    + " directory) for the other commands (env MIGRATOR_LOG_FILE).")
    Path logFile;

    @Option(names = "--log-format", scope = ScopeType.INHERIT, paramLabel = "FORMAT", defaultValue = "${env:MIGRATOR_LOG_FORMAT:-text}",
            converter = LogFormat.class,
            description = "text (date, level, thread, logger, message) or json (one object per line, logback's JSON"
                    + " encoder) (default: ${DEFAULT-VALUE}; env MIGRATOR_LOG_FORMAT).")
    Logging.Format logFormat;

    /** Runs the command line on standard output and error and returns the exit code. */
    public static int execute(String... args) {
        return execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /**
     * Runs the command line writing to {@code out} and {@code err} and returns the exit code; logging stays as the
     * caller set it up.
     */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        return execute(out, err, false, args);
    }

    private static int execute(PrintWriter out, PrintWriter err, boolean configureLogging, String... args) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main).setOut(out).setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("migrator: " + e.getMessage());
            Logging.file().filter(file -> file.toFile().length() > 0)
                    .ifPresent(file -> commandLine.getErr().println("migrator: the log has more: " + file));
            return e instanceof SpecException ? ExitCodes.USAGE : ExitCodes.FAILED;
        });
        cli.setExecutionStrategy(parseResult -> {
            if (configureLogging) {
                main.configureLogging(parseResult);
            }
            return new CommandLine.RunLast().execute(parseResult);
        });
        return cli.execute(args);
    }

    private void configureLogging(ParseResult parseResult) {
        ParseResult leaf = parseResult;
        while (leaf.subcommand() != null) {
            leaf = leaf.subcommand();
        }
        if (leaf.isUsageHelpRequested() || leaf.isVersionHelpRequested()) {
            return;
        }
        if (logFile != null && !logFile.toString().equals(STANDARD_ERROR)) {
            Logging.toFile(logFile, logFormat);
        } else if (logFile != null || leaf.commandSpec().userObject() instanceof RunCommand) {
            Logging.toStandardError(logFormat);
        } else {
            Path here = Path.of("").toAbsolutePath();
            Path dir = Files.isWritable(here) ? here : Path.of(System.getProperty("java.io.tmpdir"));
            Logging.toFile(dir.resolve(DEFAULT_LOG_FILE), logFormat);
        }
    }

    /** {@code text} or {@code json}, as written in the option and its environment variable, in any case. */
    static final class LogFormat implements CommandLine.ITypeConverter<Logging.Format> {
        @Override
        public Logging.Format convert(String value) {
            try {
                return Logging.Format.valueOf(value.toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("expected text or json, was '" + value + "'");
            }
        }
    }

    public static void main(String[] args) {
        // An explicit logback configuration (-Dlogback.configurationFile) is the operator's: it stays.
        boolean configureLogging = System.getProperty("logback.configurationFile") == null;
        System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), configureLogging, args));
    }
}
