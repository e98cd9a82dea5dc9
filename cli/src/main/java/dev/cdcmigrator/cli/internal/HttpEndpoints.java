package dev.cdcmigrator.cli.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's HTTP endpoints, on the JDK's own HTTP server:
 * <ul>
 *   <li>{@code GET /metrics}: every meter of the registry in the Prometheus text format (docs/metrics.md);</li>
 *   <li>{@code GET /health}: 200 {@code alive} while the process runs (liveness);</li>
 *   <li>{@code GET /ready}: 200 {@code ready} once every stage runs, else 503 naming the stage that does not
 *       (readiness).</li>
 * </ul>
 * Requests are served by two daemon threads of their own, so a slow scrape never touches a stage's thread.
 */
public final class HttpEndpoints implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(HttpEndpoints.class);

    /** Loopback only unless asked: the endpoints have no authentication. */
    public static final String DEFAULT_HOST = "127.0.0.1";
    /** The port Prometheus exporters conventionally use for a JVM application. */
    public static final int DEFAULT_PORT = 9464;

    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    private static final String TEXT = "text/plain; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private HttpEndpoints(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Binds and starts serving.
     *
     * @param host the address to bind ({@value #DEFAULT_HOST}; {@code 0.0.0.0} in a container)
     * @param port the port, 0 for any free one ({@link #port()} says which)
     * @param registry what {@code /metrics} serves
     * @param notReady empty when the process is ready, else why not (naming the stage); asked on every
     *                 {@code /ready}
     * @throws IOException if the address cannot be bound (e.g. the port is taken)
     */
    public static HttpEndpoints start(String host, int port, PrometheusMeterRegistry registry,
                                      Supplier<Optional<String>> notReady) throws IOException {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(notReady, "notReady");
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        AtomicInteger threads = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "migrator-http-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", endpoint("/metrics", () -> new Response(200, PROMETHEUS_TEXT, registry.scrape())));
        server.createContext("/health", endpoint("/health", () -> new Response(200, TEXT, "alive\n")));
        server.createContext("/ready", endpoint("/ready", () -> notReady.get()
                .map(reason -> new Response(503, TEXT, "not ready: " + reason + "\n"))
                .orElseGet(() -> new Response(200, TEXT, "ready\n"))));
        server.createContext("/", endpoint(null, () -> new Response(404, TEXT, "not found: try /metrics, /health or /ready\n")));
        server.start();
        HttpEndpoints endpoints = new HttpEndpoints(server, executor);
        LOGGER.info("HTTP endpoints on {} (/metrics, /health, /ready)", endpoints.url(""));
        return endpoints;
    }

    /** The port bound (the free one chosen when started with 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /** {@code http://host:port} + {@code path}, with a loopback host when bound to every address. */
    public String url(String path) {
        InetAddress address = server.getAddress().getAddress();
        String host = address.isAnyLocalAddress() ? "127.0.0.1"
                : address instanceof Inet6Address ? "[" + address.getHostAddress() + "]" : address.getHostAddress();
        return "http://" + host + ":" + port() + path;
    }

    /** Stops accepting requests and drops the ones in progress. */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        LOGGER.info("HTTP endpoints stopped");
    }

    private record Response(int status, String contentType, String body) {
    }

    /** Serves {@code path} exactly (the JDK matches contexts by prefix); GET and HEAD only. */
    private static HttpHandler endpoint(String path, Supplier<Response> response) {
        return exchange -> {
            try (exchange) {
                String method = exchange.getRequestMethod();
                Response r;
                if (path != null && !path.equals(exchange.getRequestURI().getPath())) {
                    r = new Response(404, TEXT, "not found: try /metrics, /health or /ready\n");
                } else if (!method.equals("GET") && !method.equals("HEAD")) {
                    exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                    r = new Response(405, TEXT, "method not allowed: GET or HEAD\n");
                } else {
                    try {
                        r = response.get();
                    } catch (RuntimeException e) {
                        LOGGER.warn("{} failed: {}", path, e.toString(), e);
                        r = new Response(500, TEXT, "error: " + e + "\n");
                    }
                }
                send(exchange, r, method.equals("HEAD"));
            } catch (IOException e) {
                LOGGER.debug("HTTP client went away", e);
            }
        };
    }

    private static void send(HttpExchange exchange, Response r, boolean head) throws IOException {
        byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", r.contentType());
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if (head) {
            exchange.getResponseHeaders().set("Content-Length", String.valueOf(body.length));
            exchange.sendResponseHeaders(r.status(), -1);
            return;
        }
        exchange.sendResponseHeaders(r.status(), body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
