package dev.cdcmigrator.common.spec;

import java.util.LinkedHashMap;
import java.util.Map;

/** Pass-through settings (Kafka client, Debezium): names to scalar values, kept as text as those libraries take them. */
final class Settings {

    private Settings() {
    }

    static Map<String, Object> of(Map<String, Object> settings, String what) {
        if (settings == null) {
            return Map.of();
        }
        Map<String, Object> copy = new LinkedHashMap<>();
        settings.forEach((name, value) -> {
            if (name.isBlank()) {
                throw new IllegalArgumentException(what + " has a setting without a name");
            }
            if (value instanceof Map || value instanceof Iterable) {
                throw new IllegalArgumentException(what + " setting " + name + " must be a single value (text, number or true/false)");
            }
            copy.put(name, value == null ? null : String.valueOf(value));
        });
        return java.util.Collections.unmodifiableMap(copy);
    }
}
