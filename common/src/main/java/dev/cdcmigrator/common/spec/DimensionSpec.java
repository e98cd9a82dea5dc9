package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * How one isolation dimension (tenant, agent, chat stream, platform) of a v1 table's rows is resolved. The value fills
 * a v2 column of every v2 table the v1 table feeds; naming that column in a mapping's {@code key} makes the dimension
 * part of the v2 key. Exactly one source: {@code from}, {@code expr}, {@code value} or {@code lookup}. A dimension that
 * resolves to null (or whose lookup row does not arrive within {@code tenancy.holdSeconds}) takes {@code default};
 * without one the row is dead-lettered: never a silent guess.
 *
 * @param column the v2 column it fills; default {@link Kind#defaultColumn()}
 * @param from a v1 column of the row
 * @param expr a CEL expression over the v1 row
 * @param value a constant
 * @param lookup a column of another (captured) v1 table, found through a column of this row
 * @param defaultValue the value when unresolved: a CEL expression over the row when text, else the literal
 */
public record DimensionSpec(String column, String from, String expr, JsonNode value, LookupSpec lookup,
                            @JsonProperty("default") JsonNode defaultValue) {

    /** The four dimensions of isolation, as named in the spec. */
    public enum Kind {
        /** Data of different tenants fully isolated. */
        TENANT("tenant", "tenant_id"),
        /** Configuration and memory of different agents of one tenant isolated. */
        AGENT("agent", "agent_id"),
        /** A conversation context, identified by its sender and receiver. */
        STREAM("stream", "chat_stream"),
        /** The communication platform (QQ, Discord, ...). */
        PLATFORM("platform", "platform");

        private final String specName;
        private final String defaultColumn;

        Kind(String specName, String defaultColumn) {
            this.specName = specName;
            this.defaultColumn = defaultColumn;
        }

        /** The key under {@code dimensions}. */
        public String specName() {
            return specName;
        }

        /** The v2 column when the spec names none. */
        public String defaultColumn() {
            return defaultColumn;
        }

        /** The kind named {@code name} in the spec. */
        public static Kind of(String name) {
            for (Kind kind : values()) {
                if (kind.specName.equals(name)) {
                    return kind;
                }
            }
            List<String> names = new ArrayList<>();
            for (Kind kind : values()) {
                names.add(kind.specName);
            }
            throw new IllegalArgumentException("unknown dimension '" + name + "' (expected one of: " + String.join(", ", names) + ")");
        }
    }

    /**
     * A lookup: the row of {@code table} whose (single-column) primary key equals this row's {@code key} column gives
     * the value of its {@code column}. The lookup table is captured too, so a change of it (a user moving to another
     * tenant) re-keys every row that depends on it.
     *
     * @param table the v1 lookup table (in {@code source.schema}); it need not be mapped itself
     * @param key the column of this row holding the lookup row's primary key
     * @param column the lookup row's column giving the value
     */
    public record LookupSpec(String table, String key, String column) {

        public LookupSpec {
            Identifiers.requireValid(table, "lookup.table (a v1 table name)");
            Identifiers.requireValid(key, "lookup.key (a v1 column name)");
            Identifiers.requireValid(column, "lookup.column (a v1 column name)");
        }
    }

    public DimensionSpec {
        if (column != null) {
            Identifiers.requireValid(column, "a v2 column name");
        }
        Identifiers.requireOneSource("a dimension", from, expr, value, Collections.singletonMap("lookup", lookup));
    }

    /** The v2 column this dimension fills, given its kind. */
    public String column(Kind kind) {
        return column != null ? column : kind.defaultColumn();
    }

    /** The dimensions of a table by kind, from the spec's {@code dimensions} mapping. */
    static Map<Kind, DimensionSpec> byKind(Map<String, DimensionSpec> dimensions) {
        Map<Kind, DimensionSpec> byKind = new java.util.EnumMap<>(Kind.class);
        dimensions.forEach((name, spec) -> byKind.put(Kind.of(name), spec));
        return byKind;
    }
}
