package dev.cdcmigrator.cli;

/**
 * The exit codes of every command, so that a runbook script can tell the outcomes apart (documented in README.md and
 * docs/runbook.md). A stop forced after a signal exits 128 + the signal's number (130, 143), as a shell reports
 * it: {@link dev.cdcmigrator.cli.internal.Shutdown}.
 */
final class ExitCodes {

    /** Done, or stopped cleanly on request. */
    static final int OK = 0;
    /** A stage failed, a check found errors, or a part could not be reached; the message names which. */
    static final int FAILED = 1;
    /** The command line or the spec is wrong; the message names the option or the YAML path. */
    static final int USAGE = 2;
    /** {@code verify} compared every table and found rows that differ, are missing or are extra in v2. */
    static final int DIFFERENCES = 3;
    /** {@code cutover wait} timed out: some stage has not yet reached the v1 position it waited for. */
    static final int NOT_CAUGHT_UP = 4;

    private ExitCodes() {
    }
}
