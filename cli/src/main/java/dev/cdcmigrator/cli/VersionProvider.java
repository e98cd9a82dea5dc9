package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.BuildInfo;
import java.util.Properties;
import picocli.CommandLine;

/**
 * The migrator's version, the commit it was built from ({@code unknown} when built outside a Git checkout) and the
 * Debezium and Kafka versions it was built with.
 */
final class VersionProvider implements CommandLine.IVersionProvider {

    @Override
    public String[] getVersion() {
        Properties p = BuildInfo.properties();
        return new String[] {
            "cdc-migrator " + p.getProperty("version") + " (commit " + p.getProperty("commit") + ")",
            "Debezium " + p.getProperty("debezium") + ", Kafka " + p.getProperty("kafka") + ", Java " + System.getProperty("java.version"),
        };
    }
}
