package dev.cdcmigrator.common.spec;

/** Validation of names the spec puts into SQL and topic names. */
final class Identifiers {

    /** PostgreSQL's NAMEDATALEN - 1: a longer name is truncated by PostgreSQL, so it would name another object. */
    static final int MAX_BYTES = 63;

    private Identifiers() {
    }

    /**
     * {@code name} if PostgreSQL accepts it as a quoted identifier: not empty, no NUL, at most 63 bytes in UTF-8.
     * Every stage quotes names ({@code SqlText.quote}) and derives topic names from them ({@code Topics}), so any such
     * name works, reserved words, spaces, quotes and non-ASCII letters included.
     */
    static String requireValid(String name, String what) {
        if (name == null) {
            throw new IllegalArgumentException(what + " is required");
        }
        String problem = name.isEmpty() ? "is empty"
                : name.indexOf('\0') >= 0 ? "contains a NUL character"
                : name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_BYTES
                ? "is " + name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + " bytes long in UTF-8"
                : null;
        if (problem != null) {
            throw new IllegalArgumentException("'" + name + "' is not valid as " + what + ": it " + problem
                    + " (PostgreSQL takes any name of 1 to " + MAX_BYTES + " bytes in UTF-8 without NUL)");
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
