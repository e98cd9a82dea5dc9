package dev.cdcmigrator.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.security.ssl.DefaultSslEngineFactory;

/**
 * A stand-in for a Confluent Schema Registry, for tests only: the REST endpoints the serializers use (register,
 * lookup, schema by id, versions, latest, compatibility test, config), Avro only, in memory, on 127.0.0.1. Schema ids
 * are global (one id per distinct schema, as Confluent's registry does: schemas are compared after parsing, by
 * Avro's own JSON form); compatibility is checked with Avro's {@link SchemaCompatibility} at the subject's level
 * (default BACKWARD). Every request is recorded, so tests can compare what two clients send.
 *
 * <p>No real registry runs here (Confluent's is not on Maven Central; Apicurio publishes only a Quarkus module jar,
 * not a runnable server; Karapace is Python and not packaged by Debian), hence this. It lives in the testkit because
 * the avro module's tests and the pipeline's end-to-end test ({@code AvroPipelineIT}) share it; docker-compose.yml
 * runs a real registry.
 */
public final class RegistryStandIn implements AutoCloseable {

    /** A recorded request; header names lower-case. */
    public record Request(String method, String path, String query, Map<String, String> headers, String body) {

        /** Method, path and query, e.g. {@code POST /subjects/t-value/versions?normalize=false}. */
        public String line() {
            return method + " " + path + (query == null ? "" : "?" + query);
        }
    }

    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "registry-stand-in");
        t.setDaemon(true);
        return t;
    });
    private final String authorization;
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    private final List<Schema> schemas = new ArrayList<>();
    private final Map<String, Integer> idsByCanonical = new HashMap<>();
    private final Map<String, List<Integer>> subjects = new TreeMap<>();
    private final Map<String, String> compatibility = new HashMap<>();
    private String globalCompatibility = "BACKWARD";

    private RegistryStandIn(String user, String password, SSLContext tls) throws IOException {
        this.authorization = user == null ? null
                : "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            server = HttpServer.create(loopback, 0);
        } else {
            HttpsServer https = HttpsServer.create(loopback, 0);
            https.setHttpsConfigurator(new HttpsConfigurator(tls));
            server = https;
        }
        server.createContext("/", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    /** A stand-in without authentication. */
    public static RegistryStandIn start() {
        return start(null, null);
    }

    /** A stand-in that answers 401 unless a request has HTTP basic credentials {@code user:password}. */
    public static RegistryStandIn start(String user, String password) {
        try {
            return new RegistryStandIn(user, password, null);
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the registry stand-in", e);
        }
    }

    /**
     * A stand-in without authentication that answers HTTPS only, with the server certificate and key of
     * {@code certificates} (made by {@link TestCertificates}, issued for {@code localhost}): its {@link #url()} is
     * {@code https://localhost:<port>}.
     */
    public static RegistryStandIn startHttps(Path certificates) {
        try {
            DefaultSslEngineFactory factory = new DefaultSslEngineFactory();
            factory.configure(new ConfigDef().withClientSslSupport().parse(Map.of(
                    "ssl.keystore.type", "PEM", "ssl.keystore.location", TestCertificates.serverKeyStore(certificates).toString())));
            return new RegistryStandIn(null, null, factory.sslContext());
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the registry stand-in", e);
        }
    }

    public String url() {
        return server instanceof HttpsServer ? "https://localhost:" + server.getAddress().getPort()
                : "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public void clearRequests() {
        requests.clear();
    }

    public synchronized void compatibility(String subject, String level) {
        compatibility.put(subject, level);
    }

    public synchronized List<Integer> versions(String subject) {
        return List.copyOf(subjects.getOrDefault(subject, List.of()));
    }

    public synchronized Schema schema(int id) {
        return schemas.get(id - 1);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    // ------------------------------------------------------------------------------------------------ handling

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Map<String, String> headers = new TreeMap<>();
            exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
            String method = exchange.getRequestMethod();
            String rawPath = exchange.getRequestURI().getRawPath();
            String query = exchange.getRequestURI().getRawQuery();
            requests.add(new Request(method, rawPath, query, headers, body));
            Response response;
            if (authorization != null && !authorization.equals(headers.get("authorization"))) {
                response = error(401, 401, "Unauthorized");
            } else {
                try {
                    response = route(method, segments(rawPath), query, body);
                } catch (RuntimeException e) {
                    response = error(500, 50001, "stand-in failed: " + e);
                }
            }
            byte[] bytes = MAPPER.writeValueAsBytes(response.body());
            exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            exchange.sendResponseHeaders(response.status(), bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    private record Response(int status, Object body) {
    }

    private static List<String> segments(String rawPath) {
        return Arrays.stream(rawPath.split("/")).filter(s -> !s.isEmpty())
                .map(s -> URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8)).toList();
    }

    private synchronized Response route(String method, List<String> p, String query, String body) throws IOException {
        int n = p.size();
        if (method.equals("POST") && n == 3 && p.get(0).equals("subjects") && p.get(2).equals("versions")) {
            return register(p.get(1), body);
        }
        if (method.equals("POST") && n == 2 && p.get(0).equals("subjects")) {
            return lookup(p.get(1), body);
        }
        if (method.equals("GET") && n == 3 && p.get(0).equals("schemas") && p.get(1).equals("ids")) {
            int id = Integer.parseInt(p.get(2));
            if (id < 1 || id > schemas.size()) {
                return error(404, 40403, "Schema " + id + " not found");
            }
            return ok(Map.of("schema", schemas.get(id - 1).toString()));
        }
        if (method.equals("GET") && n == 1 && p.get(0).equals("subjects")) {
            return ok(subjects.keySet());
        }
        if (method.equals("GET") && n == 3 && p.get(0).equals("subjects") && p.get(2).equals("versions")) {
            List<Integer> ids = subjects.get(p.get(1));
            if (ids == null) {
                return subjectNotFound(p.get(1));
            }
            List<Integer> versions = new ArrayList<>();
            for (int i = 1; i <= ids.size(); i++) {
                versions.add(i);
            }
            return ok(versions);
        }
        if (method.equals("GET") && n == 4 && p.get(0).equals("subjects") && p.get(2).equals("versions")) {
            return version(p.get(1), p.get(3));
        }
        if (method.equals("POST") && n == 5 && p.get(0).equals("compatibility") && p.get(1).equals("subjects")
                && p.get(3).equals("versions")) {
            Schema schema = parse(body);
            if (schema == null) {
                return invalidSchema(body);
            }
            List<Integer> ids = subjects.get(p.get(2));
            if (ids == null) {
                return subjectNotFound(p.get(2));
            }
            return ok(Map.of("is_compatible", incompatibilities(p.get(2), schema).isEmpty()));
        }
        if (p.size() >= 1 && p.get(0).equals("config") && n <= 2) {
            String subject = n == 2 ? p.get(1) : null;
            if (method.equals("GET")) {
                return ok(Map.of("compatibilityLevel", subject == null ? globalCompatibility
                        : compatibility.getOrDefault(subject, globalCompatibility)));
            }
            if (method.equals("PUT")) {
                String level = MAPPER.readTree(body).path("compatibility").asText();
                if (subject == null) {
                    globalCompatibility = level;
                } else {
                    compatibility.put(subject, level);
                }
                return ok(Map.of("compatibility", level));
            }
        }
        return error(404, 404, "HTTP 404 Not Found");
    }

    private Response register(String subject, String body) throws IOException {
        JsonNode request = MAPPER.readTree(body);
        if (request.hasNonNull("schemaType") && !request.get("schemaType").asText().equals("AVRO")) {
            return error(422, 42201, "the stand-in knows Avro only");
        }
        if (request.path("references").size() > 0) {
            return error(422, 42201, "the stand-in does not resolve references");
        }
        Schema schema = parse(body);
        if (schema == null) {
            return invalidSchema(body);
        }
        String canonical = schema.toString();
        List<Integer> ids = subjects.get(subject);
        if (ids != null) {
            for (Integer id : ids) {
                if (schemas.get(id - 1).toString().equals(canonical)) {
                    return ok(Map.of("id", id));
                }
            }
            List<String> problems = incompatibilities(subject, schema);
            if (!problems.isEmpty()) {
                return error(409, 409, "Schema being registered is incompatible with an earlier schema for subject \""
                        + subject + "\", details: " + problems);
            }
        }
        Integer id = idsByCanonical.get(canonical);
        if (id == null) {
            schemas.add(schema);
            id = schemas.size();
            idsByCanonical.put(canonical, id);
        }
        subjects.computeIfAbsent(subject, s -> new ArrayList<>()).add(id);
        return ok(Map.of("id", id));
    }

    private Response lookup(String subject, String body) throws IOException {
        Schema schema = parse(body);
        if (schema == null) {
            return invalidSchema(body);
        }
        List<Integer> ids = subjects.get(subject);
        if (ids == null) {
            return subjectNotFound(subject);
        }
        for (int i = 0; i < ids.size(); i++) {
            Schema registered = schemas.get(ids.get(i) - 1);
            if (registered.toString().equals(schema.toString())) {
                return ok(subjectVersion(subject, i + 1, ids.get(i)));
            }
        }
        return error(404, 40403, "Schema not found");
    }

    private Response version(String subject, String version) {
        List<Integer> ids = subjects.get(subject);
        if (ids == null) {
            return subjectNotFound(subject);
        }
        int v = version.equals("latest") || version.equals("-1") ? ids.size() : Integer.parseInt(version);
        if (v < 1 || v > ids.size()) {
            return error(404, 40402, "Version " + version + " not found.");
        }
        return ok(subjectVersion(subject, v, ids.get(v - 1)));
    }

    private Map<String, Object> subjectVersion(String subject, int version, int id) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("subject", subject);
        body.put("version", version);
        body.put("id", id);
        body.put("schema", schemas.get(id - 1).toString());
        return body;
    }

    /** What makes {@code schema} incompatible with the subject's versions at its compatibility level; empty if nothing. */
    private List<String> incompatibilities(String subject, Schema schema) {
        String level = compatibility.getOrDefault(subject, globalCompatibility);
        List<Integer> ids = subjects.getOrDefault(subject, List.of());
        if (ids.isEmpty() || level.equals("NONE")) {
            return List.of();
        }
        boolean transitive = level.endsWith("_TRANSITIVE");
        List<Integer> against = transitive ? ids : ids.subList(ids.size() - 1, ids.size());
        boolean backward = level.startsWith("BACKWARD") || level.startsWith("FULL");
        boolean forward = level.startsWith("FORWARD") || level.startsWith("FULL");
        List<String> problems = new ArrayList<>();
        for (Integer id : against) {
            Schema existing = schemas.get(id - 1);
            if (backward) {
                problems.addAll(check(schema, existing, "the new schema cannot read data written with id " + id));
            }
            if (forward) {
                problems.addAll(check(existing, schema, "id " + id + " cannot read data written with the new schema"));
            }
        }
        return problems;
    }

    private static List<String> check(Schema reader, Schema writer, String what) {
        SchemaCompatibility.SchemaPairCompatibility result = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        if (result.getType() == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            return List.of();
        }
        List<String> problems = new ArrayList<>();
        for (SchemaCompatibility.Incompatibility i : result.getResult().getIncompatibilities()) {
            problems.add(what + ": " + i.getType() + " at " + i.getLocation() + " (" + i.getMessage() + ")");
        }
        return problems;
    }

    private static Schema parse(String body) throws IOException {
        JsonNode request = MAPPER.readTree(body);
        try {
            return new Schema.Parser().parse(request.path("schema").asText());
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static Response invalidSchema(String body) {
        return error(422, 42201, "Invalid schema " + body);
    }

    private static Response subjectNotFound(String subject) {
        return error(404, 40401, "Subject '" + subject + "' not found.");
    }

    private static Response ok(Object body) {
        return new Response(200, body);
    }

    private static Response error(int status, int code, String message) {
        ObjectNode body = MAPPER.createObjectNode();
        body.put("error_code", code);
        body.put("message", message);
        return new Response(status, body);
    }
}
