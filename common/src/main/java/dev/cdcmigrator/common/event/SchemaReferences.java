package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * How a raw topic record carries its Debezium schema: inline, or by reference to an earlier record of its partition.
 *
 * <p>Capture writes Debezium's JSON (the Connect JSON converter's output). A key or value whose schema capture has not
 * yet written to the record's partition carries it inline, exactly as the converter with schemas enabled writes it
 * ({@code {"schema":<schema>,"payload":<payload>}}). Every later one with the same schema carries only the payload
 * (what the converter writes with schemas disabled) and a header, {@link #VALUE_HEADER} or {@link #KEY_HEADER},
 * holding the schema's {@linkplain #id id}: the SHA-256 of the schema's JSON bytes as they appeared inline. So in each
 * partition a record with the schema inline comes before the first record that refers to it. A reader that keeps, per
 * partition, the schemas it saw inline by their ids can decode every record it reads from the partition's beginning or
 * from a position it saved with those schemas; one that needs only the payloads reads {@link #payload} of either form.
 */
public final class SchemaReferences {

    /** The header naming the schema of a record value that carries its payload alone. */
    public static final String VALUE_HEADER = "cdc-migrator.value-schema";
    /** The header naming the schema of a record key that carries its payload alone. */
    public static final String KEY_HEADER = "cdc-migrator.key-schema";

    private static final byte[] HEAD = "{\"schema\":".getBytes(StandardCharsets.UTF_8);
    private static final byte[] MIDDLE = ",\"payload\":".getBytes(StandardCharsets.UTF_8);

    private SchemaReferences() {
    }

    /** The id of the schema whose JSON bytes are {@code schema[from, to)}: hex SHA-256, 64 characters. */
    public static String id(byte[] schema, int from, int to) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(schema, from, to - from);
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** The schema id a record's header names, or null when the record carries its schema inline (or has none). */
    public static String referenced(Headers headers, String header) {
        Header last = headers == null ? null : headers.lastHeader(header);
        return last == null || last.value() == null ? null : new String(last.value(), StandardCharsets.UTF_8);
    }

    /** The key or value with its schema inline, as Debezium's JSON converter with schemas enabled writes it. */
    public static byte[] inline(byte[] schema, byte[] payload) {
        byte[] out = new byte[HEAD.length + schema.length + MIDDLE.length + payload.length + 1];
        System.arraycopy(HEAD, 0, out, 0, HEAD.length);
        System.arraycopy(schema, 0, out, HEAD.length, schema.length);
        System.arraycopy(MIDDLE, 0, out, HEAD.length + schema.length, MIDDLE.length);
        System.arraycopy(payload, 0, out, HEAD.length + schema.length + MIDDLE.length, payload.length);
        out[out.length - 1] = '}';
        return out;
    }

    /**
     * The payload of a key or value read as JSON: the {@code payload} of one with its schema inline, else the record
     * itself ({@code referenced} says which: true when the record's header names its schema).
     */
    public static JsonNode payload(JsonNode record, boolean referenced) {
        return referenced || record == null ? record : record.path("payload");
    }
}
