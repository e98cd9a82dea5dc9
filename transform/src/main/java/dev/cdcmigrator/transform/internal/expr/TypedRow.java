package dev.cdcmigrator.transform.internal.expr;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.cdcmigrator.transform.ValueKind;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.CelType;
import dev.cel.common.types.CelTypeProvider;
import dev.cel.common.types.NullableType;
import dev.cel.common.types.SimpleType;
import dev.cel.common.types.StructType;
import dev.cel.compiler.CelCompiler;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Expressions type-checked against one v1 table's columns, as {@code migrator check} does before any row flows: at
 * run time {@code row} is a map of {@code dyn}, so {@code row.nmae} or {@code row.name + 1} would fail on every row;
 * here {@code row} is a struct whose fields are the table's columns, typed as their values reach CEL.
 *
 * <p>The types: {@code int2}, {@code int4}, {@code int8} as {@code int}; {@code float4}, {@code float8} as
 * {@code double}; {@code bool}; {@code text}, {@code varchar}, {@code bpchar}, {@code name},
 * {@code citext}, {@code uuid} as {@code string}; every other type (numeric, jsonb, arrays, dates and times, bytea, enums, ...)
 * as {@code dyn}, which the checker accepts anywhere. Each field is nullable ({@code row.x == null} checks), as a
 * column's value may be null in an old image whatever its constraint says now. A column whose name is no CEL
 * identifier ({@code "Order Lines"}, {@code in}) is read as {@code row['Order Lines']}: such an index with a literal
 * naming a column is checked as that column. Expressions that index the row with anything else ({@code row[k]}) or
 * use it whole ({@code row.size()}) cannot be checked so and are left to run time.
 */
public final class TypedRow {

    private static final String TYPE_NAME = "migrator.V1Row";
    private static final Pattern UNCHECKABLE = Pattern.compile("\\brow\\s*\\[|\\brow\\s*\\)|\\bin\\s+row\\b|\\brow\\s*\\.\\s*size\\s*\\(");

    private static final Pattern WRAPPER = Pattern.compile("wrapper\\((\\w+)\\)");

    /** {@code row['...']} or {@code row["..."]}, the literal with no escapes other than of a quote or backslash. */
    private static final Pattern LITERAL_INDEX = Pattern.compile(
            "\\brow\\s*\\[\\s*(?:'((?:[^'\\\\\\n]|\\\\['\"\\\\])*)'|\"((?:[^\"\\\\\\n]|\\\\['\"\\\\])*)\")\\s*\\]");
    private static final Pattern CEL_IDENTIFIER = Pattern.compile("[_a-zA-Z][_a-zA-Z0-9]*");
    private static final java.util.Set<String> CEL_RESERVED = java.util.Set.of("as", "break", "const", "continue",
            "else", "false", "for", "function", "if", "import", "in", "let", "loop", "package", "namespace", "null",
            "return", "true", "var", "void", "while");

    private final CelCompiler compiler;
    /** Column name to the field of the struct that stands for it: the name itself when CEL can select it. */
    private final Map<String, String> fields;

    private TypedRow(CelCompiler compiler, Map<String, String> fields) {
        this.compiler = compiler;
        this.fields = fields;
    }

    /**
     * The row of a table with these columns.
     *
     * @param columnTypes column name to its PostgreSQL base type name ({@code pg_type.typname}: {@code int4}, {@code text}, ...)
     */
    public static TypedRow of(Map<String, String> columnTypes) {
        Map<String, CelType> fields = new LinkedHashMap<>();
        Map<String, String> fieldOf = new LinkedHashMap<>();
        int synthetic = 0;
        for (Map.Entry<String, String> column : columnTypes.entrySet()) {
            String field = column.getKey();
            if (!CEL_IDENTIFIER.matcher(field).matches() || CEL_RESERVED.contains(field)) {
                do {
                    field = "_" + synthetic++;
                } while (columnTypes.containsKey(field));
            }
            fieldOf.put(column.getKey(), field);
            fields.put(field, celType(column.getValue()));
        }
        StructType row = StructType.create(TYPE_NAME, ImmutableSet.copyOf(fields.keySet()), name -> Optional.ofNullable(fields.get(name)));
        CelTypeProvider types = new CelTypeProvider() {
            @Override
            public com.google.common.collect.ImmutableCollection<CelType> types() {
                return ImmutableList.of(row);
            }

            @Override
            public Optional<CelType> findType(String name) {
                return TYPE_NAME.equals(name) ? Optional.of(row) : Optional.empty();
            }
        };
        return new TypedRow(CelEnvironment.compiler(row, types), Map.copyOf(fieldOf));
    }

    /**
     * What {@code source} gives against this row.
     *
     * @param problem why it fails: CEL's message, with the line, column and a caret; empty when it type-checks, when
     *                it uses the row in a way only run time can check, or when it does not even compile against the
     *                untyped row ({@link Expression#compile} reports that)
     * @param result the kind of its value as far as the checker knows it ({@link ValueKind#ANY} when it fails)
     */
    public record Checked(Optional<String> problem, ValueKind result) {
    }

    /** Type-checks {@code source} against this row. */
    public Checked check(String source) {
        CelValidationResult untyped = CelEnvironment.COMPILER.compile(source, "expression");
        if (untyped.hasError()) {
            return new Checked(Optional.empty(), ValueKind.ANY);
        }
        String selecting = selectingColumns(source);
        if (UNCHECKABLE.matcher(selecting).find()) {
            return new Checked(Optional.empty(), kind(untyped));
        }
        CelValidationResult result = compiler.compile(selecting, "expression");
        if (!result.hasError()) {
            return new Checked(Optional.empty(), kind(result));
        }
        // Shown against the source as written: the rewrite kept every position. The checker's names for what the
        // operator knows as the row and its nullable columns.
        return new Checked(Optional.of(WRAPPER.matcher(Expression.describe(result.getErrors(), untyped.getSource())
                .replace(TYPE_NAME, "the v1 row")).replaceAll("$1")), ValueKind.ANY);
    }

    /**
     * {@code source} with each {@code row['column']} of a column of this row written as a selection of its field,
     * padded with spaces to the same length, so that positions in messages stay those of the source. An index the
     * rewrite cannot keep in place is left as it is (and the expression to run time).
     */
    private String selectingColumns(String source) {
        java.util.regex.Matcher index = LITERAL_INDEX.matcher(source);
        StringBuilder rewritten = new StringBuilder(source.length());
        while (index.find()) {
            String literal = index.group(1) != null ? index.group(1) : index.group(2);
            String field = fields.get(literal.replaceAll("\\\\(.)", "$1"));
            String selection = "row." + field;
            boolean fits = field != null && selection.length() <= index.group().length();
            index.appendReplacement(rewritten, java.util.regex.Matcher.quoteReplacement(
                    fits ? selection + " ".repeat(index.group().length() - selection.length()) : index.group()));
        }
        return index.appendTail(rewritten).toString();
    }

    private static ValueKind kind(CelValidationResult checked) {
        try {
            return kind(checked.getAst().getResultType());
        } catch (CelValidationException e) {
            throw new IllegalStateException("an expression without errors has an AST", e);
        }
    }

    /** How the transform writes a value of this CEL type (CelValues.toJson). */
    private static ValueKind kind(CelType type) {
        if (type instanceof NullableType nullable) {
            return kind(nullable.targetType());
        }
        return switch (type.kind()) {
            case NULL_TYPE -> ValueKind.NULL;
            case BOOL -> ValueKind.BOOL;
            case INT, UINT -> ValueKind.INT;
            case DOUBLE -> ValueKind.DOUBLE;
            case STRING, BYTES, TIMESTAMP, DURATION, TYPE -> ValueKind.STRING;
            case LIST -> ValueKind.LIST;
            case MAP, STRUCT -> ValueKind.MAP;
            default -> ValueKind.ANY;
        };
    }

    private static CelType celType(String baseType) {
        CelType type = switch (baseType) {
            case "int2", "int4", "int8" -> SimpleType.INT;
            case "float4", "float8" -> SimpleType.DOUBLE;
            case "bool" -> SimpleType.BOOL;
            case "text", "varchar", "bpchar", "name", "citext", "uuid" -> SimpleType.STRING;
            default -> SimpleType.DYN;
        };
        return type == SimpleType.DYN ? type : NullableType.create(type);
    }
}
