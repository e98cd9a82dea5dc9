package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.BackfillSpec;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.KafkaSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.SourceSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.common.spec.TargetSpec;
import dev.cdcmigrator.common.spec.V2Format;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The way back: the spec read backwards, from v2 to v1, so that after writes moved to v2 a second migration
 * ({@code migrator run --reverse}) carries them into v1 with the same stages and guarantees.
 *
 * <p>What inverts by itself: a {@code from} copy (a rename), a {@code from} with a one-to-one {@code map} and no
 * {@code otherwise}, and a dimension taken {@code from} a v1 column (written back to it). What is dropped on the way
 * back: {@code value} constants and the other dimensions. What does not invert ({@code expr}, {@code java}, a
 * many-to-one {@code map}) needs the table's {@code reverse:} for each v1 column it reads; {@link #findings} names every
 * v1 column without a way back.
 *
 * <p>A v2 table several v1 tables are merged into comes back as a split of it: each row into the v1 table whose
 * discriminator value it holds (a constant column in every merged mapping's key). A v1 table split horizontally, by
 * wheres that read only key columns, comes back as a merge of its parts into it. Other splits and merges are refused
 * ({@link #findings} says why, at the YAML path).
 *
 * <p>The reverse migration reads v2 (its own slot and publication there) and writes v1 (its state schema there), under
 * the topic prefix {@code <prefix>_reverse}. It takes no snapshot: v1 holds every row up to the flip, and only later
 * changes of v2 must come back.
 */
public final class Reversal {

    /**
     * One thing {@code check --reverse} reports about the way back of a v1 table.
     *
     * @param refused true when a v1 column the spec carries to v2 has no way back (an ERROR); false when the way back
     *                is lossy or leaves the column as v1 has it (a WARNING)
     * @param path the YAML path of the forward spec it is about
     * @param message what happens on the way back
     * @param fix what to do
     */
    public record Finding(boolean refused, String path, String message, String fix) {
    }

    private Reversal() {
    }

    /**
     * The spec of the way back of {@code forward}: v2 as the source, v1 as the target, each v2 table mapped into the v1
     * table it came from (a merged one split by its discriminator into the v1 tables it came from), with the columns
     * that invert and the table's {@code reverse:} columns.
     *
     * @throws SpecException naming the path of the first split or merge the way back cannot take, or when the reverse
     *                       topic prefix would be too long
     * @throws IllegalStateException for a {@code copy: all} not resolved yet
     */
    public static Spec inverse(Spec forward) {
        Layout layout = layout(forward);
        if (!layout.refusals().isEmpty()) {
            Refusal first = layout.refusals().get(0);
            throw SpecException.invalid(first.path(), first.message(), null);
        }
        Map<String, TableSpec> tables = new LinkedHashMap<>();
        Map<String, Set<String>> written = new LinkedHashMap<>();
        layout.feeds().forEach((v2, feeds) -> {
            Set<String> columns = new LinkedHashSet<>();
            feeds.forEach(feed -> columns.addAll(feed.table().writtenColumns(feed.mapping())));
            written.put(v2, columns);
            if (feeds.size() == 1) {
                Feed feed = feeds.get(0);
                LinkedHashMap<String, ColumnSpec> back = columnsBack(feed.table(), feed.mapping());
                tables.put(v2, new TableSpec(feed.v1(), keyBack(feed.table(), feed.mapping(), back).orElse(null), null, back,
                        null, null));
                return;
            }
            // A merge comes back as a split of the v2 table: each row into the v1 table its discriminator names.
            String discriminator = layout.discriminators().get(v2);
            List<MappingSpec> parts = new ArrayList<>();
            for (Feed feed : feeds) {
                LinkedHashMap<String, ColumnSpec> back = columnsBack(feed.table(), feed.mapping());
                parts.add(new MappingSpec(feed.v1(), keyBack(feed.table(), feed.mapping(), back).orElse(null),
                        isDiscriminated(discriminator, feed.mapping().columns().get(discriminator).value()), back, null));
            }
            tables.put(v2, new TableSpec(null, null, null, null, parts, null));
        });
        KafkaSpec k = forward.kafka();
        String prefix = k.topicPrefix() + Topics.REVERSE_SUFFIX;
        KafkaSpec kafka;
        try {
            // JSON: the way back has no Avro subjects registered for v1's tables.
            kafka = new KafkaSpec(k.bootstrap(), prefix, k.partitions(), k.replicationFactor(), k.client(), k.producer(),
                    k.consumer(), k.streams(), V2Format.JSON, null, k.deadLetterRetention());
        } catch (IllegalArgumentException e) {
            throw SpecException.invalid("kafka.topicPrefix", "the way back's prefix " + prefix + " is not valid ("
                    + e.getMessage() + "): choose a prefix of at most " + (40 - Topics.REVERSE_SUFFIX.length()) + " characters", e);
        }
        SourceSpec source = new SourceSpec(forward.target().url(), forward.target().user(), forward.target().password(),
                forward.target().schema(), null);
        TargetSpec target = new TargetSpec(forward.source().url(), forward.source().user(), forward.source().password(),
                forward.source().schema(), forward.target().stateSchema(), null);
        // No backfill at all, whatever the default mode: v1 already holds every row up to the flip.
        BackfillSpec none = new BackfillSpec(BackfillSpec.Mode.DEBEZIUM, null, null);
        Spec back = new Spec(Spec.CURRENT_VERSION, source, target, kafka, tables, Map.of("snapshot.mode", "no_data"), null, none);
        // What the way back does not read of v2 is dropped on purpose: check must not call it forgotten.
        Map<String, TableSpec> withDrops = new LinkedHashMap<>();
        tables.forEach((v2, table) -> {
            List<String> notBack = new ArrayList<>(written.get(v2));
            notBack.removeAll(ColumnReads.of(back, v2).columns());
            withDrops.put(v2, new TableSpec(table.into(), table.key(), null, table.columns(), table.split(), notBack));
        });
        return new Spec(Spec.CURRENT_VERSION, source, target, kafka, withDrops, back.debezium(), null, none);
    }

    /**
     * What the way back does with each column of v1 table {@code v1Table}: an ERROR for each v1 column the spec carries
     * to v2 (reads) that nothing brings back, and for a split or merge the way back cannot take; a WARNING for a way
     * back that changes values (a {@code default} turns a null into the default), for a column v2 does not have at all,
     * which rows inserted on v2 get only from v1's column default, and for the rows of a merged v2 table that no v1
     * table's discriminator value names. Each part of a split is looked at on its own: its rows come back through it.
     *
     * @param v1Columns the v1 table's columns (not generated ones) in their order, each with whether it is NOT NULL
     *                  without a default (a row inserted on v2 cannot come back without a value for it)
     */
    public static List<Finding> findings(Spec forward, String v1Table, Map<String, Boolean> v1Columns) {
        TableSpec table = forward.tables().get(v1Table);
        Layout layout = layout(forward);
        List<Finding> refused = layout.refusals().stream().filter(r -> r.v1Table().equals(v1Table))
                .map(r -> new Finding(true, r.path(), r.message(), r.fix())).toList();
        if (!refused.isEmpty()) {
            return refused;
        }
        Set<Finding> findings = new LinkedHashSet<>();
        ColumnReads reads = ColumnReads.of(forward, v1Table);
        List<MappingSpec> mappings = table.mappings();
        for (int i = 0; i < mappings.size(); i++) {
            MappingSpec mapping = mappings.get(i);
            String mappingPath = table.mappingPath(v1Table, i);
            String v2 = mapping.v2Table(v1Table);
            String discriminator = layout.discriminators().get(v2);
            if (discriminator != null) {
                findings.add(new Finding(false, mappingPath + ".columns." + discriminator + ".value", "v2 table " + v2
                        + " merges several v1 tables: the way back sends each of its rows to the v1 table its "
                        + discriminator + " names (" + v1Table + " for " + mapping.columns().get(discriminator).value().asText()
                        + "); a row written on v2 with a " + discriminator + " no v1 table has does not come back",
                        "accept it, or keep v2's writes to the values the spec gives"));
            }
            List<ColumnReads.Read> partReads = reads.reads().stream()
                    .filter(r -> table.split() == null || r.path().startsWith(mappingPath + ".")
                            || !r.path().startsWith("tables." + v1Table + ".split["))
                    .toList();
            findings.addAll(columnFindings(v1Table, table, mapping, mappingPath, partReads, reads.wholeRow(), v1Columns));
        }
        return new ArrayList<>(findings);
    }

    private static List<Finding> columnFindings(String v1Table, TableSpec table, MappingSpec mapping, String mappingPath,
                                                List<ColumnReads.Read> reads, Optional<String> wholeRow,
                                                Map<String, Boolean> v1Columns) {
        String path = "tables." + v1Table;
        List<Finding> findings = new ArrayList<>();
        LinkedHashMap<String, ColumnSpec> back = columnsBack(table, mapping);
        String fix = "give " + path + ".reverse.%s (a column over the v2 row: from a v2 column, or expr)";
        mapping.columns().forEach((v2Column, column) -> {
            if (column.from() != null && column.defaultValue() != null && !table.reverse().containsKey(column.from())
                    && back.containsKey(column.from())) {
                findings.add(new Finding(false, mappingPath + ".columns." + v2Column + ".default", "a null v1 " + column.from()
                        + " reached v2 as the default, so the way back writes the default, not null (verify --reverse"
                        + " leaves the column out)", "accept it, or give " + path + ".reverse." + column.from()));
            }
        });
        for (Map.Entry<String, Boolean> v1Column : v1Columns.entrySet()) {
            String name = v1Column.getKey();
            if (back.containsKey(name)) {
                continue;
            }
            List<ColumnReads.Read> readers = reads.stream().filter(r -> r.column().equals(name)).toList();
            if (!readers.isEmpty()) {
                ColumnReads.Read first = readers.get(0);
                findings.add(new Finding(true, first.path(), "v1 column " + name + " has no way back: " + why(mapping, first)
                        + (readers.size() > 1 ? " (read by " + readers.size() + " spec paths)" : ""), fix.formatted(name)));
            } else if (wholeRow.isPresent()) {
                findings.add(new Finding(true, wholeRow.get(), "v1 column " + name + " has no way back: " + wholeRow.get()
                        + " may read it, and what it makes cannot be undone", fix.formatted(name)));
            } else if (v1Column.getValue()) {
                findings.add(new Finding(true, mappingPath, "v1 column " + name + " is NOT NULL without a default and v2 does not"
                        + " have it: a row inserted on v2 cannot come back", fix.formatted(name)
                        + ", or give it a default on v1"));
            } else {
                findings.add(new Finding(false, mappingPath, "v1 column " + name + " is not carried to v2: rows changed on v2 come"
                        + " back without it (an update leaves it as it is, an insert takes v1's default)", "accept it, or give "
                        + path + ".reverse." + name));
            }
        }
        return findings;
    }

    /** One mapping of the forward spec, feeding one v2 table: the way back reads that table into {@code v1}. */
    private record Feed(String v1, TableSpec table, MappingSpec mapping, String path) {
    }

    /** A split or merge the way back cannot take, reported on v1 table {@code v1Table}. */
    private record Refusal(String v1Table, String path, String message, String fix) {
    }

    /**
     * The way back's shape: each v2 table with the forward mappings that feed it (in v1 table order), the discriminator
     * column of each merged v2 table, and what the way back refuses (whose tables are left out of {@code feeds}).
     */
    private record Layout(Map<String, List<Feed>> feeds, Map<String, String> discriminators, List<Refusal> refusals) {
    }

    private static Layout layout(Spec forward) {
        Map<String, List<Feed>> feeds = new TreeMap<>();
        List<Refusal> refusals = new ArrayList<>();
        for (String v1 : new TreeSet<>(forward.tables().keySet())) {
            TableSpec table = forward.tables().get(v1);
            if (table.copies()) {
                throw new IllegalStateException("copy: all of tables." + v1 + " must be resolved before the way back is derived");
            }
            Optional<Refusal> split = splitRefusal(forward, v1, table);
            if (split.isPresent()) {
                refusals.add(split.get());
                continue;
            }
            List<MappingSpec> mappings = table.mappings();
            for (int i = 0; i < mappings.size(); i++) {
                feeds.computeIfAbsent(mappings.get(i).v2Table(v1), k -> new ArrayList<>())
                        .add(new Feed(v1, table, mappings.get(i), table.mappingPath(v1, i)));
            }
        }
        Map<String, String> discriminators = new TreeMap<>();
        feeds.forEach((v2, fed) -> {
            if (fed.size() > 1) {
                discriminator(fed).ifPresentOrElse(column -> discriminators.put(v2, column),
                        () -> fed.forEach(feed -> refusals.add(mergeRefusal(v2, fed, feed))));
            }
        });
        Set<String> refusedTables = new LinkedHashSet<>();
        refusals.forEach(r -> refusedTables.add(r.v1Table()));
        feeds.values().forEach(fed -> fed.removeIf(feed -> refusedTables.contains(feed.v1())));
        feeds.values().removeIf(List::isEmpty);
        return new Layout(feeds, discriminators, refusals);
    }

    /**
     * Why the way back cannot take the split of {@code v1}, if it cannot. It takes a horizontal split whose parts'
     * {@code where}s read only the columns of their key: every v1 key then belongs to one part for good, so each v1 row
     * comes back from one v2 table, in that table's order. A row could move between parts when a where reads another
     * column, and every row comes back from several v2 tables when a part takes every row (a vertical split): the
     * changes of different v2 tables reach the way back's sink in no order relative to each other, so a delete from one
     * part could overtake the write of another.
     */
    private static Optional<Refusal> splitRefusal(Spec forward, String v1, TableSpec table) {
        List<MappingSpec> parts = table.mappings();
        if (table.split() == null || parts.size() == 1) {
            return Optional.empty();
        }
        String fix = "keep writes on v1 until the way back takes such a split, or split the table horizontally: give every"
                + " part a key and a where that reads only columns of the key";
        ColumnReads reads = ColumnReads.of(forward, v1);
        Set<String> v2Tables = new LinkedHashSet<>();
        List<String> firstKey = null;
        for (int i = 0; i < parts.size(); i++) {
            MappingSpec part = parts.get(i);
            String partPath = table.mappingPath(v1, i);
            String v2 = part.v2Table(v1);
            if (!v2Tables.add(v2)) {
                return Optional.of(new Refusal(v1, partPath + ".into", "is a second part of tables." + v1 + ".split into v2 table "
                        + v2 + ": the way back cannot tell which part a row of it came from", fix));
            }
            if (part.where() == null) {
                return Optional.of(new Refusal(v1, "tables." + v1 + ".split", "is split vertically: " + partPath + " (into " + v2
                        + ") takes every v1 row, so each v1 row would come back from several v2 tables at once, whose changes"
                        + " the way back cannot order against each other (a delete from one could overtake a write to another)",
                        fix));
            }
            Optional<List<String>> key = part.explicitKey().isEmpty() ? Optional.empty()
                    : keyBack(table, part, columnsBack(table, part));
            if (key.isEmpty()) {
                return Optional.of(new Refusal(v1, partPath + ".key", "names no key made of v1 columns that come back, so the"
                        + " way back cannot tell whether its where decides a row's part by its key alone", fix));
            }
            if (firstKey != null && !firstKey.equals(key.get())) {
                return Optional.of(new Refusal(v1, partPath + ".key", "comes back as the v1 key " + key.get() + ", and "
                        + table.mappingPath(v1, 0) + ".key as " + firstKey + ": every part must key the v1 row alike", fix));
            }
            firstKey = key.get();
            String where = partPath + ".where";
            Optional<String> wholeRow = reads.wholeRow().filter(reason -> reason.startsWith(where));
            if (wholeRow.isPresent()) {
                return Optional.of(new Refusal(v1, where, "is split horizontally, but " + wholeRow.get()
                        + ": it may read more than the key, so a row could move between parts", fix));
            }
            List<String> key1 = firstKey;
            Optional<String> notKey = reads.reads().stream().filter(r -> r.path().equals(where))
                    .map(ColumnReads.Read::column).filter(c -> !key1.contains(c)).findFirst();
            if (notKey.isPresent()) {
                return Optional.of(new Refusal(v1, where, "is split horizontally by v1 column " + notKey.get() + ", which is"
                        + " not in the key " + key1 + ": a row whose " + notKey.get() + " changes on v2 moves from one part"
                        + " to another, and the way back cannot order the delete from one v2 table against the insert into"
                        + " the other", fix));
            }
        }
        return Optional.empty();
    }

    /**
     * The discriminator of a v2 table that the mappings {@code fed} feed: the first v2 column that each of them
     * fills with a constant of its own (text, a whole number or a boolean) and names in its key. In the key, because a
     * delete on v2 carries only the key of the row.
     */
    private static Optional<String> discriminator(List<Feed> fed) {
        for (String column : fed.get(0).mapping().columns().keySet()) {
            Set<String> values = new LinkedHashSet<>();
            boolean constant = fed.stream().allMatch(feed -> {
                ColumnSpec spec = feed.mapping().columns().get(column);
                return spec != null && isDiscriminatorValue(spec.value()) && feed.mapping().explicitKey().isPresent()
                        && feed.mapping().explicitKey().get().contains(column) && values.add(spec.value().asText());
            });
            if (constant) {
                return Optional.of(column);
            }
        }
        return Optional.empty();
    }

    private static boolean isDiscriminatorValue(JsonNode value) {
        return value != null && (value.isTextual() || value.isIntegralNumber() || value.isBoolean());
    }

    private static Refusal mergeRefusal(String v2, List<Feed> fed, Feed feed) {
        List<String> paths = fed.stream().map(Feed::path).toList();
        String fix = "give each of " + String.join(", ", paths) + " a column such as kind: { value: " + fed.get(0).v1()
                + " } with a value of its own (text, a whole number or a boolean) and name it in their key; or keep writes on v1";
        return new Refusal(feed.v1(), feed.path(), String.join(" and ", paths) + " are merged into v2 table " + v2
                + " without a discriminator: no column of the key that each of them fills with a value of its own, so the"
                + " way back cannot tell which v1 table a row of " + v2 + " (or its delete, which carries only the key)"
                + " belongs to", fix);
    }

    /** The filter of one part of a merged table's way back: its rows are those whose discriminator has its value. */
    private static String isDiscriminated(String column, JsonNode value) {
        // Compared as text: a v2 column may reach the way back as a number, a boolean or text (numeric, enums).
        return "string(row[" + celString(column) + "]) == " + celString(value.asText());
    }

    private static String celString(String text) {
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static String why(MappingSpec mapping, ColumnReads.Read read) {
        if (!read.copied()) {
            return "an expression reads it (" + read.path() + ")";
        }
        for (Map.Entry<String, ColumnSpec> column : mapping.columns().entrySet()) {
            ColumnSpec spec = column.getValue();
            if (read.column().equals(spec.from()) && spec.map() != null) {
                return spec.otherwise() != null
                        ? "the map of " + read.path() + " sends every value it lacks to otherwise"
                        : "the map of " + read.path() + " sends several v1 values to one v2 value";
            }
        }
        return "it is read by " + read.path() + ", which has no inverse";
    }

    /**
     * Each v1 column the way back makes, from the v2 row: the table's {@code reverse:} first, then inverted
     * {@code from} copies and {@code from} dimensions, the first v2 column for a v1 column copied into several.
     */
    private static LinkedHashMap<String, ColumnSpec> columnsBack(TableSpec table, MappingSpec mapping) {
        LinkedHashMap<String, ColumnSpec> back = new LinkedHashMap<>(table.reverse());
        mapping.columns().forEach((v2Column, column) -> {
            if (column.from() != null && !back.containsKey(column.from())) {
                invert(v2Column, column).ifPresent(inverse -> back.put(column.from(), inverse));
            }
        });
        table.dimensionsByKind().forEach((kind, dimension) -> {
            if (dimension.from() != null) {
                back.putIfAbsent(dimension.from(), ColumnSpec.from(dimension.column(kind)));
            }
        });
        return back;
    }

    private static Optional<ColumnSpec> invert(String v2Column, ColumnSpec column) {
        if (column.map() == null) {
            // A default made a null v1 value into something v1 may also hold: the way back cannot tell them apart, so
            // verify --reverse leaves the column out.
            return Optional.of(new ColumnSpec(v2Column, null, null, null, null, null, null,
                    column.nonDeterministic() || column.defaultValue() != null));
        }
        if (column.otherwise() != null) {
            return Optional.empty();
        }
        Map<String, JsonNode> inverse = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : column.map().entrySet()) {
            JsonNode to = entry.getValue();
            if (to == null || to.isContainerNode() || to.isNull()
                    || inverse.putIfAbsent(to.asText(), TextNode.valueOf(entry.getKey())) != null) {
                return Optional.empty();
            }
        }
        return Optional.of(new ColumnSpec(v2Column, null, null, null, null, inverse, null, column.nonDeterministic()));
    }

    /**
     * The v1 key of the way back when the spec names the v2 key: its columns copied back, without the dimensions and
     * constants (which v1 keys do not have); empty to let the transform take the v2 table's primary key renamed back.
     */
    private static Optional<List<String>> keyBack(TableSpec table, MappingSpec mapping, Map<String, ColumnSpec> back) {
        if (mapping.explicitKey().isEmpty()) {
            return Optional.empty();
        }
        Set<String> dimensionColumns = new LinkedHashSet<>();
        table.dimensionsByKind().forEach((kind, dimension) -> {
            if (dimension.from() == null) {
                dimensionColumns.add(dimension.column(kind));
            }
        });
        List<String> key = new ArrayList<>();
        for (String v2Column : mapping.explicitKey().get()) {
            ColumnSpec column = mapping.columns().get(v2Column);
            // A constant (a merge's discriminator) and a dimension not from a v1 column have no v1 column to key.
            if (dimensionColumns.contains(v2Column) || column != null && column.value() != null) {
                continue;
            }
            Optional<String> v1Column = back.entrySet().stream()
                    .filter(e -> v2Column.equals(e.getValue().from())).map(Map.Entry::getKey).findFirst();
            if (v1Column.isEmpty()) {
                return Optional.empty();
            }
            key.add(v1Column.get());
        }
        return key.isEmpty() ? Optional.empty() : Optional.of(key);
    }
}
