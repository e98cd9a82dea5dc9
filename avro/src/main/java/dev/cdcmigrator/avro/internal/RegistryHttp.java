package dev.cdcmigrator.avro.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cdcmigrator.avro.IncompatibleSchemaException;
import dev.cdcmigrator.avro.RegistryConfig;
import dev.cdcmigrator.avro.SchemaRegistryException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The HTTP side of the Confluent Schema Registry REST API (v1 content type), on {@link HttpClient} and Jackson:
 * one JSON request, one JSON answer, registry errors ({@code {"error_code": ..., "message": ...}}) turned into
 * {@link SchemaRegistryException}s that name the subject. URLs are tried in turn while they cannot be reached.
 */
public final class RegistryHttp {

    /** Confluent's v1 media type, sent as Content-Type like Confluent's client does. */
    public static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final String ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final List<URI> urls;
    private final String authorization;
    private final RegistryConfig config;
    private final HttpClient http;
    private volatile int current;

    public RegistryHttp(RegistryConfig config) {
        this.config = config;
        this.urls = config.urls();
        this.authorization = config.authorization().orElse(null);
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(config.connectTimeout()).version(HttpClient.Version.HTTP_1_1);
        config.sslContext().ifPresent(builder::sslContext);
        this.http = builder.build();
    }

    /** GET {@code path?query}; the answer's JSON. */
    public JsonNode get(String path, String query, String subject) {
        return send("GET", path, query, null, subject);
    }

    /** POST {@code body} to {@code path?query}; the answer's JSON. */
    public JsonNode post(String path, String query, JsonNode body, String subject) {
        return send("POST", path, query, body, subject);
    }

    private JsonNode send(String method, String path, String query, JsonNode body, String subject) {
        byte[] bytes;
        try {
            bytes = body == null ? null : MAPPER.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write a registry request", e);
        }
        IOException failure = null;
        int start = current;
        for (int i = 0; i < urls.size(); i++) {
            int index = (start + i) % urls.size();
            URI base = urls.get(index);
            URI uri = URI.create(base + path + (query == null || query.isEmpty() ? "" : "?" + query));
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(config.readTimeout()).header("Accept", ACCEPT);
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            if (bytes != null) {
                request.header("Content-Type", CONTENT_TYPE).method(method, HttpRequest.BodyPublishers.ofByteArray(bytes));
            } else {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<byte[]> response;
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            } catch (IOException e) {
                failure = e;
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException("interrupted while calling the schema registry at " + base, -1, -1, subject, e);
            }
            current = index;
            return answer(method, base + path, subject, response);
        }
        throw new SchemaRegistryException("cannot reach the schema registry at " + urls + " (" + method + " " + path + "): "
                + failure, -1, -1, subject, failure);
    }

    private static JsonNode answer(String method, String url, String subject, HttpResponse<byte[]> response) {
        int status = response.statusCode();
        JsonNode json = null;
        String text = new String(response.body(), StandardCharsets.UTF_8);
        try {
            json = text.isBlank() ? null : MAPPER.readTree(text);
        } catch (IOException e) {
            if (status / 100 == 2) {
                throw new SchemaRegistryException(method + " " + url + " answered " + status + " with a body that is not JSON: "
                        + abbreviate(text), status, status, subject, e);
            }
        }
        if (status / 100 == 2) {
            if (json == null) {
                throw new SchemaRegistryException(method + " " + url + " answered " + status + " without a body", status, status, subject, null);
            }
            return json;
        }
        int code = json != null && json.has("error_code") ? json.get("error_code").asInt() : status;
        String message = json != null && json.has("message") ? json.get("message").asText() : abbreviate(text);
        String about = subject == null ? "" : "subject '" + subject + "': ";
        if (status == 409) {
            throw new IncompatibleSchemaException(about + "the schema registry refused the schema as incompatible with the"
                    + " subject's earlier versions at its compatibility level (the registry's default is BACKWARD: the new"
                    + " schema must read every record written with the latest one; give an added NOT NULL column a constant"
                    + " default or make it nullable, or change the subject's compatibility with PUT /config/" + subject
                    + "). The registry said: " + message + " (error code " + code + ")", code, subject);
        }
        String hint = status == 401 || status == 403
                ? " (check " + RegistryConfig.BASIC_AUTH_CREDENTIALS_SOURCE + " and " + RegistryConfig.BASIC_AUTH_USER_INFO + ")" : "";
        throw new SchemaRegistryException(about + method + " " + url + " answered " + status + " (error code " + code + "): "
                + message + hint, status, code, subject, null);
    }

    private static String abbreviate(String text) {
        return text.length() > 300 ? text.substring(0, 297) + "..." : text;
    }

    /** A path segment, percent-encoded: every character but the unreserved {@code A-Z a-z 0-9 - . _ ~}. */
    public static String segment(String value) {
        StringBuilder encoded = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                encoded.append(c);
            } else {
                encoded.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return encoded.toString();
    }
}
