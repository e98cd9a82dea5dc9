package dev.cdcmigrator.pg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.event.PostgresText;
import dev.cdcmigrator.common.serde.Json;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.postgresql.util.PGInterval;

/**
 * Reads v1 rows over JDBC in the transform's wire form: each value exactly as capture's change event carries it once
 * the transform has decoded it (Debezium under capture's settings, then the transform's {@code DebeziumValues}), so
 * that the spec's mapping sees the same row in a batch read as in the stream. The forms are those documented on
 * {@code dev.cdcmigrator.transform.RowMapper} (which this module cannot link to: it sits below the transform); types
 * outside that list are read as PostgreSQL prints them.
 */
public final class WireRows {

    private static final JsonNodeFactory NODES = Json.MAPPER.getNodeFactory();
    // The transform's DebeziumValues prints timestamp and time with six fraction digits, whatever the precision.
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");
    // Debezium's ZonedTimestamp: UTC, the column's precision in fraction digits (6 when unconstrained, none for 0).
    private static final DateTimeFormatter[] TIMESTAMPTZ = new DateTimeFormatter[7];
    private static final Set<String> INTEGERS = Set.of("int2", "int4", "int8", "oid");

    static {
        for (int precision = 0; precision < TIMESTAMPTZ.length; precision++) {
            DateTimeFormatterBuilder builder = new DateTimeFormatterBuilder()
                    .append(DateTimeFormatter.ISO_LOCAL_DATE).appendLiteral('T').appendPattern("HH:mm:ss");
            if (precision > 0) {
                builder.appendFraction(ChronoField.NANO_OF_SECOND, precision, precision, true);
            }
            TIMESTAMPTZ[precision] = builder.appendOffsetId().toFormatter();
        }
    }

    private enum Kind {
        BOOL, INTEGER, FLOAT4, FLOAT8, NUMERIC, DATE, TIMESTAMP, TIMESTAMPTZ, TIME, TIMETZ, INTERVAL, BYTEA, TEXT
    }

    /** How one column is selected and turned into its wire value; {@code precision} is timestamptz's fraction digits. */
    private record Reader(String column, Kind kind, String select, int precision) {
    }

    private final List<Reader> readers;
    private final Set<String> jsonColumns;

    private WireRows(List<Reader> readers, Set<String> jsonColumns) {
        this.readers = readers;
        this.jsonColumns = jsonColumns;
    }

    /** The reads of a v1 table with {@code columns} (from {@link Catalog#columns}), every column in table order. */
    public static WireRows of(Map<String, Catalog.Column> columns) {
        List<Reader> readers = new ArrayList<>();
        Set<String> json = new LinkedHashSet<>();
        for (Catalog.Column column : columns.values()) {
            String quoted = SqlText.quote(column.name());
            Kind kind = kind(column);
            String select = switch (kind) {
                case NUMERIC -> column.baseType().equals("money") ? quoted + "::numeric::text" : quoted + "::text";
                default -> quoted;
            };
            int precision = kind == Kind.TIMESTAMPTZ && column.typmod() >= 0 ? column.typmod() : 6;
            readers.add(new Reader(column.name(), kind, select, precision));
            if (column.baseType().equals("json") || column.baseType().equals("jsonb")) {
                json.add(column.name());
            }
        }
        return new WireRows(List.copyOf(readers), Set.copyOf(json));
    }

    private static Kind kind(Catalog.Column column) {
        String type = column.baseType();
        if (column.elementType() != null) {
            // Capture publishes arrays as PostgreSQL's array text (its ArrayText converter).
            return Kind.TEXT;
        }
        if (INTEGERS.contains(type)) {
            return Kind.INTEGER;
        }
        return switch (type) {
            case "bool" -> Kind.BOOL;
            case "float4" -> Kind.FLOAT4;
            case "float8" -> Kind.FLOAT8;
            case "numeric", "money" -> Kind.NUMERIC;
            case "date" -> Kind.DATE;
            case "timestamp" -> Kind.TIMESTAMP;
            case "timestamptz" -> Kind.TIMESTAMPTZ;
            case "time" -> Kind.TIME;
            case "timetz" -> Kind.TIMETZ;
            case "interval" -> Kind.INTERVAL;
            case "bytea" -> Kind.BYTEA;
            default -> Kind.TEXT;
        };
    }

    /** The select list reading every column, in table order. */
    public String selectList() {
        return readers.stream().map(Reader::select).collect(Collectors.joining(", "));
    }

    /** The json and jsonb columns: their wire values are JSON text, which expressions see parsed. */
    public Set<String> jsonColumns() {
        return jsonColumns;
    }

    /** The current row of {@code rs} (selected with {@link #selectList()}) in wire form. */
    public ObjectNode read(ResultSet rs) throws SQLException {
        ObjectNode row = NODES.objectNode();
        for (int i = 0; i < readers.size(); i++) {
            Reader reader = readers.get(i);
            row.set(reader.column(), value(rs, i + 1, reader));
        }
        return row;
    }

    private static JsonNode value(ResultSet rs, int index, Reader reader) throws SQLException {
        JsonNode value = switch (reader.kind()) {
            case BOOL -> NODES.booleanNode(rs.getBoolean(index));
            case INTEGER -> integer(rs.getLong(index));
            // Capture's JSON carries floats in their shortest text, which the migrator reads back as exact decimals.
            case FLOAT4 -> decimal(rs.getFloat(index), Float.toString(rs.getFloat(index)));
            case FLOAT8 -> decimal(rs.getDouble(index), Double.toString(rs.getDouble(index)));
            case NUMERIC -> text(numeric(rs.getString(index)));
            case DATE -> text(rs.getObject(index, LocalDate.class), LocalDate.MAX, LocalDate.MIN, d -> PostgresText.era(d.toString()));
            case TIMESTAMP -> text(rs.getObject(index, LocalDateTime.class), LocalDateTime.MAX, LocalDateTime.MIN,
                    t -> PostgresText.era(TIMESTAMP.format(t)));
            case TIMESTAMPTZ -> text(rs.getObject(index, OffsetDateTime.class), OffsetDateTime.MAX, OffsetDateTime.MIN,
                    v -> TIMESTAMPTZ[reader.precision()].format(v.withOffsetSameInstant(ZoneOffset.UTC)));
            case TIME -> text(rs.getObject(index, LocalTime.class), null, null, TIME::format);
            case TIMETZ -> text(rs.getObject(index, OffsetTime.class), null, null,
                    v -> DateTimeFormatter.ISO_OFFSET_TIME.format(v.withOffsetSameInstant(ZoneOffset.UTC)));
            case INTERVAL -> text(rs.getObject(index, PGInterval.class), null, null, WireRows::interval);
            case BYTEA -> text(rs.getBytes(index), null, null, v -> "\\x" + HexFormat.of().formatHex(v));
            case TEXT -> text(rs.getString(index));
        };
        return rs.wasNull() ? NODES.nullNode() : value;
    }

    private static JsonNode text(String value) {
        return value == null ? null : NODES.textNode(value);
    }

    /** The value's text by {@code format}; PostgreSQL's infinities, which the driver reads as the type's extremes, by name. */
    private static <T> JsonNode text(T value, T max, T min, Function<T, String> format) {
        if (value == null) {
            return null;
        }
        return NODES.textNode(value.equals(max) ? "infinity" : value.equals(min) ? "-infinity" : format.apply(value));
    }

    /** As a JSON parser reads the number: an int when it fits, else a long. */
    private static JsonNode integer(long value) {
        return value == (int) value ? NODES.numberNode((int) value) : NODES.numberNode(value);
    }

    private static JsonNode decimal(double value, String shortest) {
        return Double.isFinite(value) ? NODES.numberNode(new BigDecimal(shortest)) : NODES.numberNode(value);
    }

    /** Debezium's spelling of numeric's special values. */
    private static String numeric(String text) {
        return text == null ? null : switch (text) {
            case "NaN" -> "NAN";
            case "Infinity" -> "POSITIVE_INFINITY";
            case "-Infinity" -> "NEGATIVE_INFINITY";
            default -> text;
        };
    }

    /** Debezium's io.debezium.time.Interval text: ISO-8601 with every field, seconds without trailing zeros. */
    private static String interval(PGInterval interval) {
        BigDecimal seconds = BigDecimal.valueOf(interval.getSeconds());
        if (seconds.scale() > 9) {
            seconds = seconds.setScale(9, RoundingMode.DOWN);
        }
        return "P" + interval.getYears() + "Y" + interval.getMonths() + "M" + interval.getDays() + "DT"
                + interval.getHours() + "H" + interval.getMinutes() + "M" + seconds.stripTrailingZeros().toPlainString() + "S";
    }
}
