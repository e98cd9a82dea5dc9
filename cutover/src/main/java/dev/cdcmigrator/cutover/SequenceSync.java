package dev.cdcmigrator.cutover;

import static dev.cdcmigrator.common.SqlText.quote;
import static dev.cdcmigrator.common.SqlText.quoteIfNeeded;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Catalog.Relation;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Moves the v2 sequences past the ids the migration wrote, before the application writes to v2.
 *
 * <p>Logical replication does not carry sequences: the sink writes every id explicitly, so a serial, bigserial or
 * identity column's sequence in v2 still stands where it was created, and the application's first INSERT after the
 * cutover would collide with a migrated row. For each sequence owned by a column of a v2 table the spec maps into
 * (serial and bigserial: an automatic dependency, {@code OWNED BY}; identity columns: an internal one), this sets
 * {@code setval(seq, max(column) + margin, true)}, so the next value is {@code max + margin + increment}. The margin
 * leaves room for rows the sink still writes between this and the switch of the writes.
 *
 * <p>It never moves a sequence backwards: one whose next value is already at least that is left as it is. A sequence
 * of an empty table is left as it is. Descending sequences (negative increments) are not handled: reported and left.
 * Sequences not owned by a column of a mapped table are not looked at.
 *
 * <p>The read of the sequence and its setval are two steps: run this while nothing but the sink writes to v2 (the sink
 * writes explicit ids and never calls nextval), that is before the application's writes move over.
 */
public final class SequenceSync {

    /** The default safety gap between the largest id used and the next value. */
    public static final long DEFAULT_MARGIN = 1000;

    private static final String APPLICATION = "migrator-sync-sequences";
    private static final Set<String> INTEGER_TYPES = Set.of("smallint", "integer", "bigint");

    /** What happened to one sequence. */
    public enum Outcome {
        /** Set past the largest id. */
        SET,
        /** Would be set; a dry run changed nothing. */
        WOULD_SET,
        /** Already at or past the largest id plus the margin; left as it is. */
        AHEAD,
        /** The table is empty; left as it is. */
        EMPTY,
        /** Not handled (e.g. a descending sequence) or the table is missing; left as it is. A warning. */
        SKIPPED,
        /** Setting it failed; the message says why. An error. */
        FAILED
    }

    /**
     * One sequence (or, for {@link Outcome#SKIPPED} of a missing table, one table).
     *
     * @param column {@code schema.table.column} in v2 ({@code schema.table} when the table is missing)
     * @param sequence the sequence, schema-qualified; null when the table is missing
     * @param outcome what happened
     * @param maxUsed the largest value in the column; null when the table is empty or it was not read
     * @param nextBefore the value nextval would have returned before; null when it was not read
     * @param nextAfter the value nextval returns after (equal to {@code nextBefore} when unchanged)
     * @param margin the margin used
     * @param reason why it was skipped or failed, and what to do; null otherwise
     */
    public record Result(String column, String sequence, Outcome outcome, Long maxUsed, Long nextBefore, Long nextAfter,
                         long margin, String reason) {

        /** Whether it is a warning or an error. */
        public boolean problem() {
            return outcome == Outcome.SKIPPED || outcome == Outcome.FAILED;
        }

        /** One line for the operator. */
        @Override
        public String toString() {
            String head = column + (sequence == null ? "" : ": sequence " + sequence);
            return switch (outcome) {
                case SET -> head + ", max used " + maxUsed + ", next value " + nextBefore + " -> " + nextAfter;
                case WOULD_SET -> head + ", max used " + maxUsed + ", next value " + nextBefore + " -> " + nextAfter
                        + " (dry run: not changed)";
                case AHEAD -> head + ", max used " + maxUsed + ", next value " + nextBefore
                        + " unchanged (already past max used + margin " + margin + ")";
                case EMPTY -> head + ", table empty, next value " + nextBefore + " unchanged";
                case SKIPPED -> "WARNING " + head + ": " + reason;
                case FAILED -> "ERROR   " + head + ": " + reason;
            };
        }
    }

    private SequenceSync() {
    }

    /**
     * Connects to the spec's v2 database and syncs its sequences.
     *
     * @throws UnreachableException if the v2 database cannot be reached
     * @throws SQLException if reading the catalog fails
     */
    public static List<Result> sync(Spec spec, long margin, boolean dryRun) throws SQLException {
        var target = spec.target();
        try (Connection c = Connections.open(UnreachableException.What.TARGET, target.url(), target.user(),
                target.password(), APPLICATION)) {
            return sync(spec, c, margin, dryRun);
        }
    }

    /**
     * Syncs every sequence owned by a column of a v2 table the spec maps into, in table then column order.
     *
     * @param target a connection to the v2 database, in autocommit mode
     * @param margin added to the largest id (at least 0)
     * @param dryRun when true, reads only
     * @throws SQLException if reading the catalog fails (a failing setval is a {@link Outcome#FAILED} result instead)
     */
    public static List<Result> sync(Spec spec, Connection target, long margin, boolean dryRun) throws SQLException {
        if (margin < 0) {
            throw new IllegalArgumentException("the margin must not be negative, was " + margin);
        }
        String schema = spec.target().schema();
        Set<String> tables = new TreeSet<>();
        spec.tables().forEach((v1, table) -> tables.addAll(table.v2Tables(v1)));
        List<Result> results = new ArrayList<>();
        for (String table : tables) {
            String qualified = quoteIfNeeded(schema) + "." + quoteIfNeeded(table);
            Optional<Relation> relation = Catalog.relation(target, schema, table);
            if (relation.isEmpty() || !relation.get().isTable()) {
                results.add(new Result(qualified, null, Outcome.SKIPPED, null, null, null, margin,
                        relation.isEmpty() ? "table does not exist in v2 (the spec maps into it); skipped"
                                : "is a " + relation.get().kindName() + ", not a table; skipped"));
                continue;
            }
            for (OwnedSequence owned : ownedSequences(target, relation.get().oid())) {
                results.add(sync(target, schema, table, qualified, owned, margin, dryRun));
            }
        }
        return results;
    }

    /** A sequence owned by a column: serial/bigserial (deptype a) or identity (deptype i). */
    private record OwnedSequence(String column, String columnType, String schema, String name, long increment,
                                 long min, long max) {

        String qualified() {
            return quoteIfNeeded(schema) + "." + quoteIfNeeded(name);
        }

        String sql() {
            return quote(schema) + "." + quote(name);
        }
    }

    private static List<OwnedSequence> ownedSequences(Connection c, long table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname, format_type(a.atttypid, NULL), sn.nspname, sc.relname,
                       s.seqincrement, s.seqmin, s.seqmax
                FROM pg_depend d
                JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
                JOIN pg_namespace sn ON sn.oid = sc.relnamespace
                JOIN pg_sequence s ON s.seqrelid = sc.oid
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = ? AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') AND NOT a.attisdropped
                ORDER BY a.attnum, sc.relname""")) {
            ps.setLong(1, table);
            List<OwnedSequence> sequences = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    sequences.add(new OwnedSequence(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getLong(5), rs.getLong(6), rs.getLong(7)));
                }
            }
            return sequences;
        }
    }

    private static Result sync(Connection c, String schema, String table, String qualifiedTable, OwnedSequence seq,
                               long margin, boolean dryRun) {
        String column = qualifiedTable + "." + quoteIfNeeded(seq.column());
        String sequence = seq.qualified();
        try {
            if (seq.increment() < 0) {
                return new Result(column, sequence, Outcome.SKIPPED, null, null, null, margin, "increments by "
                        + seq.increment() + " (descending): not handled, left unchanged; set it below the smallest id "
                        + "by hand: SELECT setval(" + dev.cdcmigrator.common.SqlText.literal(sequence) + ", min(" + quoteIfNeeded(seq.column()) + ") - " + margin
                        + ", false) FROM " + qualifiedTable);
            }
            if (!INTEGER_TYPES.contains(seq.columnType())) {
                return new Result(column, sequence, Outcome.SKIPPED, null, null, null, margin, "the column is "
                        + seq.columnType() + ", not an integer: not handled, left unchanged");
            }
            long last;
            boolean called;
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT last_value, is_called FROM " + seq.sql())) {
                rs.next();
                last = rs.getLong(1);
                called = rs.getBoolean(2);
            }
            long nextBefore = called ? saturatedAdd(last, seq.increment()) : last;
            Long maxUsed;
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT max(" + quote(seq.column()) + ") FROM " + quote(schema) + "."
                         + quote(table))) {
                rs.next();
                long value = rs.getLong(1);
                maxUsed = rs.wasNull() ? null : value;
            }
            if (maxUsed == null) {
                return new Result(column, sequence, Outcome.EMPTY, null, nextBefore, nextBefore, margin, null);
            }
            long wanted = saturatedAdd(maxUsed, margin);
            long nextAfter = saturatedAdd(wanted, seq.increment());
            if (nextBefore >= nextAfter) {
                return new Result(column, sequence, Outcome.AHEAD, maxUsed, nextBefore, nextBefore, margin, null);
            }
            if (wanted > seq.max() || wanted == Long.MAX_VALUE) {
                return new Result(column, sequence, Outcome.SKIPPED, maxUsed, nextBefore, nextBefore, margin,
                        "max used " + maxUsed + " + margin " + margin + " is past the sequence's maximum " + seq.max()
                                + ": left unchanged; use a smaller --margin, or widen it (ALTER SEQUENCE " + sequence
                                + " AS bigint, and the column too)");
            }
            if (dryRun) {
                return new Result(column, sequence, Outcome.WOULD_SET, maxUsed, nextBefore, nextAfter, margin, null);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT setval(?::regclass, ?, true)")) {
                ps.setString(1, seq.sql());
                ps.setLong(2, wanted);
                ps.executeQuery().close();
            }
            return new Result(column, sequence, Outcome.SET, maxUsed, nextBefore, nextAfter, margin, null);
        } catch (SQLException e) {
            String fix = "42501".equals(e.getSQLState())
                    ? "; fix: GRANT SELECT, UPDATE ON SEQUENCE " + sequence + " and SELECT ON " + qualifiedTable
                    + " to the spec's target.user, then run this again" : "";
            return new Result(column, sequence, Outcome.FAILED, null, null, null, margin,
                    "could not be synced: " + Connections.describe(e) + fix);
        }
    }

    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        // Overflow only when both have the same sign and the sum's sign differs.
        if (((a ^ sum) & (b ^ sum)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return sum;
    }
}
