package dev.cdcmigrator.transform.internal.expr;

import dev.cel.common.CelOptions;
import dev.cel.common.types.CelType;
import dev.cel.common.types.CelTypeProvider;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerBuilder;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.compiler.CelCompilerLibrary;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import dev.cel.runtime.CelRuntimeLibrary;
import java.util.List;

/**
 * The one CEL environment every expression is compiled and run in: the variable {@code row}, the standard library
 * and macros, optional syntax and a fixed set of extensions.
 *
 * <p>Built once per JVM (building it parses the extension declarations, which takes a noticeable fraction of a
 * second); the compiler and runtime are immutable and thread-safe, so sharing them is safe.
 */
final class CelEnvironment {

    /** The variable the v1 row is bound to. */
    static final String ROW = "row";

    /**
     * {@code current()} is CEL's recommended set (standard equality, overflow errors, duplicate map keys are errors);
     * on top: optional syntax ({@code row.?x.orValue(d)}, which is how users write defaults for absent keys) and
     * heterogeneous numeric comparisons ({@code 1 < 1.5}), which the planner runtime enables by default and the
     * checker must agree with.
     */
    static final CelOptions OPTIONS = CelOptions.current()
            .enableOptionalSyntax(true)
            .enableHeterogeneousNumericComparisons(true)
            .build();

    private static final List<CelCompilerLibrary> COMPILER_LIBRARIES;
    static final CelCompiler COMPILER;
    static final CelRuntime RUNTIME;

    static {
        // The same library objects go to the compiler (declarations) and the runtime (implementations): declaring a
        // function the runtime cannot run would only fail on the first row instead of at start-up.
        var strings = CelExtensions.strings();
        var lists = CelExtensions.lists();
        var sets = CelExtensions.sets(OPTIONS);
        var math = CelExtensions.math();
        var encoders = CelExtensions.encoders(OPTIONS);
        var regex = CelExtensions.regex();
        var bindings = CelExtensions.bindings();
        var comprehensions = CelExtensions.comprehensions();
        var optional = CelExtensions.optional();

        List<CelCompilerLibrary> compilerLibraries =
                List.of(strings, lists, sets, math, encoders, regex, bindings, comprehensions, optional);
        // cel.bind is a macro (expanded by the parser), so bindings has nothing to run.
        List<CelRuntimeLibrary> runtimeLibraries =
                List.of(strings, lists, sets, math, encoders, regex, comprehensions, optional);

        COMPILER_LIBRARIES = compilerLibraries;
        // map(string, dyn) rather than dyn: row.x and row['x'] type-check as map access, and a typo such as
        // row.a.b + 1 == 'x' is still caught when the literals disagree.
        COMPILER = compiler(MapType.create(SimpleType.STRING, SimpleType.DYN), null);

        // The planner runtime: the legacy (standardCelRuntimeBuilder) one is deprecated in cel-java 0.14.
        RUNTIME = CelRuntimeFactory.plannerRuntimeBuilder()
                .setOptions(OPTIONS)
                .addLibraries(runtimeLibraries)
                .build();
    }

    private CelEnvironment() {
    }

    /**
     * A compiler of this environment with {@code row} of type {@code rowType}; {@code types} resolves it when it is
     * a struct (null for the standard types).
     */
    static CelCompiler compiler(CelType rowType, CelTypeProvider types) {
        CelCompilerBuilder builder = CelCompilerFactory.standardCelCompilerBuilder()
                .setOptions(OPTIONS)
                // has(), all(), exists(), exists_one(), map(), filter(): not on unless asked for.
                .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
                .addVar(ROW, rowType)
                .addLibraries(COMPILER_LIBRARIES);
        if (types != null) {
            builder.setTypeProvider(types);
        }
        return builder.build();
    }
}
