package dev.cdcmigrator.common;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * What the migrator made. Each object a migration creates for itself on v1 or v2 (its publication, its heartbeat
 * table, its state schema) carries a comment naming the migration ({@code kafka.topicPrefix}); a stage uses an
 * existing object, and {@code migrator cleanup} drops one, only when it carries that mark. An object of the same name
 * that someone else made, or that belongs to another migration, is refused with the reason.
 *
 * <p>PostgreSQL lets only an object's owner comment on it, so the mark also says that its owner meant it for this
 * migration: the owner of the v1 tables who creates the publication for a migrator that owns none adds the mark with
 * it ({@link #commentStatement}, which {@code migrator check} prints in its advice).
 */
public final class Marks {

    /** The kinds of object the migrator marks. */
    public enum Kind {
        PUBLICATION("publication", "SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = ?"),
        TABLE("table", "SELECT obj_description(r.oid, 'pg_class') FROM (SELECT to_regclass(?) AS oid) r WHERE r.oid IS NOT NULL"),
        SCHEMA("schema", "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = ?");

        private final String noun;
        /** The object's comment, a row only when it exists; its one parameter is the name. */
        private final String commentQuery;

        Kind(String noun, String commentQuery) {
            this.noun = noun;
            this.commentQuery = commentQuery;
        }

        /** {@code publication}, {@code table} or {@code schema}. */
        public String noun() {
            return noun;
        }
    }

    /**
     * An object to mark or check.
     *
     * @param kind what it is
     * @param sqlName its name as SQL needs it (quoted, and schema-qualified for a table)
     * @param shown its name as an operator reads it
     * @param side {@code v1} or {@code v2}
     */
    public record Subject(Kind kind, String sqlName, String shown, String side) {

        /** A publication on v1. */
        public static Subject publication(String name) {
            return new Subject(Kind.PUBLICATION, SqlText.quote(name), name, "v1");
        }

        /** A table in {@code schema} on {@code side}. */
        public static Subject table(String side, String schema, String table) {
            return new Subject(Kind.TABLE, SqlText.quote(schema) + "." + SqlText.quote(table), schema + "." + table, side);
        }

        /** A schema on v2. */
        public static Subject schema(String name) {
            return new Subject(Kind.SCHEMA, SqlText.quote(name), name, "v2");
        }
    }

    private static final String PREFIX = "cdc-migrator migration ";

    private Marks() {
    }

    /** The comment that marks an object of {@code migration}. */
    public static String mark(String migration) {
        return PREFIX + migration;
    }

    /** Whether {@code comment} (null for none) is the mark of some migration, this one or another. */
    public static boolean isMark(String comment) {
        return comment != null && comment.startsWith(PREFIX);
    }

    /** {@code COMMENT ON <kind> <name> IS 'cdc-migrator migration <migration>'}. */
    public static String commentStatement(Subject subject, String migration) {
        return "COMMENT ON " + subject.kind().name() + " " + subject.sqlName() + " IS " + SqlText.literal(mark(migration));
    }

    /** Marks {@code subject}, which the caller has just created, as {@code migration}'s. */
    public static void mark(Connection c, Subject subject, String migration) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(commentStatement(subject, migration));
        }
    }

    /**
     * Why a stage must not use or drop {@code subject} as {@code migration}'s: it exists without the mark, or with
     * another migration's. Empty when it carries the mark or does not exist.
     */
    public static Optional<Refusal> refusal(Connection c, Subject subject, String migration) throws SQLException {
        Optional<Optional<String>> comment = comment(c, subject);
        if (comment.isEmpty() || comment.get().equals(Optional.of(mark(migration)))) {
            return Optional.empty();
        }
        String found = comment.get().filter(text -> text.startsWith(PREFIX))
                .map(text -> "belongs to migration " + text.substring(PREFIX.length()) + " (its comment says so)")
                .orElse("was not made by the migrator (it has " + comment.get().map(text -> "the comment "
                        + SqlText.literal(text)).orElse("no comment") + ", not the migrator's mark)");
        return Optional.of(new Refusal(subject.side() + " " + subject.kind().noun() + " " + subject.shown(), found
                + ": migration " + migration + " uses and drops only what it made, or what was made for it",
                "if it was made for this migration, mark it: " + commentStatement(subject, migration)
                        + "; otherwise choose another name (kafka.topicPrefix, target.stateSchema)"));
    }

    /** The object's comment (empty inside when it has none); empty outside when the object does not exist. */
    private static Optional<Optional<String>> comment(Connection c, Subject subject) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(subject.kind().commentQuery)) {
            // to_regclass parses its argument as SQL would; the catalogs hold publication and schema names as they are.
            ps.setString(1, subject.kind() == Kind.TABLE ? subject.sqlName() : subject.shown());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(Optional.ofNullable(rs.getString(1))) : Optional.empty();
            }
        }
    }
}
