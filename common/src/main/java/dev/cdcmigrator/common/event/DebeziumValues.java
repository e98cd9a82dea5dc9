package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Turns Debezium's encodings (as configured by capture) into values PostgreSQL accepts as text input for the v2
 * column: epoch-based temporal types become ISO-8601 text, binary becomes {@code \x} hex. Strings (decimals,
 * zoned timestamps, json, uuid, enums under capture's settings) and numbers pass through unchanged. The transform
 * decodes every change with it, and capture hashes a row's key in this decoded form ({@link RawPartitions}), which is
 * also the form the copy backfill reads rows in.
 */
public final class DebeziumValues {

    /** Debezium's stand-in for an unchanged TOASTed column that the WAL record did not carry. */
    public static final String UNAVAILABLE = "__debezium_unavailable_value";

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");
    /** pgjdbc's {@code PGStatement.DATE_POSITIVE_INFINITY} and {@code DATE_NEGATIVE_INFINITY}. */
    private static final long POSITIVE_INFINITY = 9223372036825200000L;
    private static final long NEGATIVE_INFINITY = -9223372036832400000L;

    private DebeziumValues() {
    }

    /**
     * One value decoded by its field's semantic type: the schema's {@code name} where it has one, else its type
     * ({@code bytes}, {@code int64}, ...).
     *
     * @throws RuntimeException when the value is not one of that type
     */
    public static JsonNode decode(JsonNode value, String semanticType) {
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
