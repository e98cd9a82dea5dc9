package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.TableComparison;
import dev.cdcmigrator.cutover.Verifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec.Target;

/** {@code migrator verify}: does v2 hold exactly what the spec makes of v1? */
@Command(name = "verify", description = "Compare v2 with v1 seen through the spec, row by row; exit 0 only if they match.")
final class VerifyCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @Override
    public Integer call() throws SQLException {
        Spec parsed = new SpecParser().parse(spec);
        try (Connection v1 = snapshot(parsed.source().url(), parsed.source().user(), parsed.source().password());
             Connection v2 = snapshot(parsed.target().url(), parsed.target().user(), parsed.target().password())) {
            List<TableComparison> results = Verifier.verify(parsed, v1, v2);
            return print(results, command.commandLine().getOut());
        }
    }

    /** Prints one block per table and a summary line; returns the exit code. */
    static int print(List<TableComparison> results, PrintWriter out) {
        long differing = results.stream().filter(r -> !r.matches()).count();
        for (TableComparison r : results) {
            out.printf("%s <- %s: %,d rows in v1, %,d in v2: %s%n", r.v2Table(), r.v1Table(), r.v1Rows(), r.v2Rows(),
                    r.matches() ? "identical" : r.missing().size() + " missing, " + r.extra().size() + " extra, "
                            + r.different().size() + " different (at most " + Verifier.MAX_KEYS_LISTED + " of each listed)");
            if (!r.notCompared().isEmpty()) {
                out.println("  not compared (computed or non-deterministic): " + String.join(", ", r.notCompared()));
            }
            r.missing().forEach(k -> out.println("  missing in v2: " + k));
            r.extra().forEach(k -> out.println("  extra in v2: " + k));
            r.different().forEach(k -> out.println("  different: " + k));
        }
        out.println(differing == 0 ? "verify: every table matches" : "verify: " + differing + " of " + results.size() + " tables differ");
        out.flush();
        return differing == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    /** A read-only connection whose reads all see one snapshot. */
    static Connection snapshot(String url, String user, String password) throws SQLException {
        Connection c = DriverManager.getConnection(url, user, password);
        c.setAutoCommit(false);
        c.setReadOnly(true);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        return c;
    }
}
