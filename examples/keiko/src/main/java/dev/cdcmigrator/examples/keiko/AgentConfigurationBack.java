package dev.cdcmigrator.examples.keiko;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.transform.ColumnFunction;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The way back of {@link AgentConfiguration}: from a v2 agent row, the flat v1 {@code config} again: each feature
 * {@code f} as {@code supports_f}, every setting as it is, and the {@code description} and {@code tags} that moved to
 * the agent's metadata.
 */
public final class AgentConfigurationBack implements ColumnFunction {

    @Override
    public JsonNode apply(ObjectNode row) {
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        JsonNode configuration = row.get("configuration");
        if (configuration != null && configuration.isObject()) {
            copy(configuration.get("features"), "supports_", config);
            copy(configuration.get("settings"), "", config);
        }
        JsonNode metadata = row.get("metadata");
        if (metadata != null && metadata.isObject()) {
            for (String moved : List.of("description", "tags")) {
                if (metadata.has(moved)) {
                    config.set(moved, metadata.get(moved));
                }
            }
        }
        return config;
    }

    private static void copy(JsonNode from, String prefix, ObjectNode to) {
        if (from == null || !from.isObject()) {
            return;
        }
        Iterator<Map.Entry<String, JsonNode>> entries = from.fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            to.set(prefix + entry.getKey(), entry.getValue());
        }
    }
}
