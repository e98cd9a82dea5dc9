package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.common.serde.Json;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/** A spec as it is in force, for the start-up log: every default filled in, every secret masked. */
public final class EffectiveConfiguration {

    static final String MASK = "****";

    /** Names whose values are secrets: passwords, JAAS configurations, tokens, credentials, private keys. */
    private static final Pattern SECRET_NAME = Pattern.compile("password|secret|jaas|token|credential|key\\.pem|keystore\\.key|private");
    private static final Pattern URL_SECRET = Pattern.compile("((?:password|secret|token)=)[^&;]*", Pattern.CASE_INSENSITIVE);

    private EffectiveConfiguration() {
    }

    /** The spec as one line of JSON, secrets masked. */
    public static String of(Spec spec) {
        JsonNode tree = Json.MAPPER.valueToTree(spec);
        mask(tree);
        return tree.toString();
    }

    private static void mask(JsonNode node) {
        if (node instanceof ObjectNode object) {
            Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                if (field.getValue().isTextual()) {
                    boolean secret = SECRET_NAME.matcher(field.getKey().toLowerCase(Locale.ROOT)).find();
                    field.setValue(TextNode.valueOf(secret && !field.getValue().asText().isEmpty() ? MASK
                            : URL_SECRET.matcher(field.getValue().asText()).replaceAll("$1" + MASK)));
                } else {
                    mask(field.getValue());
                }
            }
        } else if (node.isArray()) {
            node.forEach(EffectiveConfiguration::mask);
        }
    }
}
