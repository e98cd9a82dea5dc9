package dev.cdcmigrator.avro.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.avro.V2Column;
import dev.cdcmigrator.common.serde.Json;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Values between the v2 JSON form (JSON scalars in PostgreSQL text input form, JSON arrays for arrays, JSON text or
 * JSON for json/jsonb) and Avro's own representations without logical-type conversions (what a Confluent
 * deserializer returns by default): {@code ByteBuffer} for decimals and bytea, {@code Long} micros for timestamps and
 * times, {@code Integer} days for dates, {@code String} for uuid and text. Reading also accepts the logical-type
 * objects (BigDecimal, Instant, LocalDateTime, LocalDate, LocalTime, UUID) a deserializer with
 * {@code avro.use.logical.type.converters=true} returns.
 *
 * <p>Every conversion is exact or fails with an {@link IllegalArgumentException} saying why. PostgreSQL's
 * {@code infinity} and {@code -infinity} dates and timestamps map to the largest and smallest Avro value
 * ({@code Integer.MAX_VALUE}/{@code MIN_VALUE} days, {@code Long.MAX_VALUE}/{@code MIN_VALUE} micros) and back.
 */
public final class TextValues {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final long MICROS_PER_DAY = 86_400_000_000L;
    private static final Pattern DATE = Pattern.compile("(\\d{4,})-(\\d{1,2})-(\\d{1,2})(\\s*BC)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern TIME = Pattern.compile("(\\d{1,2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d+))?)?");
    private static final Pattern TIMESTAMP = Pattern.compile(
            "(\\d{4,})-(\\d{1,2})-(\\d{1,2})(?:(?:[Tt]|\\s+)(\\d{1,2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d+))?)?)?"
                    + "\\s*([Zz]|[+-]\\d{1,2}(?::?\\d{2}(?::?\\d{2})?)?)?(\\s*BC)?", Pattern.CASE_INSENSITIVE);

    private TextValues() {
    }

    // ------------------------------------------------------------------ v2 JSON -> Avro

    /**
     * The Avro value of a v2 column value; null for JSON null or a missing value.
     *
     * @throws IllegalArgumentException if the value is not of the column's type or would lose precision
     */
    public static Object toAvro(V2Column column, JsonNode value) {
        return toAvro(column, value, column.arrayDimensions());
    }

    private static Object toAvro(V2Column column, JsonNode value, int dimensions) {
        if (value == null || value.isNull() || value.isMissingNode()) {
            return null;
        }
        if (dimensions > 0) {
            JsonNode array = value.isTextual() ? PgArrays.parse(value.asText()) : value;
            if (!array.isArray()) {
                throw new IllegalArgumentException("expected an array (JSON array or PostgreSQL array literal), got " + brief(value));
            }
            List<Object> elements = new ArrayList<>(array.size());
            for (JsonNode element : array) {
                elements.add(toAvro(column, element, dimensions - 1));
            }
            return elements;
        }
        return scalarToAvro(column, value);
    }

    private static Object scalarToAvro(V2Column column, JsonNode value) {
        return switch (column.kind()) {
            case BOOLEAN -> toBoolean(value);
            case INT -> {
                long n = toLong(value);
                if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(brief(value) + " is out of range for an Avro int");
                }
                yield (int) n;
            }
            case LONG -> toLong(value);
            case FLOAT -> toFloat(value);
            case DOUBLE -> toDouble(value);
            case DECIMAL -> ByteBuffer.wrap(toDecimal(column, value).unscaledValue().toByteArray());
            case STRING, ENUM, TEXT -> toText(value);
            case JSON -> value.isTextual() ? value.asText() : json(value);
            case UUID -> toUuid(value);
            case BYTES -> ByteBuffer.wrap(toBytes(value));
            case DATE -> toEpochDay(requireText(value, "a date"));
            case TIME_MICROS -> toTimeMicros(requireText(value, "a time"));
            case TIMESTAMP_MICROS -> toTimestampMicros(requireText(value, "a timestamp with time zone"), true);
            case LOCAL_TIMESTAMP_MICROS -> toTimestampMicros(requireText(value, "a timestamp"), false);
        };
    }

    private static boolean toBoolean(JsonNode value) {
        if (value.isBoolean()) {
            return value.booleanValue();
        }
        if (value.isTextual()) {
            switch (value.asText().trim().toLowerCase(Locale.ROOT)) {
                case "t", "true", "y", "yes", "on", "1":
                    return true;
                case "f", "false", "n", "no", "off", "0":
                    return false;
                default:
                    break;
            }
        }
        throw new IllegalArgumentException(brief(value) + " is not a boolean");
    }

    private static long toLong(JsonNode value) {
        try {
            BigDecimal number = value.isNumber() ? value.decimalValue() : value.isTextual() ? new BigDecimal(value.asText().trim()) : null;
            if (number == null) {
                throw new IllegalArgumentException(brief(value) + " is not an integer");
            }
            return number.longValueExact();
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException(brief(value) + " is not an integer in range", e);
        }
    }

    private static float toFloat(JsonNode value) {
        if (value.isNumber()) {
            return value.floatValue();
        }
        return (float) special(value, "a real");
    }

    private static double toDouble(JsonNode value) {
        if (value.isNumber()) {
            return value.doubleValue();
        }
        return special(value, "a double precision");
    }

    private static double special(JsonNode value, String what) {
        String text = requireText(value, what).trim();
        switch (text.toLowerCase(Locale.ROOT)) {
            case "nan":
                return Double.NaN;
            case "infinity", "+infinity", "inf", "+inf":
                return Double.POSITIVE_INFINITY;
            case "-infinity", "-inf":
                return Double.NEGATIVE_INFINITY;
            default:
                try {
                    return Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(brief(value) + " is not " + what, e);
                }
        }
    }

    /** The value as a BigDecimal of exactly the column's scale; fails rather than round or overflow. */
    public static BigDecimal toDecimal(V2Column column, JsonNode value) {
        BigDecimal number;
        if (value.isNumber()) {
            number = value.isFloatingPointNumber() && !value.isBigDecimal()
                    ? BigDecimal.valueOf(value.doubleValue()) : value.decimalValue();
        } else if (value.isTextual()) {
            String text = value.asText().trim();
            try {
                number = new BigDecimal(text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(brief(value) + " is not a number"
                        + (text.equalsIgnoreCase("nan") || text.toLowerCase(Locale.ROOT).contains("inf")
                        ? " an Avro decimal can hold (" + column.pgType() + " accepts NaN and infinity; the decimal logical type cannot)" : ""), e);
            }
        } else {
            throw new IllegalArgumentException(brief(value) + " is not a number");
        }
        return scaled(column, number);
    }

    private static BigDecimal scaled(V2Column column, BigDecimal number) {
        BigDecimal scaled;
        try {
            scaled = number.setScale(column.scale(), RoundingMode.UNNECESSARY);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(number.toPlainString() + " has more fraction digits than "
                    + column.pgType() + " keeps (scale " + column.scale() + "); it would be rounded", e);
        }
        if (scaled.precision() > column.precision()) {
            throw new IllegalArgumentException(number.toPlainString() + " has more digits than " + column.pgType()
                    + " holds (precision " + column.precision() + ", scale " + column.scale() + ")");
        }
        return scaled;
    }

    private static String toText(JsonNode value) {
        if (value.isTextual()) {
            return value.asText();
        }
        if (value.isBigDecimal()) {
            return value.decimalValue().toPlainString();
        }
        if (value.isValueNode()) {
            return value.asText();
        }
        return json(value);
    }

    private static String toUuid(JsonNode value) {
        String text = requireText(value, "a uuid").trim();
        String hex = text.startsWith("{") && text.endsWith("}") ? text.substring(1, text.length() - 1) : text;
        hex = hex.replace("-", "");
        if (hex.length() != 32 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException(brief(value) + " is not a uuid");
        }
        return new UUID(Long.parseUnsignedLong(hex.substring(0, 16), 16), Long.parseUnsignedLong(hex.substring(16), 16)).toString();
    }

    private static byte[] toBytes(JsonNode value) {
        String text = requireText(value, "bytea in hex form (\\x...)");
        if (!text.startsWith("\\x") && !text.startsWith("\\X")) {
            throw new IllegalArgumentException(brief(value) + " is not bytea in hex form (\\x...)");
        }
        String hex = text.substring(2).replaceAll("\\s", "");
        try {
            return HexFormat.of().parseHex(hex);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(brief(value) + " is not bytea in hex form: " + e.getMessage(), e);
        }
    }

    /** Days since 1970-01-01 of a PostgreSQL date in ISO form (or {@code infinity}, {@code -infinity}). */
    public static int toEpochDay(String text) {
        String t = text.trim();
        if (isInfinity(t)) {
            return t.startsWith("-") ? Integer.MIN_VALUE : Integer.MAX_VALUE;
        }
        Matcher m = DATE.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a date in ISO form (yyyy-mm-dd)");
        }
        long day = date(m.group(1), m.group(2), m.group(3), m.group(4) != null, text).toEpochDay();
        if (day <= Integer.MIN_VALUE || day >= Integer.MAX_VALUE) {
            throw new IllegalArgumentException("'" + text + "' is out of the Avro date range");
        }
        return (int) day;
    }

    /** Microseconds since midnight of a PostgreSQL time ({@code 24:00:00} included). */
    public static long toTimeMicros(String text) {
        Matcher m = TIME.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a time (hh:mm[:ss[.ffffff]])");
        }
        long micros = timeOfDayMicros(m.group(1), m.group(2), m.group(3), m.group(4), text);
        if (micros > MICROS_PER_DAY) {
            throw new IllegalArgumentException("'" + text + "' is not a time of day");
        }
        return micros;
    }

    /**
     * Microseconds since the epoch of a PostgreSQL timestamp in ISO form. With {@code zoned} the text must carry an
     * offset (a timestamptz's v2 form always does) and the result is UTC; without, an offset is ignored as
     * PostgreSQL's timestamp input ignores it, and the result is the wall-clock time as if in UTC.
     */
    public static long toTimestampMicros(String text, boolean zoned) {
        String t = text.trim();
        if (isInfinity(t)) {
            return t.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        Matcher m = TIMESTAMP.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a timestamp in ISO form (yyyy-mm-dd hh:mm:ss[.ffffff][+hh[:mm]])");
        }
        LocalDate date = date(m.group(1), m.group(2), m.group(3), m.group(9) != null, text);
        long timeMicros = m.group(4) == null ? 0 : timeOfDayMicros(m.group(4), m.group(5), m.group(6), m.group(7), text);
        if (timeMicros > MICROS_PER_DAY) {
            throw new IllegalArgumentException("'" + text + "' has a time of day past 24:00:00");
        }
        long offsetSeconds = 0;
        if (m.group(8) != null) {
            offsetSeconds = zoned ? offsetSeconds(m.group(8), text) : 0;
        } else if (zoned) {
            throw new IllegalArgumentException("'" + text + "' has no time zone offset; a timestamptz value must carry one (e.g. Z or +00)");
        }
        try {
            long seconds = Math.subtractExact(Math.multiplyExact(date.toEpochDay(), 86_400L), offsetSeconds);
            return Math.addExact(Math.multiplyExact(seconds, 1_000_000L), timeMicros);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("'" + text + "' is out of the Avro timestamp range", e);
        }
    }

    private static LocalDate date(String year, String month, String day, boolean bc, String text) {
        try {
            long y = Long.parseLong(year);
            if (bc) {
                y = 1 - y;
            }
            return LocalDate.of(Math.toIntExact(y), Integer.parseInt(month), Integer.parseInt(day));
        } catch (DateTimeException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + text + "' is not a valid date: " + e.getMessage(), e);
        }
    }

    private static long timeOfDayMicros(String hours, String minutes, String seconds, String fraction, String text) {
        int h = Integer.parseInt(hours);
        int min = Integer.parseInt(minutes);
        int s = seconds == null ? 0 : Integer.parseInt(seconds);
        if (h > 24 || min > 59 || s > 60) {
            throw new IllegalArgumentException("'" + text + "' has an invalid time of day");
        }
        long micros = 0;
        if (fraction != null) {
            String six = fraction.length() > 6 ? fraction.substring(0, 6) : (fraction + "000000").substring(0, 6);
            if (fraction.length() > 6 && !fraction.substring(6).chars().allMatch(c -> c == '0')) {
                throw new IllegalArgumentException("'" + text + "' is finer than a microsecond; Avro's -micros types would truncate it");
            }
            micros = Long.parseLong(six);
        }
        return ((h * 60L + min) * 60L + s) * 1_000_000L + micros;
    }

    private static long offsetSeconds(String offset, String text) {
        if (offset.equalsIgnoreCase("z")) {
            return 0;
        }
        int sign = offset.charAt(0) == '-' ? -1 : 1;
        String digits = offset.substring(1).replace(":", "");
        int hourDigits = digits.length() % 2 == 1 ? 1 : 2;
        if (digits.length() == 1 || digits.length() == 2) {
            hourDigits = digits.length();
        }
        int h = Integer.parseInt(digits.substring(0, hourDigits));
        String rest = digits.substring(hourDigits);
        int m = rest.length() >= 2 ? Integer.parseInt(rest.substring(0, 2)) : 0;
        int s = rest.length() >= 4 ? Integer.parseInt(rest.substring(2, 4)) : 0;
        if (h > 15 || m > 59 || s > 59) {
            throw new IllegalArgumentException("'" + text + "' has an invalid time zone offset " + offset);
        }
        return sign * (h * 3600L + m * 60L + s);
    }

    private static boolean isInfinity(String t) {
        String lower = t.toLowerCase(Locale.ROOT);
        return lower.equals("infinity") || lower.equals("+infinity") || lower.equals("-infinity");
    }

    private static String requireText(JsonNode value, String what) {
        if (!value.isTextual()) {
            throw new IllegalArgumentException(brief(value) + " is not " + what + " (expected text)");
        }
        return value.asText();
    }

    // ------------------------------------------------------------------ Avro -> v2 JSON

    /**
     * The v2 JSON value of an Avro value of the column: JSON null for null.
     *
     * @throws IllegalArgumentException if the value is not of the column's Avro type
     */
    public static JsonNode fromAvro(V2Column column, Object value) {
        return fromAvro(column, value, column.arrayDimensions());
    }

    private static JsonNode fromAvro(V2Column column, Object value, int dimensions) {
        if (value == null) {
            return NullNode.getInstance();
        }
        if (dimensions > 0) {
            if (!(value instanceof Collection<?> elements)) {
                throw new IllegalArgumentException("expected an Avro array, got " + value.getClass().getName());
            }
            ArrayNode array = NODES.arrayNode(elements.size());
            for (Object element : elements) {
                array.add(fromAvro(column, element, dimensions - 1));
            }
            return array;
        }
        try {
            return scalarFromAvro(column, value);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("a " + value.getClass().getName() + " is not an Avro value of " + column.pgType(), e);
        }
    }

    private static JsonNode scalarFromAvro(V2Column column, Object value) {
        return switch (column.kind()) {
            case BOOLEAN -> NODES.booleanNode((Boolean) value);
            case INT -> NODES.numberNode(((Number) value).intValue());
            case LONG -> NODES.numberNode(((Number) value).longValue());
            // JSON has no NaN or infinity: those as PostgreSQL's text for them.
            case FLOAT -> Float.isFinite(((Number) value).floatValue()) ? NODES.numberNode(((Number) value).floatValue())
                    : TextNode.valueOf(special(((Number) value).doubleValue()));
            case DOUBLE -> Double.isFinite(((Number) value).doubleValue()) ? NODES.numberNode(((Number) value).doubleValue())
                    : TextNode.valueOf(special(((Number) value).doubleValue()));
            // DecimalNode keeps the scale (12.50 stays 12.50).
            case DECIMAL -> DecimalNode.valueOf(value instanceof BigDecimal d ? scaled(column, d)
                    : new BigDecimal(new BigInteger(bytes(value)), column.scale()));
            case STRING, ENUM, TEXT, JSON -> TextNode.valueOf(value.toString());
            case UUID -> TextNode.valueOf(value instanceof UUID u ? u.toString() : toUuid(TextNode.valueOf(value.toString())));
            case BYTES -> TextNode.valueOf("\\x" + HexFormat.of().formatHex(bytes(value)));
            case DATE -> TextNode.valueOf(value instanceof LocalDate d ? formatDate(d) : formatEpochDay(((Number) value).intValue()));
            case TIME_MICROS -> TextNode.valueOf(formatTimeMicros(value instanceof LocalTime t
                    ? t.toNanoOfDay() / 1_000L : ((Number) value).longValue()));
            case TIMESTAMP_MICROS -> TextNode.valueOf(formatTimestampMicros(value instanceof Instant i
                    ? micros(i.getEpochSecond(), i.getNano()) : ((Number) value).longValue(), true));
            case LOCAL_TIMESTAMP_MICROS -> TextNode.valueOf(formatTimestampMicros(value instanceof LocalDateTime t
                    ? micros(t.toEpochSecond(ZoneOffset.UTC), t.getNano()) : ((Number) value).longValue(), false));
        };
    }

    private static String special(double value) {
        return Double.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    }

    private static long micros(long epochSecond, int nanos) {
        if (nanos % 1_000 != 0) {
            throw new IllegalArgumentException("a time finer than a microsecond cannot be written to a -micros type");
        }
        return Math.addExact(Math.multiplyExact(epochSecond, 1_000_000L), nanos / 1_000);
    }

    private static byte[] bytes(Object value) {
        if (value instanceof ByteBuffer buffer) {
            ByteBuffer copy = buffer.duplicate();
            byte[] bytes = new byte[copy.remaining()];
            copy.get(bytes);
            return bytes;
        }
        return (byte[]) value;
    }

    /** A date in PostgreSQL's ISO input form ({@code yyyy-mm-dd}, {@code yyyy-mm-dd BC}, {@code infinity}). */
    public static String formatEpochDay(int epochDay) {
        if (epochDay == Integer.MAX_VALUE) {
            return "infinity";
        }
        if (epochDay == Integer.MIN_VALUE) {
            return "-infinity";
        }
        return formatDate(LocalDate.ofEpochDay(epochDay));
    }

    private static String formatDate(LocalDate date) {
        int year = date.getYear();
        String ymd = String.format(Locale.ROOT, "%04d-%02d-%02d", year > 0 ? year : 1 - year, date.getMonthValue(), date.getDayOfMonth());
        return year > 0 ? ymd : ymd + " BC";
    }

    /** A time in PostgreSQL input form with six fraction digits ({@code 24:00:00} for the end of the day). */
    public static String formatTimeMicros(long micros) {
        if (micros == MICROS_PER_DAY) {
            return "24:00:00";
        }
        if (micros < 0 || micros > MICROS_PER_DAY) {
            throw new IllegalArgumentException(micros + " micros is not a time of day");
        }
        return formatTimeOfDay(micros);
    }

    private static String formatTimeOfDay(long micros) {
        long seconds = micros / 1_000_000L;
        return String.format(Locale.ROOT, "%02d:%02d:%02d.%06d", seconds / 3600, seconds / 60 % 60, seconds % 60, micros % 1_000_000L);
    }

    /**
     * A timestamp in PostgreSQL input form: {@code 2024-03-01T12:34:56.000001Z} (zoned, always UTC) or
     * {@code 2024-03-01T12:34:56.000001}; years before 1 as {@code 0044-03-15 10:00:00.000000+00 BC}; the extreme
     * values as {@code infinity} and {@code -infinity}.
     */
    public static String formatTimestampMicros(long micros, boolean zoned) {
        if (micros == Long.MAX_VALUE) {
            return "infinity";
        }
        if (micros == Long.MIN_VALUE) {
            return "-infinity";
        }
        long day = Math.floorDiv(micros, MICROS_PER_DAY);
        LocalDate date = LocalDate.ofEpochDay(day);
        String time = formatTimeOfDay(Math.floorMod(micros, MICROS_PER_DAY));
        if (date.getYear() > 0) {
            return formatDate(date) + "T" + time + (zoned ? "Z" : "");
        }
        String ymd = formatDate(date);
        return ymd.substring(0, ymd.length() - 3) + " " + time + (zoned ? "+00" : "") + " BC";
    }

    private static String json(JsonNode value) {
        try {
            return Json.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + value.getNodeType() + " as JSON text", e);
        }
    }

    private static String brief(JsonNode value) {
        String text = value.isTextual() ? "'" + value.asText() + "'" : value.toString();
        return text.length() > 80 ? text.substring(0, 77) + "..." : text;
    }
}
