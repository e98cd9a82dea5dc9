package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code migrator --version} names the commit the build was made from: what cli/pom.xml's git-commit-id profile puts
 * into migrator-version.properties (and into the image's tag and revision label), {@code unknown} outside a checkout.
 */
class VersionTest {

    @Test
    void theVersionNamesTheCommitOfTheCheckout() throws Exception {
        CliRun version = CliRun.of("--version");

        assertThat(version.exit()).as(version.toString()).isZero();
        assertThat(version.lines().get(0)).as(version.toString())
                .isEqualTo("cdc-migrator " + JibImage.configured().name().replaceFirst("^.*:", "") + " (commit " + checkoutCommit() + ")");
    }

    /** The abbreviated HEAD of the repository the build runs in; unknown without one (a source tarball). */
    private static String checkoutCommit() throws IOException, InterruptedException {
        if (!Files.exists(JibImage.ROOT.resolve(".git"))) {
            return "unknown";
        }
        Process git = new ProcessBuilder("git", "rev-parse", "--short=7", "HEAD").directory(JibImage.ROOT.toFile())
                .redirectErrorStream(true).start();
        String output = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(git.waitFor(30, TimeUnit.SECONDS) && git.exitValue() == 0).as("git rev-parse: %s", output).isTrue();
        return output;
    }
}
