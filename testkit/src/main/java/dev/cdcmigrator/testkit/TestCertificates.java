package dev.cdcmigrator.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A certificate authority and the certificates it signs, made with {@code openssl} into one directory, PEM (keys as
 * PKCS#8): {@code ca.crt}, {@code server.crt} and {@code server.key} (issued for the server's name and 127.0.0.1),
 * {@code client.crt} and {@code client.key} (for the client's name), {@code client.pk8}, the client's key as DER,
 * which PgJDBC reads, and {@link #serverKeyStore} for Kafka's PEM key stores.
 */
public final class TestCertificates {

    private static final long OPENSSL_TIMEOUT_SECONDS = 60;

    private TestCertificates() {
    }

    /** Makes them in {@code dir} (created if missing). */
    public static void make(Path dir, String serverName, String clientName) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=DNS:" + serverName + ",IP:127.0.0.1\n");
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "2", "-subj", "/CN=cdc-migrator test CA");
        for (String[] party : List.of(new String[] {"server", serverName}, new String[] {"client", clientName})) {
            String name = party[0];
            openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                    "-subj", "/CN=" + party[1]);
            List<String> sign = new ArrayList<>(List.of("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
                    "-CAkey", "ca.key", "-CAcreateserial", "-out", name + ".crt", "-days", "2"));
            if (name.equals("server")) {
                sign.addAll(List.of("-extfile", "server.ext"));
            }
            openssl(dir, sign.toArray(String[]::new));
        }
        openssl(dir, "pkcs8", "-topk8", "-inform", "PEM", "-outform", "DER", "-in", "client.key", "-out", "client.pk8",
                "-nocrypt");
        // A PEM key store (ssl.keystore.type=PEM) is one file: the private key, then the certificate.
        Files.writeString(serverKeyStore(dir), Files.readString(dir.resolve("server.key")) + Files.readString(dir.resolve("server.crt")));
    }

    /** The server's key and certificate in one PEM file, as Kafka's {@code ssl.keystore.type=PEM} reads them. */
    public static Path serverKeyStore(Path dir) {
        return dir.resolve("server-keystore.pem");
    }

    private static void openssl(Path dir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("openssl"));
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
