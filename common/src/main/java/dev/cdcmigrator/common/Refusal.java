package dev.cdcmigrator.common;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Why a stage will not start on what it found, and what fixes it. Each stage finds its refusals with one piece of
 * code that both the stage (at start) and {@code migrator check} call, so that {@code check} refuses everything
 * {@code run} would.
 *
 * @param subject what is wrong: {@code v1 <schema>.<table>}, {@code v2 <schema>.<table>}, {@code source},
 *     {@code target} or {@code spec <yaml path>}
 * @param reason what was found and why the stage cannot work with it
 * @param fix what the operator can do
 */
public record Refusal(String subject, String reason, String fix) {

    public Refusal {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(fix, "fix");
    }

    /**
     * Throws when there is a refusal.
     *
     * @param stage the stage that refuses, e.g. {@code capture}
     * @throws IllegalStateException naming every refusal, each with its fix
     */
    public static void throwIfAny(String stage, List<Refusal> refusals) {
        if (!refusals.isEmpty()) {
            throw new IllegalStateException(stage + " refuses to start: " + refusals.stream().map(Refusal::toString)
                    .collect(Collectors.joining("; and ")));
        }
    }

    @Override
    public String toString() {
        return subject + ": " + reason + "; fix: " + fix;
    }
}
