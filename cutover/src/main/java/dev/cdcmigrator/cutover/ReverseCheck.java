package dev.cdcmigrator.cutover;

import static dev.cdcmigrator.cutover.Finding.error;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import dev.cdcmigrator.transform.Reversal;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * {@code migrator check --reverse}: whether the way back ({@code migrator run --reverse}, {@link Reversal}) can run,
 * checked before writes flip to v2. Every v1 column the spec carries to v2 without a way back is an ERROR with its
 * YAML path; then the way back's spec gets every check {@link Preflight#check} runs, with v2 as its source and v1 as its
 * target (the subjects say which database they are on).
 */
public final class ReverseCheck {

    private ReverseCheck() {
    }

    /** The findings about the way back of {@code forward}, in {@link Preflight#check}'s form. */
    public static List<Finding> check(Spec forward) {
        CopiedColumns.Resolution resolution;
        Spec resolved;
        Spec inverse = null;
        SpecException refused = null;
        try {
            resolution = CopiedColumns.resolve(forward);
            resolved = resolution.spec();
        } catch (UnreachableException e) {
            String side = e.what() == UnreachableException.What.TARGET ? "target" : "source";
            return List.of(error(side, e.getMessage(), "check " + side + ".url, " + side + ".user and " + side + ".password"));
        }
        try {
            inverse = Reversal.inverse(resolved);
        } catch (SpecException e) {
            // Reversal.findings names every split and merge it refuses, per table; the rest is said once, below.
            refused = e;
        }
        // The way back carries exactly the tables the migration does: the same resolution, shown the same way.
        List<Finding> findings = new ArrayList<>(Preflight.resolutionFindings(forward, resolution));
        try (Connection v1 = Connections.open(UnreachableException.What.SOURCE, resolved.source().url(),
                resolved.source().user(), resolved.source().password(), "migrator-check")) {
            for (String table : new TreeSet<>(resolved.tables().keySet())) {
                Map<String, Boolean> columns = new LinkedHashMap<>();
                Optional<Catalog.Relation> relation = Catalog.relation(v1, resolved.source().schema(), table);
                if (relation.isEmpty()) {
                    continue;
                }
                Catalog.columns(v1, relation.get().oid()).values().stream().filter(c -> !c.generated())
                        .forEach(c -> columns.put(c.name(), c.notNull() && !c.hasDefault()));
                for (Reversal.Finding f : Reversal.findings(resolved, table, columns)) {
                    findings.add(new Finding(f.refused() ? Finding.Level.ERROR : Finding.Level.WARNING,
                            "way back: spec " + f.path(), f.message(), f.fix()));
                }
            }
        } catch (UnreachableException e) {
            return List.of(error("source", e.getMessage(), "check source.url, source.user and source.password"));
        } catch (SQLException e) {
            findings.add(error("source", "cannot read the v1 tables' columns: " + Connections.describe(e),
                    "grant the source user access to the catalog"));
        }
        if (refused != null) {
            String subject = "way back: spec " + refused.path();
            if (findings.stream().noneMatch(f -> f.level() == Finding.Level.ERROR && f.subject().equals(subject))) {
                findings.add(error(subject, refused.reason(), "keep writes on v1 until the way back takes it"));
            }
            return findings;
        }
        Preflight.check(inverse).forEach(f -> findings.add(new Finding(f.level(), onTheWayBack(f.subject()), f.message(), f.fix())));
        return findings;
    }

    /** A subject of the way back's own checks, named by the database it is on. */
    private static String onTheWayBack(String subject) {
        if (subject.startsWith("v1 ")) {
            return "way back: v2 " + subject.substring(3);
        }
        if (subject.startsWith("v2 ")) {
            return "way back: v1 " + subject.substring(3);
        }
        return switch (subject) {
            case "source" -> "way back: source (v2)";
            case "target" -> "way back: target (v1)";
            default -> "way back: " + subject;
        };
    }
}
