package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.Finding;
import dev.cdcmigrator.cutover.Preflight;
import dev.cdcmigrator.cutover.ReverseCheck;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec.Target;

/** {@code migrator check}: is everything in place for the spec to run? */
@Command(name = "check", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Check v1, v2 and the spec before a migration: one line per finding, each "
        + "problem with its fix; exit 0 unless there is an ERROR (warnings allowed).")
final class CheckCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @picocli.CommandLine.Mixin
    Direction direction;

    @Override
    public Integer call() {
        Spec parsed = new SpecParser().parse(spec);
        return print(direction.reverse ? ReverseCheck.check(parsed) : Preflight.check(parsed), command.commandLine().getOut());
    }

    /** Prints one line per finding and a summary line; returns the exit code. */
    static int print(List<Finding> findings, PrintWriter out) {
        findings.forEach(out::println);
        long errors = count(findings, Finding.Level.ERROR);
        long warnings = count(findings, Finding.Level.WARNING);
        long ok = count(findings, Finding.Level.OK);
        out.printf("check: %d %s, %d %s, %d ok: %s%n", errors, errors == 1 ? "error" : "errors",
                warnings, warnings == 1 ? "warning" : "warnings", ok,
                errors > 0 ? "fix every ERROR before migrator run" : warnings > 0 ? "ready; read the warnings" : "ready");
        out.flush();
        return errors == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private static long count(List<Finding> findings, Finding.Level level) {
        return findings.stream().filter(f -> f.level() == level).count();
    }
}
