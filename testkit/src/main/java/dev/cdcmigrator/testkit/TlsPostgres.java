package dev.cdcmigrator.testkit;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A throwaway PostgreSQL that takes TCP connections only over TLS with a client certificate ({@code hostssl ... cert}
 * in pg_hba.conf, replication included), as a hardened production server does, with {@link TestCertificates}. The server's certificate is issued for
 * {@code localhost} and 127.0.0.1, the client's for the superuser, so {@code sslmode=verify-full} holds.
 */
public final class TlsPostgres implements AutoCloseable {

    private final LocalPostgres server;
    private final Path tls;

    private TlsPostgres(LocalPostgres server, Path tls) {
        this.server = server;
        this.tls = tls;
    }

    /**
     * Starts the server in {@code dir} with {@code database} created and {@code setupSql} run in it (before TLS is
     * required: the setup connects without a certificate).
     */
    public static TlsPostgres start(Path dir, String database, String setupSql) {
        LocalPostgres server = LocalPostgres.start(dir.resolve("data"));
        try {
            server.createDatabase(database);
            try (Connection c = DriverManager.getConnection(server.jdbcUrl(database), server.user(), "");
                 Statement st = c.createStatement()) {
                st.execute(setupSql);
            }
            Path tls = dir.resolve("data").resolve("tls");
            TestCertificates.make(tls, "localhost", server.user());
            // The server reads its key and the hba file as the OS user that owns the data directory.
            UserPrincipal owner = Files.getOwner(dir.resolve("data"));
            try (var files = Files.list(tls)) {
                for (Path file : files.toList()) {
                    Files.setOwner(file, owner);
                }
            }
            Files.setOwner(tls, owner);
            Files.setPosixFilePermissions(tls.resolve("server.key"), PosixFilePermissions.fromString("rw-------"));
            Path hba = tls.resolve("pg_hba.conf");
            Files.writeString(hba, String.join("\n",
                    "local all all trust",
                    "hostssl all all 127.0.0.1/32 cert",
                    "hostssl replication all 127.0.0.1/32 cert",
                    ""));
            Files.setOwner(hba, owner);
            try (Connection c = DriverManager.getConnection(server.jdbcUrl("postgres"), server.user(), "");
                 Statement st = c.createStatement()) {
                st.execute("ALTER SYSTEM SET ssl = on");
                st.execute("ALTER SYSTEM SET ssl_cert_file = '" + tls.resolve("server.crt") + "'");
                st.execute("ALTER SYSTEM SET ssl_key_file = '" + tls.resolve("server.key") + "'");
                st.execute("ALTER SYSTEM SET ssl_ca_file = '" + tls.resolve("ca.crt") + "'");
                st.execute("ALTER SYSTEM SET hba_file = '" + hba + "'");
            }
            server.restart();
            return new TlsPostgres(server, tls);
        } catch (SQLException e) {
            server.close();
            throw new IllegalStateException("could not set up the TLS PostgreSQL in " + dir, e);
        } catch (IOException e) {
            server.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** The superuser, whom the client certificate names. */
    public String user() {
        return server.user();
    }

    public int port() {
        return server.port();
    }

    /** A URL that connects with the client certificate and verifies the server's certificate and host name. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://localhost:" + server.port() + "/" + database + "?sslmode=verify-full"
                + "&sslrootcert=" + tls.resolve("ca.crt") + "&sslcert=" + tls.resolve("client.crt")
                + "&sslkey=" + tls.resolve("client.pk8");
    }

    /** The same server without TLS parameters: the server refuses it. */
    public String plainJdbcUrl(String database) {
        return "jdbc:postgresql://localhost:" + server.port() + "/" + database;
    }

    @Override
    public void close() {
        server.close();
    }
}
