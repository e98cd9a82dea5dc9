package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.TableSpec;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every mapping of one v1 table, compiled. Turns a v1 change, together with the last full image of the same v1 row,
 * into the v2 changes it causes: upserts for the mappings the new image matches, and deletes of every v2 row the
 * previous image produced that the new image no longer produces (its key changed, or it stopped matching a filter).
 */
public final class TableMapping {

    private final String v1Table;
    private final List<TargetMapping> targets = new ArrayList<>();
    private final Dimensions dimensions;
    private final boolean appendOnly;

    /** Compiles the spec of {@code v1Table}; errors are SpecExceptions naming the YAML path. */
    public TableMapping(String v1Table, TableSpec spec) {
        this.v1Table = v1Table;
        List<MappingSpec> mappings = spec.mappings();
        for (int i = 0; i < mappings.size(); i++) {
            String path = spec.mappingPath(v1Table, i);
            targets.add(new TargetMapping(v1Table, mappings.get(i), path));
        }
        this.dimensions = Dimensions.of(v1Table, spec);
        this.appendOnly = spec.appendOnly();
    }

    private TableMapping(String v1Table) {
        this.v1Table = v1Table;
        this.dimensions = Dimensions.of(v1Table, null);
        this.appendOnly = false;
    }

    /** Whether the spec declares the table {@code append: true}: an update or delete of it is refused. */
    boolean appendOnly() {
        return appendOnly;
    }

    /** A v1 table captured only as a lookup table of other tables' dimensions: it feeds no v2 table. */
    public static TableMapping lookupOnly(String v1Table) {
        return new TableMapping(v1Table);
    }

    /** The dimensions of this table's rows. */
    Dimensions dimensions() {
        return dimensions;
    }

    /** What the mappings and dimensions of this table read of its rows (the lookup rows they read aside). */
    public SpecReads reads() {
        SpecReads reads = new SpecReads();
        targets.forEach(target -> target.collectReads(reads));
        dimensions.collectReads(reads);
        return reads;
    }

    /**
     * The v1 columns the spec reads by name (copied, in expressions, defaults and filters, as dimensions), each with
     * what needs it first; a {@code java} column or an expression using the row whole may read others besides.
     */
    java.util.Map<String, String> requiredColumns() {
        java.util.Map<String, String> required = new java.util.TreeMap<>();
        reads().reads().forEach(read -> required.putIfAbsent(read.column(), read.neededBy()));
        return required;
    }

    /**
     * Resolves the dimensions of a whole v1 row as the transform does once a row has waited as long as it may: an
     * unknown lookup row counts as unresolved, which takes the dimension's default.
     *
     * @param wire the row
     * @param jsonColumns its json and jsonb columns
     * @param lookups the columns of a lookup row the dimensions read, by lookup table and key; null if there is none
     * @throws MappingException naming the dimension column when one stays unresolved (the pipeline dead-letters the row)
     */
    public ObjectNode resolveDimensions(ObjectNode wire, java.util.Set<String> jsonColumns,
                                        java.util.function.BiFunction<String, JsonNode, ObjectNode> lookups) {
        Dimensions.Resolution resolution = dimensions.resolve(wire, Rows.parsed(wire, jsonColumns),
                ref -> lookups.apply(ref.table(), ref.key()), true);
        if (resolution.unresolved() != null) {
            throw new MappingException(resolution.unresolvedColumn(), resolution.unresolved());
        }
        return resolution.values();
    }

    /** Maps a first sight of a v1 row (nothing known of it before) whose dimensions are resolved. */
    public Result mapFirst(RawChange change, JsonNode v1Key, ObjectNode dimensionValues) {
        return map(change, v1Key, null, JsonNodeFactory.instance.objectNode(), dimensionValues);
    }

    /** The lookup tables this table's dimensions read, with the columns each needs (empty without lookups). */
    public java.util.Map<String, java.util.Set<String>> lookupColumns() {
        return dimensions.lookupColumns();
    }

    /** The v2 tables this table feeds, in spec order (a table fed twice is listed twice). */
    public List<String> v2Tables() {
        return targets.stream().map(TargetMapping::v2Table).toList();
    }

    /**
     * The v2 key columns of each mapping, in spec order: the explicit ones, or the v1 primary key renamed.
     *
     * @param v1Key an object whose field names are the v1 primary key columns (the values do not matter)
     * @throws MappingException when a v1 key column is not mapped and no explicit key is given
     */
    public List<List<String>> keyColumns(JsonNode v1Key) {
        return targets.stream().map(target -> target.keyColumns(v1Key)).toList();
    }

    /** The result of mapping one change: the v2 changes, and the image to keep for the v1 row (null to forget it). */
    public record Result(List<V2Change> changes, ObjectNode image) {
    }

    /**
     * Maps one v1 change of a table without dimensions.
     *
     * @param change the change, with its row images decoded
     * @param v1Key the v1 primary key values
     * @param previous the last full image of this v1 row, or null if none is known
     * @throws MappingException naming the column when the change cannot be mapped; nothing was emitted then
     */
    public Result map(RawChange change, JsonNode v1Key, ObjectNode previous) {
        ObjectNode none = JsonNodeFactory.instance.objectNode();
        return map(change, v1Key, previous, none, none);
    }

    /**
     * Maps one v1 change whose dimensions are resolved.
     *
     * @param change the change, with its row images decoded
     * @param v1Key the v1 primary key values
     * @param previous the last full image of this v1 row applied to v2, or null if none is known
     * @param previousDimensions the dimension values {@code previous} was applied with
     * @param dimensions the dimension values of the new image (ignored for a delete)
     * @throws MappingException naming the column when the change cannot be mapped; nothing was emitted then
     */
    Result map(RawChange change, JsonNode v1Key, ObjectNode previous, ObjectNode previousDimensions, ObjectNode dimensions) {
        Set<String> json = change.jsonColumns();
        ObjectNode previousParsed = previous == null ? null : Rows.parsed(previous, json);
        List<V2Change> out = new ArrayList<>();
        if (change.op() == Op.DELETE) {
            for (TargetMapping target : targets) {
                if (previous != null) {
                    if (target.matches(previousParsed)) {
                        out.add(delete(target, target.key(previous, previousParsed, v1Key, previousDimensions), change));
                    }
                } else {
                    // No image: only the v1 key is trustworthy. Under REPLICA IDENTITY DEFAULT the other columns of
                    // `before` are absent or placeholders, and a key computed from them would delete the wrong row.
                    ObjectNode key = (ObjectNode) v1Key;
                    if (!target.decidedBy(v1Key) || target.matches(Rows.parsed(key, json))) {
                        out.add(delete(target, target.key(key, key, v1Key, previousDimensions), change));
                    }
                }
            }
            return new Result(out, null);
        }
        if (change.after() == null) {
            throw new MappingException(null, "a " + change.op().name().toLowerCase(java.util.Locale.ROOT) + " without a row image");
        }
        ObjectNode image = fillUnchangedToast(change.after(), previous);
        Set<String> unavailable = Rows.unavailableColumns(image);
        requireAvailable(change.op(), image, v1Key, false, Set.of());
        ObjectNode parsed = Rows.parsed(image, json);
        for (TargetMapping target : targets) {
            ObjectNode oldKey = previous != null && target.matches(previousParsed)
                    ? target.key(previous, previousParsed, v1Key, previousDimensions) : null;
            if (target.matches(parsed)) {
                // v2 keeps what it holds of the values nothing knows; only its existing row can be left so.
                List<String> unchanged = unavailable.isEmpty() ? List.of() : target.plainCopies(unavailable);
                ObjectNode row = target.row(image, parsed, dimensions, unchanged);
                ObjectNode key = target.keyOf(row, v1Key);
                if (!unchanged.isEmpty() && previous != null && !key.equals(oldKey)) {
                    throw unavailableValue(target.columns().get(unchanged.get(0)).plainCopyOf(), v1Key,
                            "and its v2 row in " + target.v2Table() + " is a new one (its v2 key changed, or it starts"
                                    + " matching the filter), which needs every value");
                }
                if (oldKey != null && !oldKey.equals(key)) {
                    out.add(delete(target, oldKey, change));
                }
                out.add(new V2Change(change.op(), target.v2Table(), key, row, change.source(), null, unchanged));
            } else if (oldKey != null) {
                out.add(delete(target, oldKey, change));
            } else if (previous == null && change.op() == Op.UPDATE && !target.decidedBy(v1Key)) {
                // Without an image it is unknown whether an earlier version matched; deleting is harmless if not. A
                // filter of key columns only answers for every version: the key of an update does not change.
                out.add(delete(target, target.key(image, parsed, v1Key, dimensions), change));
            }
        }
        return new Result(out, image);
    }

    /**
     * Maps one change of a v1 table without a primary key, which has no identity but its values: an insert or read
     * inserts the v2 rows its image produces; an update or delete carries, per mapping, the v2 row its old image
     * ({@code before}, complete under {@code REPLICA IDENTITY FULL}) produced, so that the sink acts on one v2 row
     * holding exactly those values. An unchanged TOASTed value of the new image is filled from the old image.
     *
     * @throws MappingException when the change cannot be mapped (also an update or delete of an {@code append: true}
     *                          table, or one without its old values); nothing was emitted then
     */
    public List<V2Change> mapKeyless(RawChange change) {
        if (!dimensions.isEmpty()) {
            throw new MappingException(null, "v1 table " + v1Table + " has no primary key, and its rows cannot take"
                    + " isolation dimensions (tenancy) yet: give it a primary key or drop its dimensions");
        }
        String what = change.op() == Op.UPDATE ? "an update" : "a delete";
        boolean changesARow = change.op() == Op.UPDATE || change.op() == Op.DELETE;
        if (changesARow && appendOnly) {
            throw new MappingException(null, "v1 table " + v1Table + " is declared append: true (inserts only), and this"
                    + " is " + what + " of it: v2 is not changed. If its rows do change, drop append: true"
                    + " (the table needs REPLICA IDENTITY FULL on v1) and replay this letter");
        }
        ObjectNode before = change.before();
        if (changesARow && (before == null || !Rows.unavailableColumns(before).isEmpty())) {
            throw new MappingException(null, what.substring(0, 1).toUpperCase(java.util.Locale.ROOT) + what.substring(1) + " of v1 table " + v1Table + ", which has no primary key,"
                    + " without its old values: ALTER TABLE " + v1Table + " REPLICA IDENTITY FULL so that v2 can tell"
                    + " which row it changes");
        }
        Set<String> json = change.jsonColumns();
        ObjectNode none = JsonNodeFactory.instance.objectNode();
        ObjectNode image = change.after() == null ? null : fillUnchangedToast(change.after(), before);
        if (image != null && change.op() != Op.UPDATE) {
            // An update's old values are complete (checked above), so only an insert can still hold a placeholder.
            requireAvailable(change.op(), image, none, false, Set.of());
        }
        ObjectNode parsedBefore = changesARow ? Rows.parsed(before, json) : null;
        ObjectNode parsed = image == null ? null : Rows.parsed(image, json);
        List<V2Change> out = new ArrayList<>();
        for (TargetMapping target : targets) {
            ObjectNode old = parsedBefore != null && target.matches(parsedBefore) ? target.row(before, parsedBefore, none) : null;
            ObjectNode now = parsed != null && target.matches(parsed) ? target.row(image, parsed, none) : null;
            if (now != null) {
                // An update whose old row the mapping's filter skipped inserts; otherwise the op says what to do.
                Op op = old == null && change.op() == Op.UPDATE ? Op.CREATE : change.op();
                out.add(new V2Change(op, target.v2Table(), none, now, change.source(), op == Op.UPDATE ? old : null));
            } else if (old != null) {
                out.add(new V2Change(Op.DELETE, target.v2Table(), none, null, change.source(), old));
            }
        }
        return out;
    }

    /** Deletes of every v2 row this keyless table produced: one truncate per v2 table it feeds. */
    public List<V2Change> truncateKeyless(dev.cdcmigrator.common.event.SourcePosition source) {
        ObjectNode none = JsonNodeFactory.instance.objectNode();
        return targets.stream().map(TargetMapping::v2Table).distinct()
                .map(table -> new V2Change(Op.TRUNCATE, table, none, null, source)).toList();
    }

    private static V2Change delete(TargetMapping target, ObjectNode key, RawChange change) {
        return new V2Change(Op.DELETE, target.v2Table(), key, null, change.source());
    }

    /**
     * Replaces Debezium's placeholder for an unchanged TOASTed value (the WAL record did not carry it) with the value
     * from the previous image. A value the previous image does not know either (there is none, or it holds the
     * placeholder too) stays a placeholder: {@link #requireAvailable} says whether the change can do without it.
     *
     * @throws MappingException when the previous image lacks the column: the spec reads it only since a restart, so
     *                          v2 never got its value and cannot keep it
     */
    ObjectNode fillUnchangedToast(ObjectNode after, ObjectNode previous) {
        ObjectNode filled = null;
        Iterator<Map.Entry<String, JsonNode>> fields = after.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (Rows.unavailable(field.getValue())) {
                JsonNode known = previous == null ? null : previous.get(field.getKey());
                if (previous != null && known == null) {
                    throw new MappingException(field.getKey(), "v1 column " + v1Table + "." + field.getKey() + " is an"
                            + " unchanged TOASTed value that the change does not carry, and the earlier image of the row"
                            + " does not hold it (the spec reads it only since a restart), so v2 has no value of it to keep");
                }
                if (known == null || Rows.unavailable(known)) {
                    continue;
                }
                if (filled == null) {
                    filled = after.deepCopy();
                }
                filled.set(field.getKey(), known);
            }
        }
        return filled != null ? filled : after;
    }

    /**
     * Refuses a change whose image still holds unchanged TOASTed values nothing knows ({@link #fillUnchangedToast})
     * unless each v2 row it updates holds them as plain copies, which v2 keeps: it must be an update, and neither a
     * dimension, nor the lookup columns other tables read of it, nor a filter, v2 key or computed v2 column of any
     * mapping may read one.
     *
     * @param image the filled row image
     * @param deleted whether the last change applied to the row deleted it (v2 has no row to leave values in)
     * @param lookupColumns the columns of this table that tables using it as a lookup table read
     * @throws MappingException naming the table, the key and the first such column (the change is dead-lettered)
     */
    public void requireAvailable(Op op, ObjectNode image, JsonNode v1Key, boolean deleted, Set<String> lookupColumns) {
        for (String column : Rows.unavailableColumns(image)) {
            String why = deleted ? "and the row was deleted before this " + op.name().toLowerCase(java.util.Locale.ROOT)
                    + ", so v2 has no row holding it" : whyNeeded(op, Set.of(column), v1Key, lookupColumns);
            if (why != null) {
                throw unavailableValue(column, v1Key, why);
            }
        }
    }

    private MappingException unavailableValue(String column, JsonNode v1Key, String why) {
        return new MappingException(column, "v1 column " + v1Table + "." + column + " (key " + v1Key + ") is an unchanged"
                + " TOASTed value that the change does not carry, and no earlier image of the row is known, " + why);
    }

    private String whyNeeded(Op op, Set<String> column, JsonNode v1Key, Set<String> lookupColumns) {
        if (op != Op.UPDATE) {
            return "and this " + op.name().toLowerCase(java.util.Locale.ROOT) + " writes its v2 rows whole";
        }
        if (dimensionReads(column)) {
            return "and an isolation dimension of " + v1Table + " reads it";
        }
        if (lookupColumns.stream().anyMatch(column::contains)) {
            return "and tables using " + v1Table + " as a lookup table read it";
        }
        for (TargetMapping target : targets) {
            String needs = target.needsUnavailable(column, v1Key);
            if (needs != null) {
                return "and " + needs;
            }
        }
        return null;
    }

    private boolean dimensionReads(Set<String> unavailable) {
        SpecReads reads = new SpecReads();
        dimensions.collectReads(reads);
        return !reads.wholeRow().isEmpty() || reads.reads().stream().anyMatch(read -> unavailable.contains(read.column()));
    }
}
