package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cutover.CopiedColumns;
import dev.cdcmigrator.transform.Reversal;
import java.nio.file.Path;
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

    /**
     * The migration's spec, read from {@code file} and resolved against v1 and v2 ({@link CopiedColumns#resolve}:
     * {@code otherTables}, {@code copy: all}). Every command reads its spec here or through {@link #load}, so that
     * all of them see the same tables, and no topic or table is derived from what the file lists alone; only
     * {@code check} hands the file's spec to {@code Preflight}, which resolves it the same way and shows what that made.
     *
     * @throws SpecException naming the file and the YAML path
     * @throws dev.cdcmigrator.pg.UnreachableException when a database the resolution reads does not answer
     */
    static Spec resolved(Path file) {
        Spec parsed = new SpecParser().parse(file);
        try {
            return CopiedColumns.resolve(parsed).spec();
        } catch (SpecException e) {
            throw e.in(file.toString());
        }
    }

    /** The spec the command works on: {@code forward}, resolved ({@link #resolved}), itself or its way back. */
    Spec of(Spec forward) {
        return reverse ? Reversal.inverse(forward) : forward;
    }

    /** The spec in {@code file} ({@link #resolved}), in this direction ({@link #of}). */
    Spec load(Path file) {
        return of(resolved(file));
    }
}
