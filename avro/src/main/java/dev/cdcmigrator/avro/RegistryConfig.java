package dev.cdcmigrator.avro;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.ssl.DefaultSslEngineFactory;

/**
 * The registry and serializer settings, read from Confluent's configuration key names so an existing
 * {@code KafkaAvroSerializer} configuration works unchanged. Honoured:
 * <ul>
 *   <li>{@code schema.registry.url}: one or more URLs, comma-separated (tried in turn when one cannot be reached);
 *       required</li>
 *   <li>{@code basic.auth.credentials.source} ({@code USER_INFO} or {@code URL}) with {@code basic.auth.user.info}
 *       ({@code user:password}; also under its older name {@code schema.registry.basic.auth.user.info}), or the
 *       user info of the URL; {@code bearer.auth.credentials.source=STATIC_TOKEN} with {@code bearer.auth.token}</li>
 *   <li>{@code auto.register.schemas} (default true): register the record's schema; false looks it up and fails if
 *       it is not registered</li>
 *   <li>{@code use.latest.version} (default false, with {@code auto.register.schemas=false}): write with the
 *       subject's latest version, checked to be able to read the record's schema unless
 *       {@code latest.compatibility.strict=false}</li>
 *   <li>{@code latest.cache.ttl.sec} (default -1: never refetch the latest version)</li>
 *   <li>{@code normalize.schemas} (default false): sent as {@code normalize=} on register and lookup</li>
 *   <li>{@code max.schemas.per.subject} (default 1000): schemas cached per subject</li>
 *   <li>{@code http.connect.timeout.ms}, {@code http.read.timeout.ms} (default 60000 each)</li>
 *   <li>{@code avro.use.logical.type.converters} (default false): deserialize logical types to BigDecimal, Instant,
 *       LocalDate, ... instead of their Avro representation</li>
 *   <li>{@code key.subject.name.strategy}, {@code value.subject.name.strategy}: only {@code TopicNameStrategy}
 *       ({@code <topic>-key}, {@code <topic>-value}), the default, is supported; another is refused</li>
 * </ul>
 * Refused rather than ignored: {@code specific.avro.reader=true} and {@code schema.reflection=true} (these serdes
 * handle GenericRecord only), {@code mock://} URLs. HTTPS trusts the JVM's default trust store
 * ({@code javax.net.ssl.trustStore}) unless {@code schema.registry.ssl.truststore.*} names one, and presents the
 * client certificate of {@code schema.registry.ssl.keystore.*} (with {@code schema.registry.ssl.key.password}) if
 * given: Kafka's own TLS settings (JKS, PKCS12 or PEM), read by Kafka's {@code DefaultSslEngineFactory}. The host
 * name is always verified.
 *
 * @param urls the registry base URLs (user info removed)
 * @param authorization the HTTP Authorization header value, if any
 * @param autoRegister {@code auto.register.schemas}
 * @param useLatestVersion {@code use.latest.version}
 * @param latestCompatibilityStrict {@code latest.compatibility.strict}
 * @param latestCacheTtl {@code latest.cache.ttl.sec}; negative for no expiry
 * @param normalize {@code normalize.schemas}
 * @param maxSchemasPerSubject {@code max.schemas.per.subject}
 * @param connectTimeout {@code http.connect.timeout.ms}
 * @param readTimeout {@code http.read.timeout.ms}
 * @param useLogicalTypeConverters {@code avro.use.logical.type.converters}
 * @param sslContext the TLS context of {@code schema.registry.ssl.*}; empty for the JVM's default
 */
public record RegistryConfig(List<URI> urls, Optional<String> authorization, boolean autoRegister, boolean useLatestVersion,
                             boolean latestCompatibilityStrict, Duration latestCacheTtl, boolean normalize,
                             int maxSchemasPerSubject, Duration connectTimeout, Duration readTimeout,
                             boolean useLogicalTypeConverters, Optional<SSLContext> sslContext) {

    public static final String SCHEMA_REGISTRY_URL = "schema.registry.url";
    public static final String BASIC_AUTH_CREDENTIALS_SOURCE = "basic.auth.credentials.source";
    public static final String BASIC_AUTH_USER_INFO = "basic.auth.user.info";
    public static final String SCHEMA_REGISTRY_USER_INFO = "schema.registry.basic.auth.user.info";
    public static final String BEARER_AUTH_CREDENTIALS_SOURCE = "bearer.auth.credentials.source";
    public static final String BEARER_AUTH_TOKEN = "bearer.auth.token";
    public static final String AUTO_REGISTER_SCHEMAS = "auto.register.schemas";
    public static final String USE_LATEST_VERSION = "use.latest.version";
    public static final String LATEST_COMPATIBILITY_STRICT = "latest.compatibility.strict";
    public static final String LATEST_CACHE_TTL = "latest.cache.ttl.sec";
    public static final String NORMALIZE_SCHEMAS = "normalize.schemas";
    public static final String MAX_SCHEMAS_PER_SUBJECT = "max.schemas.per.subject";
    public static final String HTTP_CONNECT_TIMEOUT_MS = "http.connect.timeout.ms";
    public static final String HTTP_READ_TIMEOUT_MS = "http.read.timeout.ms";
    public static final String AVRO_USE_LOGICAL_TYPE_CONVERTERS = "avro.use.logical.type.converters";
    public static final String KEY_SUBJECT_NAME_STRATEGY = "key.subject.name.strategy";
    public static final String VALUE_SUBJECT_NAME_STRATEGY = "value.subject.name.strategy";
    public static final String SPECIFIC_AVRO_READER = "specific.avro.reader";
    public static final String SCHEMA_REFLECTION = "schema.reflection";
    /** The prefix of the registry client's TLS settings; without it they are Kafka's {@code ssl.*} settings. */
    public static final String SSL_PREFIX = "schema.registry.ssl.";

    /** Confluent's default subject name strategy; the only one supported. */
    public static final String TOPIC_NAME_STRATEGY = "io.confluent.kafka.serializers.subject.TopicNameStrategy";

    public RegistryConfig {
        urls = List.copyOf(urls);
        if (urls.isEmpty()) {
            throw new ConfigException(SCHEMA_REGISTRY_URL, "", "at least one schema registry URL is needed");
        }
    }

    /** Settings for a registry at {@code url} with every other setting at its default. */
    public static RegistryConfig of(String url) {
        return from(Map.of(SCHEMA_REGISTRY_URL, url));
    }

    /**
     * The settings in a Kafka client configuration (other keys are ignored).
     *
     * @throws ConfigException naming the key if a value is missing, malformed or not supported
     */
    public static RegistryConfig from(Map<String, ?> configs) {
        Object urlValue = configs.get(SCHEMA_REGISTRY_URL);
        if (urlValue == null || urlValue.toString().isBlank()) {
            throw new ConfigException(SCHEMA_REGISTRY_URL, urlValue, "missing: the Avro serializers need the schema registry URL");
        }
        List<URI> urls = new ArrayList<>();
        String urlUserInfo = null;
        List<?> values = urlValue instanceof List<?> list ? list : List.of(urlValue.toString().split(","));
        for (Object value : values) {
            String text = value.toString().trim();
            if (text.isEmpty()) {
                continue;
            }
            if (text.startsWith("mock://")) {
                throw new ConfigException(SCHEMA_REGISTRY_URL, text, "mock:// registries are Confluent's test helper and are not supported");
            }
            URI uri;
            try {
                uri = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(SCHEMA_REGISTRY_URL, text, "not a URL: " + e.getMessage());
            }
            if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https")) || uri.getHost() == null) {
                throw new ConfigException(SCHEMA_REGISTRY_URL, text, "needs an http:// or https:// URL with a host");
            }
            if (uri.getRawUserInfo() != null) {
                urlUserInfo = uri.getUserInfo();
                uri = URI.create(uri.getScheme() + "://" + uri.getRawAuthority().substring(uri.getRawAuthority().indexOf('@') + 1)
                        + (uri.getRawPath() == null ? "" : uri.getRawPath()));
            }
            urls.add(uri);
        }
        for (String key : List.of(KEY_SUBJECT_NAME_STRATEGY, VALUE_SUBJECT_NAME_STRATEGY)) {
            Object strategy = configs.get(key);
            String name = strategy instanceof Class<?> c ? c.getName() : strategy == null ? null : strategy.toString();
            if (name != null && !name.equals(TOPIC_NAME_STRATEGY) && !name.endsWith(".TopicNameStrategy")) {
                throw new ConfigException(key, name, "only TopicNameStrategy (<topic>-key, <topic>-value) is supported");
            }
        }
        for (String key : List.of(SPECIFIC_AVRO_READER, SCHEMA_REFLECTION)) {
            if (bool(configs, key, false)) {
                throw new ConfigException(key, "true", "these serializers handle GenericRecord only");
            }
        }
        return new RegistryConfig(urls, authorization(configs, urlUserInfo),
                bool(configs, AUTO_REGISTER_SCHEMAS, true), bool(configs, USE_LATEST_VERSION, false),
                bool(configs, LATEST_COMPATIBILITY_STRICT, true), Duration.ofSeconds(number(configs, LATEST_CACHE_TTL, -1)),
                bool(configs, NORMALIZE_SCHEMAS, false), (int) number(configs, MAX_SCHEMAS_PER_SUBJECT, 1000),
                Duration.ofMillis(number(configs, HTTP_CONNECT_TIMEOUT_MS, 60_000)),
                Duration.ofMillis(number(configs, HTTP_READ_TIMEOUT_MS, 60_000)),
                bool(configs, AVRO_USE_LOGICAL_TYPE_CONVERTERS, false), sslContext(configs));
    }

    private static Optional<SSLContext> sslContext(Map<String, ?> configs) {
        Map<String, Object> ssl = new HashMap<>();
        configs.forEach((key, value) -> {
            if (key.startsWith(SSL_PREFIX) && value != null) {
                ssl.put("ssl." + key.substring(SSL_PREFIX.length()), value instanceof Password p ? p.value() : value.toString());
            }
        });
        if (ssl.isEmpty()) {
            return Optional.empty();
        }
        DefaultSslEngineFactory factory = new DefaultSslEngineFactory();
        try {
            factory.configure(new ConfigDef().withClientSslSupport().parse(ssl));
            return Optional.of(factory.sslContext());
        } catch (ConfigException e) {
            throw new ConfigException(SSL_PREFIX + "*: " + e.getMessage());
        } catch (RuntimeException e) {
            // Kafka's factory reports an unreadable store or a wrong password as a KafkaException.
            throw new ConfigException(SSL_PREFIX + "*: " + e.getMessage()
                    + (e.getCause() == null ? "" : " (" + e.getCause().getMessage() + ")"));
        }
    }

    private static Optional<String> authorization(Map<String, ?> configs, String urlUserInfo) {
        Object bearerSource = configs.get(BEARER_AUTH_CREDENTIALS_SOURCE);
        if (bearerSource != null && !bearerSource.toString().isBlank()) {
            if (!bearerSource.toString().equalsIgnoreCase("STATIC_TOKEN")) {
                throw new ConfigException(BEARER_AUTH_CREDENTIALS_SOURCE, bearerSource, "only STATIC_TOKEN is supported");
            }
            Object token = configs.get(BEARER_AUTH_TOKEN);
            if (token == null || token.toString().isBlank()) {
                throw new ConfigException(BEARER_AUTH_TOKEN, "", "missing: needed with " + BEARER_AUTH_CREDENTIALS_SOURCE + "=STATIC_TOKEN");
            }
            return Optional.of("Bearer " + token);
        }
        Object sourceValue = configs.get(BASIC_AUTH_CREDENTIALS_SOURCE);
        String source = sourceValue == null ? (urlUserInfo != null ? "URL" : "") : sourceValue.toString().trim().toUpperCase(Locale.ROOT);
        String userInfo = switch (source) {
            case "" -> null;
            case "USER_INFO" -> {
                Object info = configs.get(BASIC_AUTH_USER_INFO);
                if (info == null || info.toString().isBlank()) {
                    info = configs.get(SCHEMA_REGISTRY_USER_INFO);
                }
                if (info == null || info.toString().isBlank()) {
                    throw new ConfigException(BASIC_AUTH_USER_INFO, "", "missing: needed with " + BASIC_AUTH_CREDENTIALS_SOURCE + "=USER_INFO");
                }
                yield info.toString();
            }
            case "URL" -> {
                if (urlUserInfo == null) {
                    throw new ConfigException(SCHEMA_REGISTRY_URL, "", "has no user info, needed with " + BASIC_AUTH_CREDENTIALS_SOURCE + "=URL");
                }
                yield urlUserInfo;
            }
            default -> throw new ConfigException(BASIC_AUTH_CREDENTIALS_SOURCE, sourceValue,
                    "only USER_INFO and URL are supported (SASL_INHERIT is not)");
        };
        if (userInfo == null) {
            return Optional.empty();
        }
        if (!userInfo.contains(":")) {
            throw new ConfigException(BASIC_AUTH_USER_INFO, "(hidden)", "must be user:password");
        }
        return Optional.of("Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8)));
    }

    private static boolean bool(Map<String, ?> configs, String key, boolean fallback) {
        Object value = configs.get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Boolean b) {
            return b;
        }
        String text = value.toString().trim();
        if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(text);
        }
        throw new ConfigException(key, value, "must be true or false");
    }

    private static long number(Map<String, ?> configs, String key, long fallback) {
        Object value = configs.get(key);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Number n) {
            return n.longValue();
        }
        try {
            return Long.parseLong(value.toString().trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(key, value, "must be a whole number");
        }
    }

    /** The subject of a topic's keys or values under TopicNameStrategy: {@code <topic>-key} or {@code <topic>-value}. */
    public static String subject(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }

    @Override
    public String toString() {
        return "RegistryConfig[urls=" + urls + ", authorization=" + authorization.map(a -> a.substring(0, a.indexOf(' ')) + " (hidden)").orElse("none")
                + ", autoRegister=" + autoRegister + ", useLatestVersion=" + useLatestVersion + "]";
    }
}
