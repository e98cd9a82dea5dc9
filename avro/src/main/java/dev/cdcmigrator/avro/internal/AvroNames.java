package dev.cdcmigrator.avro.internal;

import java.util.Locale;
import java.util.regex.Pattern;

/** Avro names (records, fields, namespaces) from PostgreSQL identifiers, which allow far more characters. */
public final class AvroNames {

    private static final Pattern VALID = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private AvroNames() {
    }

    /**
     * A valid Avro name for a PostgreSQL identifier: every character outside {@code [A-Za-z0-9_]} becomes {@code _},
     * and a name that would start with a digit (or be empty) gets a leading {@code _}. Valid names stay as they are,
     * so the usual lower-case snake_case columns keep their names.
     */
    public static String field(String identifier) {
        if (VALID.matcher(identifier).matches()) {
            return identifier;
        }
        StringBuilder name = new StringBuilder(identifier.length() + 1);
        identifier.codePoints().forEach(c -> name.append(c < 128 && (Character.isLetterOrDigit(c) || c == '_') ? (char) c : '_'));
        if (name.length() == 0 || Character.isDigit(name.charAt(0))) {
            name.insert(0, '_');
        }
        return name.toString();
    }

    /** Whether {@code name} is a valid Avro name (one component, no dots). */
    public static boolean isValid(String name) {
        return VALID.matcher(name).matches();
    }

    /**
     * A valid Avro namespace from dot-separated parts, each part made a valid name by {@link #field(String)} (and
     * lower-cased, as namespaces conventionally are).
     */
    public static String namespace(String... parts) {
        StringBuilder namespace = new StringBuilder();
        for (String part : parts) {
            for (String component : part.split("\\.")) {
                if (component.isEmpty()) {
                    continue;
                }
                if (namespace.length() > 0) {
                    namespace.append('.');
                }
                namespace.append(field(component.toLowerCase(Locale.ROOT)));
            }
        }
        return namespace.toString();
    }
}
