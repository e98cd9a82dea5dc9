package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.transform.internal.expr.Expression;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What the compiled mapping of one v1 table reads of its rows, collected from the compiled parts themselves (for
 * expressions, CEL's checked AST): every column read by name with the spec path that reads it, and each part that may
 * read any column.
 */
public final class SpecReads {

    /**
     * One read of a v1 column.
     *
     * @param column the v1 column
     * @param path the spec path that reads it, e.g. {@code tables.users.columns.name.from}
     * @param copied true when the spec names the column itself ({@code from}, a lookup's {@code key}), false when an
     *               expression reads it
     * @param neededBy what needs it, for messages: {@code v2 column accounts.name}, {@code the filter of ...}
     */
    public record Read(String column, String path, boolean copied, String neededBy) {
    }

    private final List<Read> reads = new ArrayList<>();
    private final List<String> wholeRow = new ArrayList<>();

    SpecReads() {
    }

    void copied(String column, String path, String neededBy) {
        reads.add(new Read(column, path, true, neededBy));
    }

    void expression(Expression expression, String path, String neededBy) {
        expression.referencedColumns().forEach(column -> reads.add(new Read(column, path, false, neededBy)));
        if (expression.readsWholeRow()) {
            wholeRow.add(path + " uses the row as a whole (`" + expression.source() + "`)");
        }
    }

    void anyColumn(String reason) {
        wholeRow.add(reason);
    }

    /** Every read, in spec order (mappings, then dimensions). */
    public List<Read> reads() {
        return Collections.unmodifiableList(reads);
    }

    /** Why the mapping may read columns it does not name, one reason per part, in spec order; empty when it may not. */
    public List<String> wholeRow() {
        return Collections.unmodifiableList(wholeRow);
    }
}
