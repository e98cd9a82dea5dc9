package dev.cdcmigrator.examples.keiko;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.transform.ColumnFunction;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Keiko's v2 agent configuration: the flat v1 {@code config} becomes
 * {@code {"features": {<flag without supports_>: bool, ...}, "settings": {<every other key>}}}, leaving out
 * {@code description} and {@code tags}, which move to the agent's metadata.
 *
 * <p>A ColumnFunction because CEL cannot build a map whose keys are computed from another map's keys.
 */
public final class AgentConfiguration implements ColumnFunction {

    private static final String FLAG_PREFIX = "supports_";
    private static final Set<String> MOVED_TO_METADATA = Set.of("description", "tags");

    @Override
    public JsonNode apply(ObjectNode row) {
        JsonNode config = row.get("config");
        ObjectNode features = JsonNodeFactory.instance.objectNode();
        ObjectNode settings = JsonNodeFactory.instance.objectNode();
        if (config != null && config.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> entries = config.fields();
            while (entries.hasNext()) {
                Map.Entry<String, JsonNode> entry = entries.next();
                if (entry.getKey().startsWith(FLAG_PREFIX)) {
                    features.set(entry.getKey().substring(FLAG_PREFIX.length()), entry.getValue());
                } else if (!MOVED_TO_METADATA.contains(entry.getKey())) {
                    settings.set(entry.getKey(), entry.getValue());
                }
            }
        }
        ObjectNode configuration = JsonNodeFactory.instance.objectNode();
        configuration.set("features", features);
        configuration.set("settings", settings);
        return configuration;
    }
}
