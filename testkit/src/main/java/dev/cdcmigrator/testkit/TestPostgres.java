package dev.cdcmigrator.testkit;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/** One shared PostgreSQL per test JVM. */
public final class TestPostgres {

    private static final Logger LOG = LoggerFactory.getLogger(TestPostgres.class);
    private static final String IMAGE = "postgres:16-alpine";
    private static final long DOCKER_PROBE_SECONDS = 20;
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9_]{1,40}");
    // Trust authentication ignores it; non-empty because some configurations treat an empty password as unset.
    private static final String LOCAL_PASSWORD = "postgres";

    private static PostgresServer shared;
    private static final List<String> CREATED = new ArrayList<>();

    private TestPostgres() {
    }

    /**
     * Returns the shared server, starting it on first call (thread-safe); tests must not stop it, it stops at JVM
     * exit.
     *
     * <p>Testcontainers ({@code postgres:16-alpine} with {@code -c wal_level=logical -c max_replication_slots=20
     * -c max_wal_senders=20 -c max_slot_wal_keep_size=10GB}) when a Docker engine is reachable, otherwise
     * {@link LocalPostgres} in a temp directory.
     *
     * @return the shared server
     * @throws IllegalStateException if there is neither a Docker engine nor local PostgreSQL server binaries, or the
     *     server does not start
     */
    public static synchronized PostgresServer shared() {
        if (shared == null) {
            shared = start();
        }
        return shared;
    }

    /** The databases created since the last call, for {@link ReplicationSlotCleanup}. */
    static List<String> takeCreatedDatabases() {
        synchronized (CREATED) {
            List<String> taken = List.copyOf(CREATED);
            CREATED.clear();
            return taken;
        }
    }

    private static PostgresServer start() {
        if (dockerAvailable()) {
            return startContainer();
        }
        if (LocalPostgres.findBinDir().isPresent()) {
            return startLocal();
        }
        throw new IllegalStateException("Tests need a real PostgreSQL, but no Docker engine is reachable and no "
                + "PostgreSQL server binaries were found. Either start a Docker engine (Testcontainers then runs "
                + IMAGE + "), or install the PostgreSQL server binaries, e.g. `apt-get install postgresql`, so that "
                + "initdb and pg_ctl are found via `pg_config --bindir`, on PATH or in /usr/lib/postgresql/*/bin.");
    }

    /** Testcontainers' own probe can block for a long time on a half-working Docker setup; bound it. */
    private static boolean dockerAvailable() {
        FutureTask<Boolean> probe = new FutureTask<>(() -> DockerClientFactory.instance().isDockerAvailable());
        Thread thread = new Thread(probe, "test-postgres-docker-probe");
        thread.setDaemon(true);
        thread.start();
        try {
            return probe.get(DOCKER_PROBE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            LOG.warn("No answer from Docker within {}s; not using Testcontainers", DOCKER_PROBE_SECONDS);
            thread.interrupt();
            return false;
        } catch (ExecutionException e) {
            LOG.debug("Docker probe failed; not using Testcontainers", e);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while probing for Docker", e);
        }
    }

    private static PostgresServer startContainer() {
        PostgreSQLContainer<?> container = new PostgreSQLContainer<>(DockerImageName.parse(IMAGE))
                .withCommand("postgres", "-c", "fsync=off", "-c", "wal_level=logical",
                        "-c", "max_replication_slots=20", "-c", "max_wal_senders=20",
                        "-c", "max_slot_wal_keep_size=10GB");
        container.start();
        stopAtExit(container::stop);
        return new Server(container.getHost(), container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT),
                container.getUsername(), container.getPassword());
    }

    private static PostgresServer startLocal() {
        LocalPostgres postgres;
        try {
            postgres = LocalPostgres.start(Files.createTempDirectory("cdc-migrator-test-pg-"));
        } catch (IOException e) {
            throw new UncheckedIOException("Could not create a temp directory for the test PostgreSQL", e);
        }
        stopAtExit(postgres::close);
        return new Server(postgres.host(), postgres.port(), postgres.user(), LOCAL_PASSWORD);
    }

    private static void stopAtExit(Runnable stop) {
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "test-postgres-shutdown"));
    }

    private record Server(String host, int port, String user, String password) implements PostgresServer {

        @Override
        public String jdbcUrl(String database) {
            return "jdbc:postgresql://" + host + ":" + port + "/" + database;
        }

        @Override
        public String createDatabase(String prefix) {
            if (!PREFIX.matcher(prefix).matches()) {
                throw new IllegalArgumentException("Database name prefix must match " + PREFIX + ": " + prefix);
            }
            String name = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), user, password);
                    Statement statement = connection.createStatement()) {
                statement.execute("CREATE DATABASE \"" + name + "\"");
            } catch (SQLException e) {
                throw new IllegalStateException("Could not create database " + name + " on " + host + ":" + port, e);
            }
            synchronized (CREATED) {
                CREATED.add(name);
            }
            return name;
        }
    }
}
