package dev.cdcmigrator.sink.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.Spec;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.SortedSet;

/**
 * What a record of each v2 topic may write, from the spec and not from the record: the v2 table its topic belongs to
 * ({@code <prefix>.v2.<table>}), and only the columns the spec writes into that table ({@link Spec#v2Columns()}: the
 * mapped columns and the dimension columns). A record's {@code table} and column names are data anyone who can
 * produce to a v2 topic controls; trusting them would let one topic write to every table and column of v2.
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

    /** Per v2 topic: its table and the columns the spec writes into it. */
    private final Map<String, Table> byTopic = new HashMap<>();

    private record Table(String name, SortedSet<String> columns) {
    }

    public SpecWrites(Spec spec) {
        Topics topics = new Topics(spec);
        spec.v2Columns().forEach((table, columns) -> byTopic.put(topics.v2(table), new Table(table, Collections.unmodifiableSortedSet(columns))));
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
