package dev.cdcmigrator.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.TableComparison;
import dev.cdcmigrator.cutover.Verifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec.Target;

/** {@code migrator verify}: does v2 hold exactly what the spec makes of v1? */
@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, description = {
    "Compare v2 with what the spec makes of v1; exit 0 only if every table matches, 3 if some row differs.",
    "",
    "The v1 rows go through the transform's own mapping code (expressions, maps, defaults, filters, java functions). "
        + "Each v2 table is compared in key ranges of about --chunk-rows rows: a row count and an order-independent "
        + "checksum per range, then row by row inside a range that differs, naming the keys missing from v2, extra in "
        + "v2 or different (with the columns), and the v1 rows the spec cannot map or v2 refuses. Columns marked "
        + "nonDeterministic are not compared. v1 and v2 are each read in one snapshot, shared by --parallelism "
        + "connections (plus one that holds it). On a v1 that still takes writes, run it after `cutover wait`, or "
        + "with writes frozen.",
    ""})
final class VerifyCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @Option(names = "--tables", split = ",", paramLabel = "TABLE",
            description = "Only these tables (v2 names, or v1 names for the v2 tables they feed), comma-separated. Default: all.")
    List<String> tables = List.of();

    @Option(names = "--parallelism", paramLabel = "N", defaultValue = "" + Verifier.Options.DEFAULT_PARALLELISM,
            description = "Ranges compared at once, each on its own v1 and v2 connection (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--chunk-rows", paramLabel = "N", defaultValue = "" + Verifier.Options.DEFAULT_CHUNK_ROWS,
            description = "About how many v1 rows a key range holds (default: ${DEFAULT-VALUE}).")
    int chunkRows;

    @Option(names = "--json", description = "Print the result as one JSON object (for scripts): matches, and per table "
            + "the counts, the listed keys and the columns not compared.")
    boolean json;

    @picocli.CommandLine.Mixin
    Direction direction;

    @Override
    public Integer call() throws Exception {
        Spec parsed = direction.load(spec);
        Verifier.Options options;
        List<TableComparison> results;
        try {
            options = new Verifier.Options(Set.copyOf(tables), parallelism, chunkRows);
            results = Verifier.verify(parsed, options);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), e.getMessage(), e);
        }
        PrintWriter out = command.commandLine().getOut();
        if (json) {
            out.println(json(results));
            out.flush();
            return matches(results) ? ExitCodes.OK : ExitCodes.DIFFERENCES;
        }
        return print(results, direction.reverse, out);
    }

    /**
     * Prints one block per table and a summary line; returns the exit code.
     *
     * @param reverse the results are of the way back: its source is v2 and its target v1, and the lines say so
     */
    static int print(List<TableComparison> results, boolean reverse, PrintWriter out) {
        String source = reverse ? "v2" : "v1";
        String target = reverse ? "v1" : "v2";
        for (TableComparison r : results) {
            out.printf("%s <- %s: %,d rows in " + source + "%s, %,d in " + target + ", %,d %s: %s%n", r.v2Table(), String.join(" + ", r.v1Tables()),
                    r.v1Rows(), r.mappedRows() == r.v1Rows() ? "" : String.format(" (%,d after the spec)", r.mappedRows()),
                    r.v2Rows(), r.chunks(), r.chunks() == 1 ? "range" : "ranges", r.matches() ? "identical" : differences(r));
            if (!r.notCompared().isEmpty()) {
                out.println("  not compared (non-deterministic, or not written by every v1 table): " + String.join(", ", r.notCompared()));
            }
            r.missing().forEach(k -> out.println("  missing in " + target + ": " + k));
            r.extra().forEach(k -> out.println("  extra in " + target + ":   " + k));
            r.different().forEach(k -> out.println("  different:     " + k));
            r.rejected().forEach(k -> out.println("  rejected:      " + k));
            long listed = r.missing().size() + r.extra().size() + r.different().size() + r.rejected().size();
            long found = r.missingRows() + r.extraRows() + r.differentRows() + r.rejectedRows();
            if (listed < found) {
                out.printf("  (the first %d of each kind listed, in key order)%n", Verifier.MAX_KEYS_LISTED);
            }
        }
        long differing = results.stream().filter(r -> !r.matches()).count();
        out.println(differing == 0 ? "verify: every table matches" : "verify: " + differing + " of " + results.size() + " tables differ");
        out.flush();
        return differing == 0 ? ExitCodes.OK : ExitCodes.DIFFERENCES;
    }

    private static String differences(TableComparison r) {
        return String.format("%,d missing, %,d extra, %,d different, %,d rejected (in %,d %s)", r.missingRows(), r.extraRows(),
                r.differentRows(), r.rejectedRows(), r.differingChunks(), r.differingChunks() == 1 ? "range" : "ranges");
    }

    private static boolean matches(List<TableComparison> results) {
        return results.stream().allMatch(TableComparison::matches);
    }

    private static String json(List<TableComparison> results) throws JsonProcessingException {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("matches", matches(results));
        ArrayNode tables = root.putArray("tables");
        for (TableComparison r : results) {
            ObjectNode table = Json.MAPPER.valueToTree(r);
            table.put("matches", r.matches());
            tables.add(table);
        }
        return Json.MAPPER.writeValueAsString(root);
    }
}
