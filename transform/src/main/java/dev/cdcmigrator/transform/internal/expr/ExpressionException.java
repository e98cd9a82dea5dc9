package dev.cdcmigrator.transform.internal.expr;

/**
 * Thrown when an expression does not compile (at start-up) or fails on a row (at run time).
 *
 * <p>The message is meant to be shown as is: for a compile error it carries CEL's line and column and a caret under
 * the offending spot; for a run-time failure it names the expression, the position that failed and CEL's reason, so
 * that a dead-lettered row says why on its own.
 */
public final class ExpressionException extends RuntimeException {

    private final String expression;

    ExpressionException(String expression, String message) {
        super(message);
        this.expression = expression;
    }

    ExpressionException(String expression, String message, Throwable cause) {
        super(message, cause);
        this.expression = expression;
    }

    /** The source text of the expression at fault. */
    public String expression() {
        return expression;
    }
}
