package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
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

    /** The spec the command works on: {@code forward} itself, or its way back (with {@code copy: all} resolved). */
    Spec of(Spec forward) {
        return reverse ? Reversal.inverse(CopiedColumns.resolve(forward).spec()) : forward;
    }
}
