package dev.cdcmigrator.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/**
 * The outcome of running the {@code migrator} command line in-process, as the tests read it.
 *
 * @param exit the exit code
 * @param out what it printed on standard output
 * @param err what it printed on standard error
 */
record CliRun(int exit, String out, String err) {

    /** Runs {@code migrator args...} with captured output. */
    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new CliRun(exit, out.toString(), err.toString());
    }

    /** Standard output, line by line. */
    List<String> lines() {
        return out.lines().toList();
    }

    @Override
    public String toString() {
        return "exit " + exit + "; output:\n" + out + "\nerrors:\n" + err;
    }
}
