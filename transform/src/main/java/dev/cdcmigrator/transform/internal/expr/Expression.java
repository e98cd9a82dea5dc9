package dev.cdcmigrator.transform.internal.expr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelSource;
import dev.cel.common.CelSourceLocation;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.CelKind;
import dev.cel.common.types.CelTypes;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A compiled expression over one v1 row, bound as the variable {@code row} (a map of column name to value).
 *
 * <p>The language is <a href="https://github.com/google/cel-spec">CEL</a> (cel-java), type-checked at compile time,
 * with {@code row} declared as {@code map(string, dyn)}. Available: the standard library and macros ({@code has},
 * {@code all}, {@code exists}, {@code exists_one}, {@code map}, {@code filter}); optional syntax
 * ({@code row.?x}, {@code row[?'x']}, {@code .orValue()}, {@code optional.of/none}); and the extensions
 * {@code strings} ({@code lowerAscii}, {@code upperAscii}, {@code trim}, {@code replace}, {@code split},
 * {@code join}, {@code substring}, {@code indexOf}, {@code lastIndexOf}, {@code charAt}, {@code quote},
 * {@code reverse}; no {@code format}), {@code lists} ({@code distinct},
 * {@code flatten}, {@code sort}, {@code sortBy}, {@code slice}, {@code reverse}, {@code lists.range}), {@code sets}
 * ({@code sets.contains}, {@code sets.intersects}, {@code sets.equivalent}), {@code math}, {@code regex}
 * ({@code regex.extract}, {@code regex.replace}), {@code base64} encoders, {@code cel.bind} and two-variable
 * comprehensions ({@code transformMap}, {@code transformList}, ...). Examples:
 * <pre>
 *   row.params.urgent == true ? 'high' : row.params.background == true ? 'low' : 'normal'
 *   {'migrated_from': 'v1.x', 'original_status': row.status}
 *   ((row.config.supports_text_processing == true ? ['text_processing'] : [])
 *       + (row.agent_type == 'text_processor' ? ['text_processing', 'summarization'] : [])).distinct()
 * </pre>
 * De-duplication: {@code list.distinct()} keeps the first occurrence of each element, in order.
 *
 * <h2>Missing keys and defaults</h2>
 * Standard CEL semantics: reading an absent key ({@code row.nope}, {@code row.params.urgent} when the jsonb object
 * has no {@code urgent}) is a run-time error, so {@link #evaluate} throws an {@link ExpressionException}
 * ({@code "... key 'urgent' is not present in map."}) and the row is dead-lettered with that reason; a typo never
 * silently becomes null. A key that is present with a JSON/SQL null reads as {@code null} ({@code row.x == null}).
 * Where a key may legitimately be absent, say so in the expression:
 * <ul>
 *   <li>{@code row.params.?urgent.orValue(false)}: the value, or the default when absent
 *       ({@code row.?params.?urgent.orValue(false)} when {@code params} itself may be absent);</li>
 *   <li>{@code has(row.params.urgent) && row.params.urgent == true}: presence test.</li>
 * </ul>
 * Both still fail when {@code params} is present but null or not an object (selecting a field of null is an error).
 * Logical operators are error-absorbing as in CEL: {@code false && row.nope} is {@code false}.
 *
 * <h2>Values</h2>
 * Into CEL (from the row as {@code Json.MAPPER} reads it): text to {@code string}; integral numbers to {@code int}
 * (64-bit, exact; an integer beyond 64 bits fails the row rather than lose digits); other numbers (the BigDecimals
 * of float and numeric columns, NaN, Infinity) to {@code double}; booleans to {@code bool}; null to {@code null};
 * objects (jsonb) to {@code map(string, dyn)}; arrays to {@code list(dyn)}; binary nodes to {@code bytes}.
 * Numbers keep their JSON kind: {@code 5} in jsonb is an {@code int}, {@code 5.0} a {@code double}. CEL's equality
 * and ordering compare int and double by value ({@code row.n == 5.0} is true for an int 5), but arithmetic does not
 * mix them: with a {@code dyn} operand the checker picks the overload from the literal, so {@code row.price * 2} is
 * int multiplication and fails on a double; write {@code row.price * 2.0} or {@code double(row.price) * 2.0}.
 * <p>Out of CEL (the result of {@link #evaluate}): {@code string}, {@code bool}, {@code null} to the matching node;
 * {@code int} and {@code uint} to an integral node (IntNode when it fits, as {@code Json.MAPPER} reads); a finite
 * {@code double} to a DecimalNode ({@code BigDecimal.valueOf}, the shortest exact decimal, as {@code Json.MAPPER}
 * reads floats) and NaN/Infinity to the text {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}; a map to an
 * ObjectNode (non-string keys, which CEL allows for int/uint/bool, become their text); a list to an ArrayNode; an
 * optional to its value, or null when empty. Values JSON has no type for become text: {@code bytes} as base64,
 * {@code timestamp} as ISO-8601 ({@code 2024-01-02T03:04:05Z}), {@code duration} as ISO-8601 ({@code PT1M30S}), a
 * type ({@code type(x)}) as its name.
 *
 * <h2>Cost</h2>
 * Parsing and type-checking happen once, in {@link #compile}; {@link #evaluate} converts only the columns the
 * expression names (the whole row only when it uses {@code row} other than as {@code row.x}/{@code row['x']}) and
 * runs the pre-planned program. Instances are immutable and thread-safe.
 */
public final class Expression {

    /** The name CEL gives the source in positions; only used to recognize them in run-time messages. */
    private static final String DESCRIPTION = "expression";

    /** "evaluation error at expression:10: key 'x' is not present in map." (offset in code points). */
    private static final Pattern RUNTIME_ERROR =
            Pattern.compile("evaluation error(?: at " + Pattern.quote(DESCRIPTION) + ":(\\d+))?: (.*)", Pattern.DOTALL);

    private static final int MAX_VALUE_TEXT = 120;

    private final String source;
    private final CelSource celSource;
    private final CelRuntime.Program program;
    private final Set<String> referencedColumns;
    /** The columns bound into {@code row} on each evaluation; null: all of them. */
    private final String[] boundColumns;
    private final String resultType;
    private final CelKind resultKind;

    private Expression(String source, CelAbstractSyntaxTree ast, CelRuntime.Program program) {
        this.source = source;
        this.celSource = ast.getSource();
        this.program = program;
        RowReferences refs = RowReferences.of(ast.getExpr());
        this.referencedColumns = Collections.unmodifiableSet(refs.columns());
        this.boundColumns = refs.readsWholeRow() ? null : refs.columns().toArray(new String[0]);
        this.resultType = CelTypes.format(ast.getResultType());
        this.resultKind = ast.getResultType().kind();
    }

    /**
     * Parses and type-checks {@code source}.
     *
     * @param source CEL text over the variable {@code row}
     * @return the compiled expression, ready to evaluate on any number of rows
     * @throws ExpressionException for a syntax or type error, with CEL's message per error: line:column, the reason,
     *     and the source line with a caret under the spot, e.g.
     *     <pre>
     *     invalid expression: 1:4: undeclared reference to 'foo' (in container '')
     *      | foo(row.n)
     *      | ...^</pre>
     */
    public static Expression compile(String source) {
        Objects.requireNonNull(source, "source");
        CelValidationResult result = CelEnvironment.COMPILER.compile(source, DESCRIPTION);
        if (result.hasError()) {
            throw new ExpressionException(source, "invalid expression: " + describe(result.getErrors(), result.getSource()));
        }
        try {
            CelAbstractSyntaxTree ast = result.getAst();
            return new Expression(source, ast, CelEnvironment.RUNTIME.createProgram(ast));
        } catch (CelValidationException | CelEvaluationException e) {
            // Not expected once checking passed (planning only resolves what the checker already resolved).
            throw new ExpressionException(source, "invalid expression `" + source + "`: " + e.getMessage(), e);
        }
    }

    /**
     * Like {@link #compile}, for a row filter: also rejects, at start-up, an expression whose type is known not to be
     * {@code bool} (an expression of type {@code dyn}, such as {@code row.flag}, is accepted and checked per row by
     * {@link #test}).
     *
     * @param source CEL text over the variable {@code row}
     * @return the compiled filter
     * @throws ExpressionException as {@link #compile} does, or {@code "a filter must be a bool expression, ..."}
     */
    public static Expression compileFilter(String source) {
        Expression expression = compile(source);
        if (expression.resultKind != CelKind.BOOL && expression.resultKind != CelKind.DYN) {
            throw new ExpressionException(source, "a filter must be a bool expression, `" + source + "` is of type "
                    + expression.resultType);
        }
        return expression;
    }

    /**
     * Evaluates the expression on one row.
     *
     * @param row the v1 row, column name to value, as {@code Json.MAPPER} reads it (jsonb columns as objects/arrays)
     * @return the value as a Jackson tree (see the class javadoc for the mapping); a fresh tree, owned by the caller
     * @throws ExpressionException when the evaluation fails (absent key, division by zero, no overload for the run-time
     *     types, int overflow, ...): {@code "expression `...` failed at 1:11: key 'urgent' is not present in map."}
     */
    public JsonNode evaluate(ObjectNode row) {
        return CelValues.toJson(eval(row));
    }

    /**
     * Evaluates the expression on one row as a filter.
     *
     * @param row the v1 row, as for {@link #evaluate}
     * @return the boolean the expression evaluates to
     * @throws ExpressionException when the evaluation fails (as {@link #evaluate}), or when it gives anything but a
     *     bool (null included): {@code "expected a boolean, got string \"ok\" from expression `row.status`"}
     */
    public boolean test(ObjectNode row) {
        Object value = eval(row);
        if (value instanceof Boolean) {
            return (Boolean) value;
        }
        String text = CelValues.toJson(value).toString();
        if (text.codePointCount(0, text.length()) > MAX_VALUE_TEXT) {
            text = text.substring(0, text.offsetByCodePoints(0, MAX_VALUE_TEXT)) + "...";
        }
        String type = CelValues.celTypeName(value);
        throw new ExpressionException(source, "expected a boolean, got " + ("null".equals(type) ? "null" : type + " " + text)
                + " from expression `" + source + "`");
    }

    /** The source text, as given to {@link #compile}. */
    public String source() {
        return source;
    }

    /**
     * The top-level columns the expression reads by name: {@code row.<name>}, {@code row['name']}, and also
     * {@code has(row.name)}, {@code row.?name}, {@code row[?'name']} (on a v1 row every column of the table is present,
     * so a name that is not a column is a mistake there too). Best effort from the AST: a computed key
     * ({@code row[k]}) or the row used whole ({@code row.size()}, {@code 'x' in row}) reads columns not listed here.
     * Nested keys ({@code urgent} in {@code row.params.urgent}) are not columns and are not listed.
     *
     * @return the names in order of first appearance; unmodifiable
     */
    public Set<String> referencedColumns() {
        return referencedColumns;
    }

    /**
     * Whether the expression uses {@code row} other than by a constant column name ({@code row.size()},
     * {@code 'x' in row}, {@code row[k]} with a computed key, {@code row} alone): it may then read any column, and
     * {@link #referencedColumns} is only what it names.
     */
    public boolean readsWholeRow() {
        return boundColumns == null;
    }

    /**
     * The type the checker inferred for the result, in CEL notation: {@code bool}, {@code string}, {@code int},
     * {@code list(string)}, {@code map(string, dyn)}, or {@code dyn} when it depends on the row. For start-up checks
     * against the target column.
     */
    public String resultType() {
        return resultType;
    }

    /** The source text. */
    @Override
    public String toString() {
        return source;
    }

    private Object eval(ObjectNode row) {
        Map<String, Object> celRow;
        try {
            celRow = CelValues.toCelRow(row, boundColumns);
        } catch (IllegalArgumentException e) {
            throw new ExpressionException(source,
                    "expression `" + source + "` cannot read the row: " + e.getMessage(), e);
        }
        try {
            return program.eval(Map.of(CelEnvironment.ROW, celRow));
        } catch (CelEvaluationException e) {
            throw new ExpressionException(source, describe(e), e);
        } catch (RuntimeException e) {
            // The runtime reports every evaluation failure as CelEvaluationException; anything else is a CEL defect,
            // still a per-row failure rather than a reason to stop the pipeline.
            throw new ExpressionException(source, "expression `" + source + "` failed: " + e, e);
        }
    }

    /** "expression `src` failed at line:column: reason", the position turned from CEL's code point offset. */
    private String describe(CelEvaluationException e) {
        String message = String.valueOf(e.getMessage());
        Matcher m = RUNTIME_ERROR.matcher(message);
        if (!m.matches()) {
            return "expression `" + source + "` failed: " + message;
        }
        String reason = m.group(2);
        String at = "";
        if (m.group(1) != null) {
            CelSourceLocation location = celSource.getOffsetLocation(Integer.parseInt(m.group(1))).orElse(null);
            if (location != null) {
                at = " at " + location.getLine() + ":" + (location.getColumn() + 1);
            }
        }
        return "expression `" + source + "` failed" + at + ": " + reason;
    }

    /** CEL's own rendering of each issue, with "ERROR: expression:" (severity and description) dropped. */
    static String describe(List<CelIssue> issues, CelSource source) {
        StringBuilder text = new StringBuilder();
        for (CelIssue issue : issues) {
            if (text.length() > 0) {
                text.append('\n');
            }
            String display = issue.toDisplayString(source);
            String prefix = issue.getSeverity() + ": " + DESCRIPTION + ":";
            text.append(display.startsWith(prefix) ? display.substring(prefix.length()) : display);
        }
        return text.toString();
    }
}
