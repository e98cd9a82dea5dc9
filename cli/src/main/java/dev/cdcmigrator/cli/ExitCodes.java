package dev.cdcmigrator.cli;

/** The exit codes of every command (documented in README.md). */
final class ExitCodes {

    /** Done, or stopped on request. */
    static final int OK = 0;
    /** A stage failed at run time; the message names the stage. */
    static final int FAILED = 1;
    /** The command line or the spec is wrong; the message names the option or the YAML path. */
    static final int USAGE = 2;

    private ExitCodes() {
    }
}
