package dev.cdcmigrator.common;

/** Names and text written into SQL statements: every stage quotes them here, the one way PostgreSQL reads them. */
public final class SqlText {

    private SqlText() {
    }

    /** {@code name} as a quoted identifier: {@code "Order ""Lines"""}; any name PostgreSQL accepts. */
    public static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** {@code name} quoted only where PostgreSQL needs it, for statements an operator reads and runs. */
    public static String quoteIfNeeded(String identifier) {
        return identifier.matches("[a-z_][a-z0-9_$]*") ? identifier : quote(identifier);
    }

    /** {@code text} as a string literal ({@code standard_conforming_strings} is on since PostgreSQL 9.1). */
    public static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }
}
