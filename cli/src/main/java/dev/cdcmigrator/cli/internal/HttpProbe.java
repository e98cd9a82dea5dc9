package dev.cdcmigrator.cli.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A container healthcheck for the image, which has neither a shell nor curl (docker-compose.yml):
 * {@code java -cp /app/classes dev.cdcmigrator.cli.internal.HttpProbe http://127.0.0.1:9464/ready} exits 0 when the
 * URL answers 2xx and 1 otherwise, printing the status and the start of the body (/ready names the stage that does not
 * run), which Docker keeps in the container's health log. It needs java.base alone, so the JVM it runs in starts on
 * the image's classes directory without the migrator's dependencies, in well under a second.
 */
public final class HttpProbe {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** Enough for /ready's one line; a health log entry need not hold more. */
    private static final int BODY_BYTES = 300;

    private HttpProbe() {
    }

    public static void main(String[] args) {
        System.exit(probe(args, System.out));
    }

    /** The exit code for {@code args} (one URL): 0 healthy, 1 not (Docker reserves 2). */
    static int probe(String[] args, PrintStream out) {
        if (args.length != 1) {
            out.println("usage: java -cp /app/classes " + HttpProbe.class.getName() + " URL");
            return 1;
        }
        try {
            HttpURLConnection connection = (HttpURLConnection) URI.create(args[0]).toURL().openConnection();
            connection.setConnectTimeout((int) TIMEOUT.toMillis());
            connection.setReadTimeout((int) TIMEOUT.toMillis());
            try {
                int status = connection.getResponseCode();
                InputStream body = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
                String text = body == null ? "" : new String(body.readNBytes(BODY_BYTES), StandardCharsets.UTF_8).strip();
                out.println(args[0] + ": " + status + (text.isEmpty() ? "" : " " + text));
                return status / 100 == 2 ? 0 : 1;
            } finally {
                connection.disconnect();
            }
        } catch (IOException | IllegalArgumentException e) {
            out.println(args[0] + ": " + e);
            return 1;
        }
    }
}
