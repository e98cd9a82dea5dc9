package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/**
 * A change to one v2 row: the value of a {@code <prefix>.v2.<table>} topic record, keyed by {@link #key()}.
 * Column values are JSON scalars in a form PostgreSQL accepts as input for the column's type (numbers exact,
 * temporal values as ISO-8601 text, bytea as {@code \x} hex), or JSON objects/arrays for json and jsonb columns.
 *
 * <p>A change of a v1 table without a primary key ({@link #keyless()}) has an empty key, and all of a table's such
 * changes share that key, hence one partition and commit order. It is applied with multiset semantics: a create or
 * read inserts a row, an update or delete acts on one v2 row holding exactly the values of {@code before}, and a
 * {@link Op#TRUNCATE} removes every row of the v2 table.
 *
 * @param op the kind of change; {@link Op#DELETE} and {@link Op#TRUNCATE} have no {@code after}
 * @param table the v2 table (unqualified; the target schema is in the spec)
 * @param key the v2 key columns and values; empty for a keyless change
 * @param after the full v2 row image, null for a delete or truncate
 * @param source where on v1 the change came from
 * @param before for a keyless update or delete, the v2 row image its old values map to (the row to act on); null
 *               otherwise
 * @param unchanged the v2 columns of an update that keep the value the v2 row has: copies of unchanged TOASTed v1
 *                  values the change did not carry (see {@link #partial()}); they are not in {@code after}, which then
 *                  holds only the other columns. Empty otherwise, and then left out of the JSON
 */
public record V2Change(Op op, String table, ObjectNode key, ObjectNode after, SourcePosition source,
                       @JsonInclude(JsonInclude.Include.NON_NULL) ObjectNode before,
                       @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> unchanged) {

    public V2Change {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(key, "key");
        unchanged = unchanged == null ? List.of() : List.copyOf(unchanged);
        if (!unchanged.isEmpty() && (op != Op.UPDATE || key.isEmpty())) {
            throw new IllegalArgumentException("only an update of a keyed row leaves columns unchanged (op " + op.code() + ")");
        }
        if (unchanged.stream().anyMatch(column -> after.has(column))) {
            throw new IllegalArgumentException("a column left unchanged is not written too: " + unchanged + " in " + after);
        }
        if ((op == Op.DELETE || op == Op.TRUNCATE) != (after == null)) {
            throw new IllegalArgumentException("a delete or truncate has no row image and every other change has one (op " + op.code() + ")");
        }
        if (!key.isEmpty() && (before != null || op == Op.TRUNCATE)) {
            throw new IllegalArgumentException("only a keyless change (empty key) has old values or truncates (op " + op.code() + ")");
        }
        if (key.isEmpty() && (op == Op.UPDATE || op == Op.DELETE) && before == null) {
            throw new IllegalArgumentException("a keyless update or delete needs the old values of its row (op " + op.code() + ")");
        }
    }

    /** A change of a row identified by its key. */
    public V2Change(Op op, String table, ObjectNode key, ObjectNode after, SourcePosition source) {
        this(op, table, key, after, source, null, List.of());
    }

    /** A change whose every column is in {@code after} (or a delete). */
    public V2Change(Op op, String table, ObjectNode key, ObjectNode after, SourcePosition source, ObjectNode before) {
        this(op, table, key, after, source, before, List.of());
    }

    /**
     * Whether this update leaves some columns as the v2 row has them ({@link #unchanged()}): it can only change an
     * existing row, never insert one, since it does not know every value.
     */
    public boolean partial() {
        return !unchanged.isEmpty();
    }

    /**
     * This change and an earlier one of the same row as one change, as the sink applies a row's changes reduced to
     * one: a full image or a delete stands for itself; a partial update takes the values it leaves unchanged from an
     * earlier row image, and stays partial in the columns that image lacks too.
     */
    public V2Change onTopOf(V2Change earlier) {
        if (!partial() || earlier.after() == null) {
            return this;
        }
        ObjectNode merged = earlier.after().deepCopy();
        merged.setAll(after);
        List<String> stillUnchanged = unchanged.stream().filter(column -> !earlier.after().has(column)).toList();
        return new V2Change(op, table, key, merged, source, null, stillUnchanged);
    }

    /** Whether this is a change of a v2 row without a key, applied by its values (see the class comment). */
    public boolean keyless() {
        return key.isEmpty();
    }

    /**
     * The text a column value is written as, for PostgreSQL to parse with the v2 column's input function: numbers
     * exact and never in exponent form, text as is, JSON objects and arrays as JSON; null for SQL NULL.
     */
    public static String inputText(JsonNode value) {
        return inputText(value, false);
    }

    /**
     * As {@link #inputText(JsonNode)}, and for a column of an array type a JSON array (how arrays travel, so that
     * expressions see lists) becomes PostgreSQL's array literal: {@code [1, null, [2]]} as <code>{1,NULL,{2}}</code>,
     * every non-null element quoted, so that the element type's input function parses it whatever it holds.
     */
    public static String inputText(JsonNode value, boolean arrayColumn) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (arrayColumn && value.isArray()) {
            StringBuilder literal = new StringBuilder();
            appendArray(literal, value);
            return literal.toString();
        }
        if (value.isBigDecimal()) {
            return value.decimalValue().toPlainString();
        }
        return value.isValueNode() ? value.asText() : value.toString();
    }

    private static void appendArray(StringBuilder literal, JsonNode array) {
        literal.append('{');
        for (int i = 0; i < array.size(); i++) {
            if (i > 0) {
                literal.append(',');
            }
            JsonNode element = array.get(i);
            if (element.isNull()) {
                literal.append("NULL");
            } else if (element.isArray()) {
                appendArray(literal, element);
            } else {
                literal.append('"');
                String text = inputText(element, false);
                for (int c = 0; c < text.length(); c++) {
                    char ch = text.charAt(c);
                    if (ch == '"' || ch == '\\') {
                        literal.append('\\');
                    }
                    literal.append(ch);
                }
                literal.append('"');
            }
        }
        literal.append('}');
    }
}
