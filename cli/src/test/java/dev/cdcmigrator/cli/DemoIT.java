package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** The README's first command, smaller: it must migrate the Keiko example under load and end with verify passing. */
class DemoIT {

    @Test
    void demoMigratesTheKeikoExampleUnderLoadAndVerifies() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true),
                "demo", "--tasks", "5000", "--load-seconds", "4", "--rate", "100");

        assertThat(exit).as("exit code; output:%n%s%nerrors:%n%s", out, err).isZero();
        assertThat(out.toString())
                .contains("2. Loaded Keiko v1: 1,000 users, 200 agents, 5,000 tasks")
                .containsPattern("4\\. Load stopped after [1-9][0-9,]* changes")
                // The status screen: a backfill bar per table, throughput and lag.
                .containsPattern("tasks +\\[#{30}\\] 100%  [0-9,]+ of [0-9,]+ rows in v2")
                .containsPattern("throughput: backfill copied [0-9,-]+ rows/s, sink applied [0-9,-]+ rows/s")
                .containsPattern("lag: slot [0-9.]+ [kM]?B, transform [0-9,]+ records, sink [0-9.,]+ s behind, latency p50 ")
                .contains("users <- users: 1,000 rows in v1, 1,000 in v2, 1 range: identical")
                .contains("agents <- agents: 200 rows in v1, 200 in v2, 1 range: identical")
                .containsPattern("tasks <- tasks: [0-9,]+ rows in v1, [0-9,]+ in v2, [0-9]+ ranges?: identical")
                .contains("verify: every table matches")
                .doesNotContain("A stage failed");
    }

    @Test
    void demoRollbackCarriesTheWritesOnV2BackIntoV1() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true),
                "demo", "--tasks", "2000", "--load-seconds", "2", "--rate", "50", "--rollback");

        assertThat(exit).as("exit code; output:%n%s%nerrors:%n%s", out, err).isZero();
        assertThat(out.toString())
                .contains("6. The way back (--rollback): migrator check --reverse")
                .containsPattern("   0 errors, [0-9]+ warnings")
                .contains("7. Writes flipped to v2 and the way back runs")
                .contains("8. Verify --reverse (v2 through the spec read backwards against v1):")
                .contains("tasks <- tasks: ")
                .doesNotContain("not caught up")
                .doesNotContain("A stage failed");
        assertThat(out.toString().substring(out.toString().indexOf("7. Writes flipped")))
                .containsPattern("   sink +caught up in ");
        assertThat(out.toString().substring(out.toString().indexOf("8. Verify --reverse")))
                .contains("users <- users: 1,001 rows in v2, 1,001 in v1")
                .contains("verify: every table matches");
    }
}
