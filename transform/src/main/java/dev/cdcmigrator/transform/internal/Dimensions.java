package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.DimensionSpec;
import dev.cdcmigrator.common.spec.DimensionSpec.Kind;
import dev.cdcmigrator.common.spec.TableSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The isolation dimensions of one v1 table, compiled: how each v2 dimension column is resolved from the v1 row, from a
 * lookup row, or from a default. Resolution never guesses: a dimension whose lookup row is not known yet makes the
 * row wait; one that resolves to null with no default makes it a dead letter.
 */
final class Dimensions {

    /** A reference to the lookup row a dimension needs: {@code table}'s row whose primary key is {@code key}. */
    record LookupRef(String table, JsonNode key) {

        /** The text identifying the lookup row in stores: table, NUL, the key as JSON. */
        String id() {
            return table + '\u0000' + key;
        }
    }

    /** Reads the lookup rows a task knows. */
    interface LookupRows {
        /** The lookup row's needed columns, {@code null} if the row is unknown or deleted. */
        ObjectNode get(LookupRef ref);
    }

    /**
     * The outcome of resolving a row's dimensions.
     *
     * @param values the dimension columns and values, when every dimension resolved
     * @param waitingFor the lookup rows not known yet (the row must wait), empty otherwise
     * @param unresolved why a dimension has no value and no default (the row is a dead letter), else null
     * @param unresolvedColumn the dimension column at fault, else null
     * @param defaulted the dimension columns that took their default
     */
    record Resolution(ObjectNode values, List<LookupRef> waitingFor, String unresolved, String unresolvedColumn,
                      List<String> defaulted) {

        boolean waiting() {
            return !waitingFor.isEmpty();
        }
    }

    private record Dimension(Kind kind, String column, ColumnMapping direct, DimensionSpec.LookupSpec lookup,
                             ColumnMapping fallback, String path) {
    }

    private static final Dimensions NONE = new Dimensions(List.of());

    private final List<Dimension> dimensions;

    private Dimensions(List<Dimension> dimensions) {
        this.dimensions = dimensions;
    }

    /** Compiles the dimensions of {@code v1Table}; errors name the YAML path. */
    static Dimensions of(String v1Table, TableSpec spec) {
        if (spec == null || spec.dimensions().isEmpty()) {
            return NONE;
        }
        List<Dimension> compiled = new ArrayList<>();
        spec.dimensionsByKind().forEach((kind, d) -> {
            String path = "tables." + v1Table + ".dimensions." + kind.specName();
            String column = d.column(kind);
            String label = v1Table + " dimension " + kind.specName();
            ColumnMapping direct = d.lookup() != null ? null
                    : new ColumnMapping(column, label, new ColumnSpec(d.from(), d.expr(), d.value(), null, null, null, null, null), path);
            ColumnMapping fallback = d.defaultValue() == null ? null
                    : new ColumnMapping(column, label + " default", d.defaultValue().isTextual()
                    ? new ColumnSpec(null, d.defaultValue().asText(), null, null, null, null, null, null)
                    : new ColumnSpec(null, null, d.defaultValue(), null, null, null, null, null), path + ".default");
            compiled.add(new Dimension(kind, column, direct, d.lookup(), fallback, path));
        });
        return new Dimensions(List.copyOf(compiled));
    }

    boolean isEmpty() {
        return dimensions.isEmpty();
    }

    /** The lookup tables these dimensions read, with the columns each needs. */
    Map<String, Set<String>> lookupColumns() {
        Map<String, Set<String>> columns = new LinkedHashMap<>();
        for (Dimension d : dimensions) {
            if (d.lookup() != null) {
                columns.computeIfAbsent(d.lookup().table(), t -> new TreeSet<>()).add(d.lookup().column());
            }
        }
        return columns;
    }

    /** Adds what the dimensions read of the row (a lookup's key, the source, the default), each with its dimension. */
    void collectReads(SpecReads reads) {
        for (Dimension d : dimensions) {
            if (d.lookup() != null) {
                reads.copied(d.lookup().key(), d.path() + ".lookup.key", d.path() + ".lookup.key");
            } else {
                d.direct().collectReads(reads, d.path());
            }
            if (d.fallback() != null) {
                d.fallback().collectReads(reads, d.path() + ".default");
            }
        }
    }

    /** The lookup rows a v1 row refers to (whether known or not); none for a null foreign key. */
    List<LookupRef> refs(ObjectNode wire) {
        List<LookupRef> refs = new ArrayList<>();
        for (Dimension d : dimensions) {
            if (d.lookup() != null) {
                JsonNode key = wire.get(d.lookup().key());
                if (key == null) {
                    throw new MappingException(d.lookup().key(), "v1 column " + d.lookup().key() + " (the lookup key of "
                            + d.path() + ") is not in the row; it has " + Rows.names(wire));
                }
                if (!key.isNull()) {
                    refs.add(new LookupRef(d.lookup().table(), key));
                }
            }
        }
        return refs;
    }

    /**
     * Resolves every dimension of a v1 row.
     *
     * @param wire the row as it travels
     * @param parsed the row with json parsed
     * @param lookups the lookup rows the task knows
     * @param waited whether the row has waited as long as it may: unknown lookup rows then count as unresolved
     */
    Resolution resolve(ObjectNode wire, ObjectNode parsed, LookupRows lookups, boolean waited) {
        ObjectNode values = JsonNodeFactory.instance.objectNode();
        List<LookupRef> waiting = new ArrayList<>();
        List<String> defaulted = new ArrayList<>();
        for (Dimension d : dimensions) {
            JsonNode value;
            String why;
            if (d.direct() != null) {
                value = d.direct().value(wire, parsed);
                why = d.path() + " is null for this row";
            } else {
                JsonNode key = wire.get(d.lookup().key());
                if (key == null || key.isNull()) {
                    value = null;
                    why = "lookup key " + d.lookup().key() + " of " + d.path() + " is null";
                } else {
                    LookupRef ref = new LookupRef(d.lookup().table(), key);
                    ObjectNode row = lookups.get(ref);
                    if (row == null && !waited) {
                        waiting.add(ref);
                        continue;
                    }
                    value = row == null ? null : row.get(d.lookup().column());
                    why = row == null
                            ? "no " + ref.table() + " row with key " + key + " (" + d.lookup().key() + ", for " + d.path() + ") arrived in time"
                            : ref.table() + " row " + key + " has no " + d.lookup().column() + " (for " + d.path() + ")";
                }
            }
            if (value == null || value.isNull()) {
                if (d.fallback() == null) {
                    return new Resolution(null, List.of(), why + " and it has no default", d.column(), List.of());
                }
                value = d.fallback().value(wire, parsed);
                defaulted.add(d.column());
            }
            values.set(d.column(), value);
        }
        return new Resolution(waiting.isEmpty() ? values : null, List.copyOf(waiting), null, null, List.copyOf(defaulted));
    }

    /** The column of the tenant dimension, or null without one. */
    String tenantColumn() {
        return dimensions.stream().filter(d -> d.kind() == Kind.TENANT).map(Dimension::column).findFirst().orElse(null);
    }
}
