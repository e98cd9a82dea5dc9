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
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway PostgreSQL that takes TCP connections only over TLS with a client certificate ({@code hostssl ... cert}
 * in pg_hba.conf, replication included), as a hardened production server does, with the certificate authority,
 * server and client certificates it made with {@code openssl}. The server's certificate is issued for
 * {@code localhost} and 127.0.0.1, the client's for the superuser, so {@code sslmode=verify-full} holds.
 */
public final class TlsPostgres implements AutoCloseable {

    private static final long OPENSSL_TIMEOUT_SECONDS = 60;

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
            makeCertificates(tls, server.user());
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

    private static void makeCertificates(Path tls, String clientName) throws IOException {
        Files.createDirectories(tls);
        Files.writeString(tls.resolve("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        openssl(tls, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "2", "-subj", "/CN=cdc-migrator test CA");
        for (String[] party : List.of(new String[] {"server", "localhost"}, new String[] {"client", clientName})) {
            String name = party[0];
            openssl(tls, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                    "-subj", "/CN=" + party[1]);
            List<String> sign = new java.util.ArrayList<>(List.of("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
                    "-CAkey", "ca.key", "-CAcreateserial", "-out", name + ".crt", "-days", "2"));
            if (name.equals("server")) {
                sign.addAll(List.of("-extfile", "server.ext"));
            }
            openssl(tls, sign.toArray(String[]::new));
        }
        // PgJDBC reads a client key as DER PKCS#8.
        openssl(tls, "pkcs8", "-topk8", "-inform", "PEM", "-outform", "DER", "-in", "client.key", "-out", "client.pk8",
                "-nocrypt");
    }

    private static void openssl(Path dir, String... args) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            if (!process.waitFor(OPENSSL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("openssl " + String.join(" ", args) + " did not finish");
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("openssl " + String.join(" ", args) + " failed: "
                        + new String(process.getInputStream().readAllBytes()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running openssl", e);
        }
    }
}
