package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import java.nio.file.Path;
import dev.cdcmigrator.cutover.CopiedColumns;
import dev.cdcmigrator.transform.Reversal;
import picocli.CommandLine.Option;

/**
 * {@code --reverse}: a command works on the way back of the spec's migration ({@link Reversal}: v2 to v1, under the
 * prefix {@code <prefix>_reverse}) instead of the migration itself. Mixed into every command the rollback path of the
 * runbook uses.
 */
final class Direction {

    @Option(names = "--reverse", description = "Work on the way back: v2's changes carried into v1 through the spec read"
            + " backwards (docs/runbook.md, Rolling back).")
    boolean reverse;

    /** The default {@code --data-dir} of a run of {@code spec}: the way back keeps its own, next to the migration's. */
    static Path defaultDataDir(Spec spec) {
        return Path.of(spec.kafka().topicPrefix().endsWith(Topics.REVERSE_SUFFIX) ? ".migrator-reverse" : ".migrator");
    }

    /** {@code given}, unless the command line left {@code --data-dir} out: then {@link #defaultDataDir}. */
    static Path dataDir(Spec spec, Path given, picocli.CommandLine commandLine) {
        return commandLine.getParseResult().hasMatchedOption("--data-dir") ? given : defaultDataDir(spec);
    }

    /** The spec the command works on: {@code forward} itself, or its way back (with {@code copy: all} resolved). */
    Spec of(Spec forward) {
        return reverse ? Reversal.inverse(CopiedColumns.resolve(forward).spec()) : forward;
    }
}
