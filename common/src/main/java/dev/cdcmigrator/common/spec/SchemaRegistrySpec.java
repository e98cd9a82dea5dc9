package dev.cdcmigrator.common.spec;

import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The schema registry of Avro v2 topics ({@code kafka.schemaRegistry}): any registry serving the Confluent Schema
 * Registry REST API (Confluent's, Apicurio's {@code /apis/ccompat/v7}, Karapace, Redpanda).
 *
 * @param url one or more base URLs, comma-separated, tried in turn while one cannot be reached; {@code http} or
 *            {@code https} (the JVM's trust store), without credentials (they belong in {@code basicAuth})
 * @param basicAuth HTTP basic credentials, if the registry needs them
 * @param settings client settings under Confluent's names, from the closed list {@link #SETTINGS}; kept as text
 */
public record SchemaRegistrySpec(String url, BasicAuth basicAuth, Map<String, Object> settings) {

    /**
     * HTTP basic credentials of the registry (Confluent's {@code basic.auth.credentials.source=USER_INFO}).
     *
     * @param user the user (an API key for Confluent Cloud); may not contain {@code :}
     * @param password its password (the API secret); write it as {@code ${env:...}} or {@code ${file:...}}
     */
    public record BasicAuth(String user, String password) {

        public BasicAuth {
            user = Identifiers.requireText(user, "user");
            if (user.contains(":")) {
                throw new IllegalArgumentException("user may not contain ':' (HTTP basic authentication separates user and password with it)");
            }
            if (password == null || password.isEmpty()) {
                throw new IllegalArgumentException("password is required with user");
            }
        }

        @Override
        public String toString() {
            return "BasicAuth[user=" + user + ", password=****]";
        }
    }

    /** What a setting's value must be. */
    private enum Kind { BOOLEAN, POSITIVE_NUMBER, STATIC_TOKEN, TEXT }

    /**
     * The Confluent client settings {@code settings} may hold, with what their values must be. The migrator writes
     * each change with the schema of the v2 columns it carries and reads each record with the schema it was written
     * with, so Confluent's settings that choose other schemas ({@code use.latest.version}, subject name strategies,
     * specific or reflect readers) have no place here; the URL and basic credentials have keys of their own.
     */
    private static final Map<String, Kind> SETTINGS = allowedSettings();

    private static Map<String, Kind> allowedSettings() {
        Map<String, Kind> settings = new TreeMap<>();
        settings.put("auto.register.schemas", Kind.BOOLEAN);
        settings.put("normalize.schemas", Kind.BOOLEAN);
        settings.put("max.schemas.per.subject", Kind.POSITIVE_NUMBER);
        settings.put("http.connect.timeout.ms", Kind.POSITIVE_NUMBER);
        settings.put("http.read.timeout.ms", Kind.POSITIVE_NUMBER);
        settings.put("bearer.auth.credentials.source", Kind.STATIC_TOKEN);
        settings.put("bearer.auth.token", Kind.TEXT);
        // TLS to the registry under Confluent's names (its client's ssl.* with the schema.registry. prefix).
        for (String tls : List.of("truststore.location", "truststore.password", "truststore.type", "keystore.location",
                "keystore.password", "keystore.type", "key.password")) {
            settings.put("schema.registry.ssl." + tls, Kind.TEXT);
        }
        return Collections.unmodifiableMap(settings);
    }

    /** Confluent's keys that the spec has keys of its own for, with the key to use. */
    private static final Map<String, String> OWN_KEYS = Map.of(
            "schema.registry.url", "url",
            "basic.auth.credentials.source", "basicAuth",
            "basic.auth.user.info", "basicAuth",
            "schema.registry.basic.auth.user.info", "basicAuth");

    public SchemaRegistrySpec {
        url = Identifiers.requireText(url, "url");
        for (String part : url.split(",", -1)) {
            checkUrl(part.trim());
        }
        Map<String, Object> copy = new LinkedHashMap<>();
        if (settings != null) {
            settings.forEach((name, value) -> copy.put(name, checkSetting(name, value)));
        }
        settings = Collections.unmodifiableMap(copy);
        boolean bearer = settings.containsKey("bearer.auth.credentials.source");
        if (bearer != settings.containsKey("bearer.auth.token")) {
            throw new IllegalArgumentException("settings bearer.auth.credentials.source and bearer.auth.token go together");
        }
        if (bearer && basicAuth != null) {
            throw new IllegalArgumentException("use basicAuth or a bearer token (settings bearer.auth.*), not both");
        }
    }

    private static void checkUrl(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("url '" + url + "' is not a URL: " + e.getMessage());
        }
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https")) || uri.getHost() == null) {
            throw new IllegalArgumentException("url '" + url + "' must be http://host[:port][/path] or https://...; several are separated by commas");
        }
        if (uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException("url '" + uri.getScheme() + "://" + uri.getHost() + "...' carries credentials;"
                    + " give them as basicAuth: { user: ..., password: ... } so that they stay out of logs");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("url '" + url + "' may not have a query or fragment");
        }
    }

    private static String checkSetting(String name, Object value) {
        String own = OWN_KEYS.get(name);
        if (own != null) {
            throw new IllegalArgumentException("setting " + name + ": use schemaRegistry." + own + " instead");
        }
        Kind kind = SETTINGS.get(name);
        if (kind == null) {
            throw new IllegalArgumentException("unknown setting '" + name + "' (expected one of: " + String.join(", ", SETTINGS.keySet()) + ")");
        }
        if (value == null || value instanceof Map || value instanceof Iterable) {
            throw new IllegalArgumentException("setting " + name + " must be a single value");
        }
        String text = String.valueOf(value).trim();
        switch (kind) {
            case BOOLEAN -> {
                if (!text.equals("true") && !text.equals("false")) {
                    throw new IllegalArgumentException("setting " + name + " must be true or false, was '" + text + "'");
                }
            }
            case POSITIVE_NUMBER -> {
                long number;
                try {
                    number = Long.parseLong(text);
                } catch (NumberFormatException e) {
                    number = 0;
                }
                if (number < 1 || number > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("setting " + name + " must be a whole number from 1 to " + Integer.MAX_VALUE
                            + ", was '" + text + "'");
                }
            }
            case STATIC_TOKEN -> {
                if (!text.toUpperCase(Locale.ROOT).equals("STATIC_TOKEN")) {
                    throw new IllegalArgumentException("setting " + name + " must be STATIC_TOKEN (the token in bearer.auth.token), was '" + text + "'");
                }
            }
            case TEXT -> {
                if (text.isEmpty()) {
                    throw new IllegalArgumentException("setting " + name + " may not be empty");
                }
            }
        }
        return text;
    }

    /** The registry URLs, in order. */
    public List<String> urls() {
        List<String> urls = new ArrayList<>();
        for (String part : url.split(",")) {
            urls.add(part.trim());
        }
        return urls;
    }

    /**
     * The settings for a Confluent schema registry client or Avro serializer, under Confluent's names:
     * {@code schema.registry.url}, the basic credentials as {@code basic.auth.credentials.source=USER_INFO} and
     * {@code basic.auth.user.info}, then {@link #settings()}.
     */
    public Map<String, Object> clientConfigs() {
        Map<String, Object> configs = new LinkedHashMap<>();
        configs.put("schema.registry.url", String.join(",", urls()));
        if (basicAuth != null) {
            configs.put("basic.auth.credentials.source", "USER_INFO");
            configs.put("basic.auth.user.info", basicAuth.user() + ":" + basicAuth.password());
        }
        configs.putAll(settings);
        return configs;
    }

    @Override
    public String toString() {
        Map<String, Object> shown = new LinkedHashMap<>(settings);
        shown.computeIfPresent("bearer.auth.token", (k, v) -> "****");
        return "SchemaRegistrySpec[url=" + url + ", basicAuth=" + basicAuth + ", settings=" + shown + "]";
    }
}
