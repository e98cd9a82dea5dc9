package dev.cdcmigrator.avro;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.avro.internal.RegistryHttp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * A client of the Confluent Schema Registry REST API (which Confluent Schema Registry, Apicurio Registry's
 * {@code /apis/ccompat/v7}, Karapace and Redpanda serve), for Avro schemas. It sends the requests Confluent's
 * {@code CachedSchemaRegistryClient} sends for the same calls (paths, query parameters, bodies, Content-Type,
 * credentials; the contract test compares them) and caches in both directions: (subject, schema) → id after a
 * register or lookup, id → schema after any call that saw both. Thread-safe.
 *
 * <p>Schemas go to the registry as Avro's JSON form ({@link Schema#toString()}), as Confluent's
 * {@code AvroSchema.canonicalString()} sends them, so both clients register identical text.
 */
public final class SchemaRegistryClient {

    private final RegistryConfig config;
    private final RegistryHttp http;
    private final Map<String, Map<Schema, RegisteredSchema>> bySubject = new ConcurrentHashMap<>();
    private final Map<String, Map<Schema, Integer>> registered = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<String, Latest> latest = new ConcurrentHashMap<>();

    private record Latest(RegisteredSchema schema, long fetchedNanos) {
    }

    public SchemaRegistryClient(RegistryConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.http = new RegistryHttp(config);
    }

    /** A client configured from Confluent's configuration keys (see {@link RegistryConfig}). */
    public static SchemaRegistryClient create(Map<String, ?> configs) {
        return new SchemaRegistryClient(RegistryConfig.from(configs));
    }

    /** The settings the client was made with. */
    public RegistryConfig config() {
        return config;
    }

    /**
     * The subjects registered ({@code GET /subjects}), which is also how {@code migrator check} proves that the
     * registry answers with these settings.
     *
     * @throws SchemaRegistryException if the registry refuses (naming the status) or cannot be reached
     */
    public List<String> subjects() {
        List<String> subjects = new ArrayList<>();
        http.get("/subjects", null, null).forEach(subject -> subjects.add(subject.asText()));
        return subjects;
    }

    /**
     * Registers {@code schema} under {@code subject} ({@code POST /subjects/{subject}/versions}), or finds it already
     * registered there, and returns its id. Cached: a schema registered once is not sent again.
     *
     * @throws IncompatibleSchemaException if the registry refuses it as incompatible (HTTP 409), naming the subject
     * @throws SchemaRegistryException on any other refusal or if the registry cannot be reached
     */
    public int register(String subject, Schema schema) {
        Integer id = registered.computeIfAbsent(subject, s -> lru()).get(schema);
        if (id != null) {
            return id;
        }
        JsonNode answer = http.post("/subjects/" + RegistryHttp.segment(subject) + "/versions", "normalize=" + config.normalize(),
                schemaRequest(schema), subject);
        id = requireId(answer, subject);
        remember(subject, schema, id);
        return id;
    }

    /**
     * The registration of {@code schema} under {@code subject} ({@code POST /subjects/{subject}}), without
     * registering it. Cached.
     *
     * @throws SchemaRegistryException with {@link SchemaRegistryException#isNotFound()} if the subject does not exist
     *     or does not have the schema
     */
    public RegisteredSchema lookup(String subject, Schema schema) {
        RegisteredSchema known = bySubject.computeIfAbsent(subject, s -> lru()).get(schema);
        if (known != null) {
            return known;
        }
        JsonNode answer = http.post("/subjects/" + RegistryHttp.segment(subject),
                "normalize=" + config.normalize() + "&deleted=false", schemaRequest(schema), subject);
        RegisteredSchema found = new RegisteredSchema(answer.path("subject").asText(subject), answer.path("version").asInt(),
                requireId(answer, subject), schema);
        bySubject.get(subject).put(schema, found);
        remember(subject, schema, found.id());
        return found;
    }

    /**
     * The schema with registry id {@code id} ({@code GET /schemas/ids/{id}}). Cached: ids never change.
     *
     * @throws SchemaRegistryException with {@link SchemaRegistryException#isNotFound()} if there is no such id
     */
    public Schema schemaById(int id) {
        return schemaById(id, null);
    }

    /**
     * The schema with registry id {@code id}, as read from a record of {@code subject} (sent as a hint, like
     * Confluent's {@code getSchemaBySubjectAndId}; registries with contexts use it).
     */
    public Schema schemaById(int id, String subject) {
        Schema known = byId.get(id);
        if (known != null) {
            return known;
        }
        JsonNode answer = http.get("/schemas/ids/" + id, "fetchMaxId=false&subject=" + (subject == null ? "" : RegistryHttp.segment(subject)),
                subject);
        String type = answer.path("schemaType").asText("AVRO");
        if (!type.equals("AVRO")) {
            throw new SchemaRegistryException("schema id " + id + " is a " + type + " schema, not Avro", 200, 0, subject, null);
        }
        Schema schema = parse(answer.path("schema").asText(), "schema id " + id, subject);
        byId.putIfAbsent(id, schema);
        return byId.get(id);
    }

    /**
     * The latest version under {@code subject} ({@code GET /subjects/{subject}/versions/latest}), cached for
     * {@code latest.cache.ttl.sec} (forever by default, as Confluent's client).
     *
     * @throws SchemaRegistryException with {@link SchemaRegistryException#isNotFound()} if there is no such subject
     */
    public RegisteredSchema latestVersion(String subject) {
        Latest cached = latest.get(subject);
        long now = System.nanoTime();
        if (cached != null && (config.latestCacheTtl().isNegative() || now - cached.fetchedNanos() < config.latestCacheTtl().toNanos())) {
            return cached.schema();
        }
        RegisteredSchema found = fetchLatest(subject);
        latest.put(subject, new Latest(found, now));
        return found;
    }

    /** The latest version under {@code subject}, from the registry (not the cache). */
    RegisteredSchema fetchLatest(String subject) {
        JsonNode answer = http.get("/subjects/" + RegistryHttp.segment(subject) + "/versions/latest", null, subject);
        Schema schema = parse(answer.path("schema").asText(), "the latest version of subject " + subject, subject);
        RegisteredSchema found = new RegisteredSchema(answer.path("subject").asText(subject), answer.path("version").asInt(),
                requireId(answer, subject), schema);
        byId.putIfAbsent(found.id(), schema);
        return found;
    }

    /**
     * Whether the registry would accept {@code schema} as the next version of {@code subject}
     * ({@code POST /compatibility/subjects/{subject}/versions/latest}); true if the subject does not exist yet.
     */
    public boolean isCompatible(String subject, Schema schema) {
        try {
            JsonNode answer = http.post("/compatibility/subjects/" + RegistryHttp.segment(subject) + "/versions/latest",
                    "normalize=" + config.normalize() + "&verbose=false", schemaRequest(schema), subject);
            return answer.path("is_compatible").asBoolean(false);
        } catch (SchemaRegistryException e) {
            if (e.isNotFound() && e.errorCode() == SchemaRegistryException.SUBJECT_NOT_FOUND) {
                return true;
            }
            throw e;
        }
    }

    private void remember(String subject, Schema schema, int id) {
        registered.computeIfAbsent(subject, s -> lru()).put(schema, id);
        byId.putIfAbsent(id, schema);
    }

    private static ObjectNode schemaRequest(Schema schema) {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.put("schema", schema.toString());
        return body;
    }

    private static int requireId(JsonNode answer, String subject) {
        if (!answer.path("id").canConvertToInt()) {
            throw new SchemaRegistryException("subject '" + subject + "': the registry answered without a schema id: " + answer,
                    200, 0, subject, null);
        }
        return answer.get("id").asInt();
    }

    private static Schema parse(String text, String what, String subject) {
        try {
            // Like Confluent's AvroSchema: defaults are not validated when reading what the registry holds.
            return new Schema.Parser().setValidateDefaults(false).parse(text);
        } catch (SchemaParseException e) {
            throw new SchemaRegistryException(what + " is not a valid Avro schema: " + e.getMessage(), 200, 0, subject, e);
        }
    }

    /** A per-subject cache bounded by {@code max.schemas.per.subject}, dropping the least recently used. */
    private <V> Map<Schema, V> lru() {
        int capacity = Math.max(1, config.maxSchemasPerSubject());
        return java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<Schema, V> eldest) {
                return size() > capacity;
            }
        });
    }

    @Override
    public String toString() {
        return "SchemaRegistryClient[" + config + "]";
    }
}
