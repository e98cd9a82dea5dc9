package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.transform.ColumnFunction;
import dev.cdcmigrator.transform.internal.expr.Expression;
import dev.cdcmigrator.transform.internal.expr.ExpressionException;

/** One v2 column of a mapping, compiled: its source, then default, then value map. */
final class ColumnMapping {

    private final String v2Column;
    private final String label;
    private final ColumnSpec spec;
    private final Expression expression;
    private final ColumnFunction function;
    private final Expression defaultExpression;
    private final String path;

    /** Compiles {@code spec}; errors name {@code path}, the column's YAML path. */
    ColumnMapping(String v2Column, String label, ColumnSpec spec, String path) {
        this.v2Column = v2Column;
        this.label = label;
        this.spec = spec;
        this.expression = spec.expr() == null ? null : compile(spec.expr(), path + ".expr");
        this.defaultExpression = spec.defaultValue() != null && spec.defaultValue().isTextual()
                ? compile(spec.defaultValue().asText(), path + ".default") : null;
        this.function = spec.java() == null ? null : instantiate(spec.java(), path + ".java");
        this.path = path;
    }

    String v2Column() {
        return v2Column;
    }

    /** The v1 column this column copies, or null when it computes its value. */
    String from() {
        return spec.from();
    }

    /** Adds what the value reads: its {@code from}, expression and default expression, or any column for a function. */
    void collectReads(SpecReads reads, String neededBy) {
        if (spec.from() != null) {
            reads.copied(spec.from(), path + ".from", neededBy);
        }
        if (expression != null) {
            reads.expression(expression, path + ".expr", neededBy);
        }
        if (defaultExpression != null) {
            reads.expression(defaultExpression, path + ".default", neededBy);
        }
        if (function != null) {
            reads.anyColumn(path + ".java is a Java function (" + spec.java() + "), which may read any column");
        }
    }

    /**
     * Whether the value may depend on any of {@code v1Columns}: it copies one, an expression or default reads one (or
     * the row as a whole), or a Java function computes it.
     */
    boolean reads(java.util.Set<String> v1Columns) {
        return spec.from() != null && v1Columns.contains(spec.from())
                || readsAny(expression, v1Columns) || readsAny(defaultExpression, v1Columns) || function != null;
    }

    private static boolean readsAny(Expression e, java.util.Set<String> v1Columns) {
        return e != null && (e.readsWholeRow() || e.referencedColumns().stream().anyMatch(v1Columns::contains));
    }

    /**
     * The v1 column this column copies as it is (no default, no map), so that an unchanged v1 value is an unchanged v2
     * value; null otherwise.
     */
    String plainCopyOf() {
        return spec.from() != null && spec.defaultValue() == null && spec.map() == null ? spec.from() : null;
    }

    boolean nonDeterministic() {
        return spec.nonDeterministic();
    }

    /**
     * The v2 value for a v1 row. {@code wire} holds the values as they travel (json as text), {@code parsed} the
     * same row with json parsed, for expressions and functions.
     */
    JsonNode value(ObjectNode wire, ObjectNode parsed) {
        JsonNode value;
        if (spec.from() != null) {
            value = wire.get(spec.from());
            if (value == null) {
                throw new MappingException(v2Column, "v1 column " + spec.from() + " (for v2 column " + label
                        + ") is not in the row; it has " + Rows.names(wire));
            }
        } else if (expression != null) {
            value = evaluate(expression, parsed, "expr");
        } else if (function != null) {
            try {
                value = function.apply(parsed.deepCopy());
            } catch (RuntimeException e) {
                throw new MappingException(v2Column, "java " + spec.java() + " failed for v2 column " + label + ": " + e);
            }
        } else {
            value = spec.value();
        }
        if (value == null || value.isNull()) {
            if (spec.defaultValue() == null) {
                return Rows.NULL;
            }
            value = defaultExpression != null ? evaluate(defaultExpression, parsed, "default") : spec.defaultValue();
        }
        return spec.map() == null || value.isNull() ? value : lookUp(value);
    }

    private JsonNode lookUp(JsonNode value) {
        String text = value.isValueNode() ? value.asText() : value.toString();
        JsonNode mapped = spec.map().get(text);
        if (mapped != null) {
            return mapped;
        }
        if (spec.otherwise() != null) {
            return spec.otherwise();
        }
        throw new MappingException(v2Column, "value '" + text + "' of v2 column " + label
                + " is not in its map " + spec.map().keySet() + " and the column has no otherwise");
    }

    private JsonNode evaluate(Expression e, ObjectNode row, String what) {
        try {
            return e.evaluate(row);
        } catch (ExpressionException ex) {
            throw new MappingException(v2Column, what + " of v2 column " + label + " (" + e.source() + ") failed: " + ex.getMessage());
        }
    }

    static Expression compile(String source, String path) {
        return compiled(() -> Expression.compile(source), path);
    }

    static Expression compileFilter(String source, String path) {
        return compiled(() -> Expression.compileFilter(source), path);
    }

    private static Expression compiled(java.util.function.Supplier<Expression> compiler, String path) {
        try {
            return compiler.get();
        } catch (ExpressionException e) {
            throw SpecException.invalid(path, "expression does not compile: " + e.getMessage(), e);
        }
    }

    private static ColumnFunction instantiate(String className, String path) {
        Class<?> type;
        try {
            type = Class.forName(className, true, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw SpecException.invalid(path, "class " + className + " is not on the class path", e);
        }
        if (!ColumnFunction.class.isAssignableFrom(type)) {
            throw SpecException.invalid(path, "class " + className + " does not implement " + ColumnFunction.class.getName(), null);
        }
        try {
            return (ColumnFunction) type.getConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw SpecException.invalid(path, "class " + className + " needs a public no-argument constructor: " + e, e);
        }
    }
}
