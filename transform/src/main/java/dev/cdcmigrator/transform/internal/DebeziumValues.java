package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.common.event.PostgresText;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;

/**
 * Turns Debezium's encodings (as configured by capture) into values PostgreSQL accepts as text input for the v2
 * column: epoch-based temporal types become ISO-8601 text, binary becomes {@code \x} hex. Strings (decimals,
 * zoned timestamps, json, uuid, enums under capture's settings) and numbers pass through unchanged.
 */
final class DebeziumValues {

    /** Debezium's stand-in for an unchanged TOASTed column that the WAL record did not carry. */
    static final String UNAVAILABLE = "__debezium_unavailable_value";

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");
    /** pgjdbc's {@code PGStatement.DATE_POSITIVE_INFINITY} and {@code DATE_NEGATIVE_INFINITY}. */
    private static final long POSITIVE_INFINITY = 9223372036825200000L;
    private static final long NEGATIVE_INFINITY = -9223372036832400000L;

    private DebeziumValues() {
    }

    /** A row's values decoded by the semantic types of its schema's fields; null for a null row. */
    static ObjectNode decodeRow(JsonNode row, Envelopes.RowSchema schema) {
        if (row == null || row.isNull()) {
            return null;
        }
        ObjectNode decoded = JsonNodeFactory.instance.objectNode();
        Iterator<Map.Entry<String, JsonNode>> fields = row.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String semanticType = schema.semanticTypes().getOrDefault(field.getKey(), "");
            try {
                decoded.set(field.getKey(), decode(field.getValue(), semanticType));
            } catch (RuntimeException e) {
                throw new MappingException(field.getKey(), "column " + field.getKey() + ": " + field.getValue()
                        + " is not a value of Debezium's " + semanticType + ": " + e.getMessage());
            }
        }
        return decoded;
    }

    private static JsonNode decode(JsonNode value, String semanticType) {
        if (value.isNull()) {
            return value;
        }
        return switch (semanticType) {
            case "io.debezium.time.Date" -> text(PostgresText.era(LocalDate.ofEpochDay(value.asLong()).toString()));
            case "io.debezium.time.Timestamp", "io.debezium.time.MicroTimestamp", "io.debezium.time.NanoTimestamp" ->
                    text(timestamp(value.asLong(), semanticType));
            case "io.debezium.time.Time" -> text(TIME.format(LocalTime.ofNanoOfDay(value.asLong() * 1_000_000L)));
            case "io.debezium.time.MicroTime" -> text(TIME.format(LocalTime.ofNanoOfDay(value.asLong() * 1_000L)));
            case "io.debezium.time.NanoTime" -> text(TIME.format(LocalTime.ofNanoOfDay(value.asLong())));
            case "bytes" -> value.isTextual() && !UNAVAILABLE.equals(value.asText())
                    ? text("\\x" + HexFormat.of().formatHex(Base64.getDecoder().decode(value.asText())))
                    : value;
            default -> value;
        };
    }

    /**
     * Debezium passes PostgreSQL's {@code infinity} and {@code -infinity} timestamps on as pgjdbc's stand-ins (in
     * whatever unit the field has); anything else is a point in time.
     */
    private static String timestamp(long value, String semanticType) {
        if (value == POSITIVE_INFINITY) {
            return "infinity";
        }
        if (value == NEGATIVE_INFINITY) {
            return "-infinity";
        }
        Instant instant = switch (semanticType) {
            case "io.debezium.time.Timestamp" -> Instant.ofEpochMilli(value);
            case "io.debezium.time.MicroTimestamp" -> micros(value);
            default -> nanos(value);
        };
        return PostgresText.era(TIMESTAMP.format(instant.atOffset(ZoneOffset.UTC)));
    }

    private static Instant micros(long micros) {
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L);
    }

    private static Instant nanos(long nanos) {
        return Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
    }

    private static TextNode text(String s) {
        return TextNode.valueOf(s);
    }
}
