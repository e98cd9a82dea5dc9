package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

/** A ColumnFunction for the tests: the name in capitals with an exclamation mark. */
public final class ShoutingName implements ColumnFunction {

    @Override
    public JsonNode apply(ObjectNode row) {
        return TextNode.valueOf(row.get("name").asText().toUpperCase(java.util.Locale.ROOT) + "!");
    }
}
