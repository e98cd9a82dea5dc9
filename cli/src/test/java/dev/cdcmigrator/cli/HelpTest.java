package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command answers {@code --help} as the tools around it do, and {@code migrator --help} lists whole sentences. */
class HelpTest {

    /** Every command and subcommand, as its words on the command line ({@code ["cutover", "wait"]}). */
    static Stream<List<String>> commands() {
        List<List<String>> all = new ArrayList<>();
        collect(new CommandLine(new Main()), new ArrayList<>(), all);
        return all.stream();
    }

    private static void collect(CommandLine command, List<String> path, List<List<String>> all) {
        all.add(List.copyOf(path));
        command.getSubcommands().forEach((name, sub) -> {
            if (!name.equals("help")) {
                List<String> next = new ArrayList<>(path);
                next.add(name);
                collect(sub, next, all);
            }
        });
    }

    @ParameterizedTest(name = "migrator {0} --help")
    @MethodSource("commands")
    void everyCommandPrintsItsUsageAndExitsZero(List<String> command) {
        List<String> args = new ArrayList<>(command);
        args.add("--help");

        CliRun help = CliRun.of(args.toArray(String[]::new));

        assertThat(help.exit()).as(help.toString()).isZero();
        assertThat(help.out()).as(help.toString()).startsWith("Usage: migrator" + command.stream().map(w -> " " + w)
                .reduce("", String::concat) + " ");
        assertThat(help.err()).isEmpty();
    }

    @Test
    void theCommandListShowsEachSummaryAsAWholeSentence() {
        CliRun help = CliRun.of("--help");

        // One entry per command: its name line and picocli's wrapped continuation lines, which start with more spaces.
        List<String> summaries = new ArrayList<>();
        for (String line : help.lines().stream().dropWhile(l -> !l.equals("Commands:")).skip(1).toList()) {
            if (line.matches("  \\S.*") || summaries.isEmpty()) {
                summaries.add(line.strip());
            } else {
                summaries.set(summaries.size() - 1, summaries.get(summaries.size() - 1) + " " + line.strip());
            }
        }
        assertThat(summaries).as(help.toString()).hasSizeGreaterThanOrEqualTo(10)
                .allSatisfy(summary -> assertThat(summary).endsWith("."));
    }
}
