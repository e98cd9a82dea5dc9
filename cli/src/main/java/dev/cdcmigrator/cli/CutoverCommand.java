package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.SequenceSync;
import dev.cdcmigrator.cutover.SequenceSync.Outcome;
import dev.cdcmigrator.cutover.SequenceSync.Result;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import dev.cdcmigrator.sink.TargetConstraints;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec.Target;

/** {@code migrator cutover}: the steps that move the application from v1 to v2. */
@Command(name = "cutover", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        subcommands = {CutoverWaitCommand.class, CutoverCommand.SyncSequencesCommand.class, CutoverCommand.EnforceCommand.class},
        description = {"The steps of the cutover, which moves the application from v1 to v2.", ""})
final class CutoverCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Override
    public Integer call() {
        throw new ParameterException(command.commandLine(), "Missing required subcommand: "
                + String.join(" or ", command.subcommands().keySet().stream().filter(n -> !n.equals("help")).toList()));
    }

    /** {@code migrator cutover sync-sequences}. */
    @Command(name = "sync-sequences", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = {
                "Set every v2 sequence owned by a column of a table the spec maps into (serial, bigserial, identity) "
                    + "past the largest value in that column: setval(sequence, max + margin), so the next value is "
                    + "max + margin + 1.",
                "",
                "Logical replication does not carry sequences: the sink writes every id as v1 had it, and the v2 "
                    + "sequences stay where they were created. Without this step the application's first INSERT into "
                    + "v2 fails with a duplicate key.",
                "",
                "Run it once v2 has caught up, before the application writes to v2; the margin leaves room for the "
                    + "rows the sink still writes until then. A sequence already past max + margin is never moved "
                    + "back; the sequence of an empty table is left as it is; a descending one is reported (WARNING) "
                    + "and left; sequences that no column of a mapped table owns are not looked at.",
                "",
                "One line per sequence: table.column, sequence, max used, next value before -> after (or unchanged), "
                    + "then a summary. Exit 0 when done (warnings included); 1 when v2 cannot be reached or a "
                    + "sequence could not be set.",
                ""})
    static final class SyncSequencesCommand implements Callable<Integer> {

        @picocli.CommandLine.Spec(Target.SELF)
        CommandSpec command;

        @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
        Path spec;

        @picocli.CommandLine.Mixin
        Direction direction;

        @Option(names = "--margin", paramLabel = "N", defaultValue = "" + SequenceSync.DEFAULT_MARGIN,
                description = "Added to the largest value used: room for rows that still arrive between this and the "
                    + "switch of the writes (default: ${DEFAULT-VALUE}).")
        long margin;

        @Option(names = "--dry-run", description = "Print what would be set; change nothing.")
        boolean dryRun;

        @Override
        public Integer call() throws SQLException {
            if (margin < 0) {
                throw new ParameterException(command.commandLine(), "--margin must not be negative, was " + margin);
            }
            Spec parsed = direction.load(spec);
            List<Result> results;
            try {
                results = SequenceSync.sync(parsed, margin, dryRun);
            } catch (UnreachableException e) {
                PrintWriter err = command.commandLine().getErr();
                err.println("migrator cutover sync-sequences: " + e.getMessage() + "; nothing was changed");
                err.flush();
                return ExitCodes.FAILED;
            }
            return print(results, parsed, margin, dryRun, command.commandLine().getOut());
        }

        /** Prints one line per sequence and a summary line; returns the exit code. */
        static int print(List<Result> results, Spec spec, long margin, boolean dryRun, PrintWriter out) {
            results.forEach(out::println);
            long set = count(results, dryRun ? Outcome.WOULD_SET : Outcome.SET);
            long unchanged = count(results, Outcome.AHEAD) + count(results, Outcome.EMPTY);
            long warnings = count(results, Outcome.SKIPPED);
            long errors = count(results, Outcome.FAILED);
            if (results.isEmpty()) {
                out.println("sync-sequences: no sequence is owned by a column of the mapped v2 tables in schema "
                        + spec.target().schema() + "; nothing to do");
            } else {
                out.println("sync-sequences: " + (dryRun ? "dry run, nothing changed: " + set + " would be set" : set + " set")
                        + ", " + unchanged + " unchanged, " + plural(warnings, "warning") + ", " + plural(errors, "error")
                        + " (margin " + margin + ")");
            }
            out.flush();
            return errors == 0 ? ExitCodes.OK : ExitCodes.FAILED;
        }

        private static long count(List<Result> results, Outcome outcome) {
            return results.stream().filter(r -> r.outcome() == outcome).count();
        }

        private static String plural(long n, String noun) {
            return n + " " + noun + (n == 1 ? "" : "s");
        }
    }

    /** {@code migrator cutover enforce}. */
    @Command(name = "enforce", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = {
                "Give v2 back the foreign keys and triggers the migration suspended, and prove them: each foreign key "
                    + "is added back and validated against every row, each trigger enabled as it was.",
                "",
                "While it applies, the migrator writes each v2 table on its own, a child row often before its parent, "
                    + "and v1's rows as they are: so before its first write it records and drops the foreign keys of "
                    + "the mapped v2 tables and disables their triggers (all but those target.triggers names). Run "
                    + "this once caught up (cutover wait) with writes frozen on v1, before the application writes to "
                    + "v2; from then on the migrator suspends nothing again.",
                "",
                "One line per foreign key and trigger, then a summary. A foreign key that does not validate is named "
                    + "with rows that have no parent; it stays NOT VALID (new rows are checked) until you fix those "
                    + "rows and run this again. Exit 0 when every one is back; 1 when one is not, or v2 cannot be "
                    + "reached.",
                ""})
    static final class EnforceCommand implements Callable<Integer> {

        @picocli.CommandLine.Spec(Target.SELF)
        CommandSpec command;

        @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
        Path spec;

        @picocli.CommandLine.Mixin
        Direction direction;

        @Override
        public Integer call() throws SQLException {
            Spec parsed = direction.load(spec);
            List<TargetConstraints.Outcome> outcomes;
            try (Connection v2 = Connections.open(UnreachableException.What.TARGET, parsed.target().url(), parsed.target().user(),
                    parsed.target().password(), "migrator-cutover")) {
                outcomes = TargetConstraints.of(parsed).enforce(v2);
            }
            PrintWriter out = command.commandLine().getOut();
            outcomes.forEach(out::println);
            long failed = outcomes.stream().filter(o -> !o.ok()).count();
            out.println("cutover enforce: " + (outcomes.size() - failed) + " of " + outcomes.size() + " foreign keys and"
                    + " triggers back" + (failed == 0 ? "; v2 is enforced" : ", " + failed + " not: fix what is named above"
                    + " and run it again"));
            out.flush();
            return failed == 0 ? ExitCodes.OK : ExitCodes.FAILED;
        }
    }
}
