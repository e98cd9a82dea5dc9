package dev.cdcmigrator.common.spec;

import java.util.regex.Pattern;

/** Validation of names the spec puts into SQL and topic names. */
final class Identifiers {

    // Unquoted PostgreSQL identifiers only: the migrator quotes them in SQL, but topic and slot names allow less.
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    private Identifiers() {
    }

    static String requireValid(String name, String what) {
        if (name == null) {
            throw new IllegalArgumentException(what + " is required");
        }
        if (!IDENTIFIER.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not valid as " + what
                    + " (letters, digits and _, not starting with a digit, at most 63 characters)");
        }
        return name;
    }

    static String requireText(String value, String what) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(what + " is required");
        }
        return value;
    }
}
