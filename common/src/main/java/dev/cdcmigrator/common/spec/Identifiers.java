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

    /**
     * Checks the sources a column or dimension names: {@code from} a valid column name, {@code expr} non-blank, and
     * exactly one of them and {@code others} (by key, in the order to list them) given.
     *
     * @param what "a column", "a dimension": names the thing in the message
     */
    static void requireOneSource(String what, String from, String expr, Object value, java.util.Map<String, Object> others) {
        java.util.List<String> given = new java.util.ArrayList<>();
        if (from != null) {
            requireValid(from, "a v1 column name");
            given.add("from");
        }
        if (expr != null) {
            requireText(expr, "expr");
            given.add("expr");
        }
        if (value != null) {
            given.add("value");
        }
        others.forEach((key, other) -> {
            if (other != null) {
                given.add(key);
            }
        });
        if (given.size() != 1) {
            String keys = "from, expr, value or " + String.join(" or ", others.keySet());
            throw new IllegalArgumentException(given.isEmpty()
                    ? what + " needs one of " + keys
                    : what + " takes only one of " + keys + ", not " + String.join(" and ", given));
        }
    }
}
