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

/**
 * The way back: the spec read backwards, from v2 to v1, so that after writes moved to v2 a second migration
 * ({@code migrator run --reverse}) carries them into v1 with the same stages and guarantees.
 *
 * <p>What inverts by itself: a {@code from} copy (a rename), a {@code from} with a one-to-one {@code map} and no
 * {@code otherwise}, and a dimension taken {@code from} a v1 column (written back to it). What is dropped on the way
 * back: {@code value} constants and the other dimensions. What does not invert ({@code expr}, {@code java}, a
 * many-to-one {@code map}) needs the table's {@code reverse:} for each v1 column it reads; {@link #findings} names every
 * v1 column without a way back. A table split into several v2 tables, or merged with another into one, has no way
 * back yet and is refused.
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
     * table it came from, with the columns that invert and the table's {@code reverse:} columns.
     *
     * @throws SpecException naming {@code tables.<t>} for a table the way back cannot take (split, merged, or a
     *                       {@code copy: all} not resolved yet), or when the reverse topic prefix would be too long
     */
    public static Spec inverse(Spec forward) {
        Map<String, String> fedBy = new TreeMap<>();
        Map<String, TableSpec> tables = new LinkedHashMap<>();
        Map<String, Set<String>> written = new LinkedHashMap<>();
        for (String v1 : new java.util.TreeSet<>(forward.tables().keySet())) {
            TableSpec table = forward.tables().get(v1);
            String path = "tables." + v1;
            if (table.split() != null) {
                throw SpecException.invalid(path + ".split", "a table split into several v2 tables has no way back yet", null);
            }
            if (table.copies()) {
                throw new IllegalStateException("copy: all of " + path + " must be resolved before the way back is derived");
            }
            MappingSpec mapping = table.mappings().get(0);
            String v2 = mapping.v2Table(v1);
            String other = fedBy.putIfAbsent(v2, v1);
            if (other != null) {
                throw SpecException.invalid(path, "tables." + other + " and " + path + " both map into v2 table " + v2
                        + ": a merged table has no way back yet", null);
            }
            LinkedHashMap<String, ColumnSpec> back = columnsBack(table, mapping);
            tables.put(v2, new TableSpec(v1, keyBack(table, mapping, back).orElse(null), null, back, null, null));
            written.put(v2, table.writtenColumns(mapping));
        }
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
            withDrops.put(v2, new TableSpec(table.into(), table.key(), null, table.columns(), null, notBack));
        });
        return new Spec(Spec.CURRENT_VERSION, source, target, kafka, withDrops, back.debezium(), null, none);
    }

    /**
     * What the way back does with each column of v1 table {@code v1Table}: an ERROR for each v1 column the spec carries
     * to v2 (reads) that nothing brings back; a WARNING for a way back that changes values (a {@code default} turns a
     * null into the default), and for a column v2 does not have at all, which rows inserted on v2 get only from v1's
     * column default.
     *
     * @param v1Columns the v1 table's columns (not generated ones) in their order, each with whether it is NOT NULL
     *                  without a default (a row inserted on v2 cannot come back without a value for it)
     */
    public static List<Finding> findings(Spec forward, String v1Table, Map<String, Boolean> v1Columns) {
        TableSpec table = forward.tables().get(v1Table);
        String path = "tables." + v1Table;
        List<Finding> findings = new ArrayList<>();
        if (table.split() != null) {
            findings.add(new Finding(true, path + ".split", "is split into several v2 tables, which has no way back yet",
                    "keep writes on v1 until the way back supports split tables, or map the table directly"));
            return findings;
        }
        MappingSpec mapping = table.mappings().get(0);
        LinkedHashMap<String, ColumnSpec> back = columnsBack(table, mapping);
        ColumnReads reads = ColumnReads.of(forward, v1Table);
        Optional<String> wholeRow = reads.wholeRow();
        String fix = "give " + path + ".reverse.%s (a column over the v2 row: from a v2 column, or expr)";
        mapping.columns().forEach((v2Column, column) -> {
            if (column.from() != null && column.defaultValue() != null && !table.reverse().containsKey(column.from())
                    && back.containsKey(column.from())) {
                findings.add(new Finding(false, path + ".columns." + v2Column + ".default", "a null v1 " + column.from()
                        + " reached v2 as the default, so the way back writes the default, not null (verify --reverse"
                        + " leaves the column out)", "accept it, or give " + path + ".reverse." + column.from()));
            }
        });
        for (Map.Entry<String, Boolean> v1Column : v1Columns.entrySet()) {
            String name = v1Column.getKey();
            if (back.containsKey(name)) {
                continue;
            }
            List<ColumnReads.Read> readers = reads.reads().stream().filter(r -> r.column().equals(name)).toList();
            if (!readers.isEmpty()) {
                ColumnReads.Read first = readers.get(0);
                findings.add(new Finding(true, first.path(), "v1 column " + name + " has no way back: " + why(mapping, first)
                        + (readers.size() > 1 ? " (read by " + readers.size() + " spec paths)" : ""), fix.formatted(name)));
            } else if (wholeRow.isPresent()) {
                findings.add(new Finding(true, wholeRow.get(), "v1 column " + name + " has no way back: " + wholeRow.get()
                        + " may read it, and what it makes cannot be undone", fix.formatted(name)));
            } else if (v1Column.getValue()) {
                findings.add(new Finding(true, path, "v1 column " + name + " is NOT NULL without a default and v2 does not"
                        + " have it: a row inserted on v2 cannot come back", fix.formatted(name)
                        + ", or give it a default on v1"));
            } else {
                findings.add(new Finding(false, path, "v1 column " + name + " is not carried to v2: rows changed on v2 come"
                        + " back without it (an update leaves it as it is, an insert takes v1's default)", "accept it, or give "
                        + path + ".reverse." + name));
            }
        }
        return findings;
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
     * The v1 key of the way back when the spec names the v2 key: its columns copied back, without the dimensions
     * (which v1 keys do not have); empty to let the transform take the v2 table's primary key renamed back.
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
            if (dimensionColumns.contains(v2Column)) {
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
