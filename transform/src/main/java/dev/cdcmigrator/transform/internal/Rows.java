package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.DebeziumValues;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Small helpers over row images. */
final class Rows {

    static final JsonNode NULL = NullNode.getInstance();

    private Rows() {
    }

    /** Whether a value is Debezium's placeholder for an unchanged TOASTed value the change did not carry. */
    static boolean unavailable(JsonNode value) {
        return value != null && value.isTextual() && DebeziumValues.UNAVAILABLE.equals(value.asText());
    }

    /** The columns of {@code row} that hold the placeholder, in row order. */
    static Set<String> unavailableColumns(ObjectNode row) {
        Set<String> columns = new java.util.LinkedHashSet<>();
        row.properties().forEach(field -> {
            if (unavailable(field.getValue())) {
                columns.add(field.getKey());
            }
        });
        return columns;
    }

    static List<String> names(JsonNode row) {
        List<String> names = new ArrayList<>();
        row.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The row as expressions see it: json and jsonb columns parsed, the rest as on the wire. */
    static ObjectNode parsed(ObjectNode wire, Set<String> jsonColumns) {
        if (jsonColumns.isEmpty()) {
            return wire;
        }
        ObjectNode parsed = wire.deepCopy();
        for (String column : jsonColumns) {
            JsonNode value = wire.get(column);
            if (value != null && value.isTextual() && !unavailable(value)) {
                try {
                    parsed.set(column, Json.MAPPER.readTree(value.asText()));
                } catch (IOException e) {
                    throw new MappingException(column, "json column " + column + " does not hold JSON: " + e.getMessage());
                }
            }
        }
        return parsed;
    }
}
