package dev.cdcmigrator.cli.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * What the build recorded in {@code migrator-version.properties}: {@code version}, {@code commit} ({@code unknown}
 * outside a Git checkout), {@code debezium} and {@code kafka}. Read by {@code --version} and {@code migrator_build_info}.
 */
public final class BuildInfo {

    private static final String RESOURCE = "/migrator-version.properties";

    private BuildInfo() {
    }

    /** The recorded properties; empty when the resource is missing (a build that did not filter it). */
    public static Properties properties() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE + " failed", e);
        }
        return p;
    }
}
