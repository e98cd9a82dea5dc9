package dev.cdcmigrator.transform.internal.expr;

import dev.cel.common.ast.CelConstant;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.ast.CelExpr.CelCall;
import dev.cel.common.ast.CelExpr.CelComprehension;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Which top-level columns of {@code row} an expression reads, found by walking the checked AST.
 *
 * <p>A column is read by {@code row.x}, {@code row['x']}, {@code has(row.x)} (a select marked test-only once the
 * macro is expanded), {@code row.?x} and {@code row[?'x']}. Any other use of {@code row} ({@code row} alone,
 * {@code row[k]} with a computed key, {@code row.size()}, {@code 'x' in row}, a comprehension over it) may read any
 * column: then {@link #readsWholeRow()} is true and the set is only what is known by name.
 */
final class RowReferences {

    private static final String INDEX = "_[_]";
    private static final String OPTIONAL_INDEX = "_[?_]";
    private static final String OPTIONAL_SELECT = "_?._";

    private final Set<String> columns = new LinkedHashSet<>();
    private boolean wholeRow;

    private RowReferences() {
    }

    static RowReferences of(CelExpr root) {
        RowReferences refs = new RowReferences();
        refs.visit(root, false);
        return refs;
    }

    /** The columns read by name, in the order they first appear. */
    Set<String> columns() {
        return columns;
    }

    /** True when {@code row} is also used in a way that may read columns not named in the source. */
    boolean readsWholeRow() {
        return wholeRow;
    }

    /**
     * @param shadowed true inside a comprehension that binds a variable named {@code row} (e.g.
     *     {@code list.map(row, ...)}), where {@code row} is not the row
     */
    private void visit(CelExpr expr, boolean shadowed) {
        switch (expr.getKind()) {
            case IDENT:
                if (!shadowed && isRow(expr)) {
                    // Reached only when not consumed by a select/index below: the row as a whole.
                    wholeRow = true;
                }
                return;
            case SELECT: {
                CelExpr operand = expr.select().operand();
                if (!shadowed && isRow(operand)) {
                    columns.add(expr.select().field());
                } else {
                    visit(operand, shadowed);
                }
                return;
            }
            case CALL: {
                CelCall call = expr.call();
                String function = call.function();
                if (!shadowed && call.args().size() == 2 && isRow(call.args().get(0))
                        && (INDEX.equals(function) || OPTIONAL_INDEX.equals(function)
                                || OPTIONAL_SELECT.equals(function))) {
                    CelExpr key = call.args().get(1);
                    if (key.getKind() == CelExpr.ExprKind.Kind.CONSTANT
                            && key.constant().getKind() == CelConstant.Kind.STRING_VALUE) {
                        columns.add(key.constant().stringValue());
                    } else {
                        wholeRow = true;
                        visit(key, shadowed);
                    }
                    return;
                }
                call.target().ifPresent(target -> visit(target, shadowed));
                for (CelExpr arg : call.args()) {
                    visit(arg, shadowed);
                }
                return;
            }
            case LIST:
                for (CelExpr element : expr.list().elements()) {
                    visit(element, shadowed);
                }
                return;
            case MAP:
                for (CelExpr.CelMap.Entry entry : expr.map().entries()) {
                    visit(entry.key(), shadowed);
                    visit(entry.value(), shadowed);
                }
                return;
            case STRUCT:
                for (CelExpr.CelStruct.Entry entry : expr.struct().entries()) {
                    visit(entry.value(), shadowed);
                }
                return;
            case COMPREHENSION: {
                CelComprehension c = expr.comprehension();
                // Range and initial accumulator are evaluated outside the comprehension's own variables.
                visit(c.iterRange(), shadowed);
                visit(c.accuInit(), shadowed);
                boolean inner = shadowed || CelEnvironment.ROW.equals(c.iterVar())
                        || CelEnvironment.ROW.equals(c.iterVar2()) || CelEnvironment.ROW.equals(c.accuVar());
                visit(c.loopCondition(), inner);
                visit(c.loopStep(), inner);
                visit(c.result(), inner);
                return;
            }
            case CONSTANT:
            case NOT_SET:
            default:
                return;
        }
    }

    private static boolean isRow(CelExpr expr) {
        return expr.getKind() == CelExpr.ExprKind.Kind.IDENT && CelEnvironment.ROW.equals(expr.ident().name());
    }
}
