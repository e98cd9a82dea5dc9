package dev.cdcmigrator.cutover;

import java.util.Objects;

/**
 * One result of {@link Preflight#check}: what was checked, how it stands and, unless it is fine, what to do.
 *
 * @param level how it stands
 * @param subject what was checked: {@code kafka}, {@code source}, {@code target}, {@code v1 <schema>.<table>[.<column>]} or
 *     {@code v2 <schema>.<table>[.<column>]}
 * @param message what was found; names the spec path when the spec is involved
 * @param fix what the operator can do about it; empty for {@link Level#OK}
 */
public record Finding(Level level, String subject, String message, String fix) {

    /** How a finding stands. */
    public enum Level {
        /** Fine as it is. */
        OK,
        /** The migration runs, but something may go wrong or cost something; read it. */
        WARNING,
        /** The migration would fail or lose changes; fix it before {@code migrator run}. */
        ERROR
    }

    public Finding {
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(message, "message");
        fix = fix == null ? "" : fix;
    }

    static Finding ok(String subject, String message) {
        return new Finding(Level.OK, subject, message, "");
    }

    static Finding warning(String subject, String message, String fix) {
        return new Finding(Level.WARNING, subject, message, fix);
    }

    static Finding error(String subject, String message, String fix) {
        return new Finding(Level.ERROR, subject, message, fix);
    }

    /** A stage's refusal to start, as an ERROR. */
    static Finding refused(dev.cdcmigrator.common.Refusal refusal) {
        return new Finding(Level.ERROR, refusal.subject(), refusal.reason(), refusal.fix());
    }

    /** One line: {@code LEVEL   subject: message; fix: fix}. */
    @Override
    public String toString() {
        return String.format("%-7s %s: %s%s", level, subject, message, fix.isEmpty() ? "" : "; fix: " + fix);
    }
}
