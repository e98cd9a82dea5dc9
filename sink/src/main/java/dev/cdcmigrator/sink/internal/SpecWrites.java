package dev.cdcmigrator.sink.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What a record of each v2 topic may write, from the spec and not from the record: the v2 table its topic belongs to
 * ({@code <prefix>.v2.<table>}), and only the columns the spec writes into that table ({@link Spec#v2Columns()}: the
 * mapped columns and the dimension columns), with a key that is one of the table's unique keys on v2 ({@link
 * #withUniqueKeys}). A record's {@code table} and column names are data anyone who can produce to a v2 topic
 * controls; trusting them would let one topic write to every table and column of v2, or one delete remove every row
 * that shares a value.
 */
public final class SpecWrites {

    /**
     * Why a record must not be written.
     *
     * @param column the column at fault, or null when the record names another table
     * @param reason the topic, the tables and the column, for a person
     */
    public record Refusal(String column, String reason) {
    }

    /** Per v2 topic: its table, the columns the spec writes into it and the table's unique keys on v2. */
    private final Map<String, Table> byTopic;
    private final String sourceSchema;

    /** @param uniqueKeys the column sets of the table's unique keys; null until {@link #withUniqueKeys} read them */
    private record Table(String name, SortedSet<String> columns, Set<Set<String>> uniqueKeys) {
    }

    public SpecWrites(Spec spec) {
        Topics topics = new Topics(spec);
        sourceSchema = spec.source().schema();
        byTopic = new HashMap<>();
        spec.v2Columns().forEach((table, columns) -> byTopic.put(topics.v2(table),
                new Table(table, Collections.unmodifiableSortedSet(columns), null)));
    }

    private SpecWrites(Map<String, Table> byTopic, String sourceSchema) {
        this.byTopic = byTopic;
        this.sourceSchema = sourceSchema;
    }

    /**
     * The same, also checking that a record's key is exactly the columns of one of its table's unique keys in
     * {@code schema} on v2 (its primary key, or a unique index without predicate or expressions): the key the sink
     * upserts on ({@code ON CONFLICT}) and deletes by.
     */
    public SpecWrites withUniqueKeys(Connection v2, String schema) throws SQLException {
        Map<String, Set<Set<String>>> keys = new HashMap<>();
        try (PreparedStatement ps = v2.prepareStatement("""
                SELECT c.relname, array(SELECT a.attname FROM pg_attribute a
                                        WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
                FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL""")) {
            ps.setString(1, schema);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    keys.computeIfAbsent(rs.getString(1), t -> new HashSet<>())
                            .add(Set.of((String[]) rs.getArray(2).getArray()));
                }
            }
        }
        if (!v2.getAutoCommit()) {
            v2.commit();
        }
        Map<String, Table> checked = new HashMap<>();
        byTopic.forEach((topic, table) -> checked.put(topic, new Table(table.name(), table.columns(),
                keys.getOrDefault(table.name(), Set.of()))));
        return new SpecWrites(checked, sourceSchema);
    }

    /** The unqualified v1 table a change came from ({@code unknown} when it does not say). */
    public String v1Table(dev.cdcmigrator.common.event.SourcePosition source) {
        return source.table() == null ? "unknown" : source.table(sourceSchema);
    }

    /** The v2 table of {@code topic}, or the topic itself when it is none of the spec's v2 topics. */
    public String tableOf(String topic) {
        Table table = byTopic.get(topic);
        return table == null ? topic : table.name();
    }

    /** Why {@code change}, read from {@code topic}, must not be written; null when it may be. */
    public Refusal check(String topic, V2Change change) {
        Table table = byTopic.get(topic);
        if (table == null) {
            return new Refusal(null, "topic " + topic + " is not a v2 topic of the spec: nothing read from it is written");
        }
        if (!table.name().equals(change.table())) {
            return new Refusal(null, "topic " + topic + " holds v2 table " + table.name() + ", but the record names table "
                    + change.table() + ": a record is written only to the table of its topic");
        }
        Refusal refusal = checkColumns(topic, table, change.key(), "key");
        // A keyless change (of a v1 table without a primary key) acts on one row by all its values, or truncates.
        if (refusal == null && table.uniqueKeys() != null && !change.keyless()) {
            Set<String> key = new TreeSet<>();
            change.key().fieldNames().forEachRemaining(key::add);
            if (!table.uniqueKeys().contains(key)) {
                return new Refusal(null, "the key " + key + " of a record of topic " + topic + " is not a unique key of"
                        + " v2 table " + table.name() + " (those are " + table.uniqueKeys().stream()
                        .map(TreeSet::new).map(String::valueOf).sorted().toList() + ")");
            }
        }
        if (refusal == null && change.before() != null) {
            refusal = checkColumns(topic, table, change.before(), "old row image");
        }
        return refusal != null || change.after() == null ? refusal : checkColumns(topic, table, change.after(), "row image");
    }

    private static Refusal checkColumns(String topic, Table table, ObjectNode values, String part) {
        for (Iterator<String> names = values.fieldNames(); names.hasNext(); ) {
            String column = names.next();
            if (!table.columns().contains(column)) {
                return new Refusal(column, "column " + column + " in the " + part + " of a record of topic " + topic
                        + " is not one the spec writes into v2 table " + table.name() + " (those are "
                        + table.columns() + ")");
            }
        }
        return null;
    }
}
