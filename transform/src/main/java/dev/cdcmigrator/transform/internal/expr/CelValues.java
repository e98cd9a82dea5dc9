package dev.cdcmigrator.transform.internal.expr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.primitives.UnsignedLong;
import dev.cel.common.types.CelType;
import dev.cel.common.types.CelTypes;
import dev.cel.common.types.TypeType;
import dev.cel.common.values.CelByteString;
import dev.cel.common.values.CelValue;
import dev.cel.common.values.NullValue;
import dev.cel.common.values.OptionalValue;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Conversion between Jackson trees (the migrator's row format) and the Java values the CEL runtime works on. */
final class CelValues {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private CelValues() {
    }

    // ---------------------------------------------------------------------------------------------------- into CEL

    /**
     * The CEL value of the {@code row} variable: all columns, or only {@code columns} when the expression is known to
     * read no others (fewer conversions).
     */
    static Map<String, Object> toCelRow(ObjectNode row, String[] columns) {
        if (columns == null) {
            // Ordered: the expression may return the row (or iterate it) as a whole.
            Map<String, Object> map = new LinkedHashMap<>(Math.max(4, row.size() * 4 / 3 + 1));
            for (Map.Entry<String, JsonNode> field : row.properties()) {
                map.put(field.getKey(), toCelColumn(field.getKey(), field.getValue()));
            }
            return new CelMap(map);
        }
        Map<String, Object> map = new LinkedHashMap<>(Math.max(4, columns.length * 4 / 3 + 1));
        for (String column : columns) {
            JsonNode value = row.get(column);
            // Absent stays absent, so row.x still fails with "no such key" and has(row.x) is still false.
            if (value != null) {
                map.put(column, toCelColumn(column, value));
            }
        }
        return new CelMap(map);
    }

    private static Object toCelColumn(String column, JsonNode value) {
        try {
            return toCel(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("column '" + column + "': " + e.getMessage(), e);
        }
    }

    /**
     * Into CEL's value model. Every value is converted up front to exactly the type CEL uses internally (Long, not
     * Integer; NullValue, not Java null; RandomAccess lists), because the runtime re-normalizes containers on every
     * attribute access and copies any map or list holding a value it has to change.
     */
    static Object toCel(JsonNode node) {
        switch (node.getNodeType()) {
            case STRING:
                return node.textValue();
            case NUMBER:
                return toCelNumber(node);
            case BOOLEAN:
                return node.booleanValue();
            case NULL:
            case MISSING:
                return NullValue.NULL_VALUE;
            case OBJECT:
                return toCelMap((ObjectNode) node);
            case ARRAY: {
                List<Object> list = new ArrayList<>(node.size());
                for (JsonNode element : node) {
                    list.add(toCel(element));
                }
                return list;
            }
            case BINARY:
                try {
                    return CelByteString.of(node.binaryValue());
                } catch (java.io.IOException e) {
                    throw new IllegalStateException("unreadable binary node", e); // BinaryNode never throws
                }
            case POJO:
            default:
                // Not produced by Json.MAPPER when reading; a POJO put in by code is seen as its text.
                return node.asText();
        }
    }

    private static Map<String, Object> toCelMap(ObjectNode object) {
        // Insertion order kept so that a map passed through (e.g. `row.params`) keeps its key order.
        Map<String, Object> map = new LinkedHashMap<>(Math.max(4, object.size() * 4 / 3 + 1));
        for (Map.Entry<String, JsonNode> field : object.properties()) {
            map.put(field.getKey(), toCel(field.getValue()));
        }
        return new CelMap(map);
    }

    private static Object toCelNumber(JsonNode node) {
        if (node.canConvertToLong() && node.isIntegralNumber()) {
            return node.longValue();
        }
        if (node.isIntegralNumber()) {
            // CEL has no arbitrary-precision int; a double would silently drop digits of what is an exact value.
            throw new IllegalArgumentException(
                    "integer " + node.bigIntegerValue() + " is outside the range of a CEL int (64-bit signed)");
        }
        // DecimalNode (Json.MAPPER's floats), DoubleNode (NaN/Infinity), FloatNode.
        return node.doubleValue();
    }

    // ------------------------------------------------------------------------------------------------ out of CEL

    /** Back to a Jackson tree; see {@link Expression#evaluate} for the mapping. */
    static JsonNode toJson(Object value) {
        if (value == null || value instanceof NullValue) {
            return NODES.nullNode();
        }
        if (value instanceof String) {
            return NODES.textNode((String) value);
        }
        if (value instanceof Boolean) {
            return NODES.booleanNode((Boolean) value);
        }
        if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return integral(((Number) value).longValue());
        }
        if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                // JSON has no literal for these; the text is what Debezium and PostgreSQL both understand.
                return NODES.textNode(Double.toString(d));
            }
            // Json.MAPPER reads floats as BigDecimal; valueOf gives the shortest decimal that round-trips the double.
            return DecimalNode.valueOf(BigDecimal.valueOf(d));
        }
        if (value instanceof UnsignedLong) {
            UnsignedLong u = (UnsignedLong) value;
            return u.compareTo(UnsignedLong.valueOf(Long.MAX_VALUE)) <= 0
                    ? integral(u.longValue())
                    : NODES.numberNode(u.bigIntegerValue());
        }
        if (value instanceof BigInteger) {
            BigInteger b = (BigInteger) value;
            return b.compareTo(LONG_MIN) >= 0 && b.compareTo(LONG_MAX) <= 0
                    ? integral(b.longValue())
                    : NODES.numberNode(b);
        }
        if (value instanceof BigDecimal) {
            // DecimalNode directly: kept exact, as Json.MAPPER's node factory (exact BigDecimals) keeps them.
            return DecimalNode.valueOf((BigDecimal) value);
        }
        if (value instanceof Map) {
            ObjectNode object = NODES.objectNode();
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                object.set(keyText(entry.getKey()), toJson(entry.getValue()));
            }
            return object;
        }
        if (value instanceof Iterable) {
            ArrayNode array = NODES.arrayNode();
            for (Object element : (Iterable<?>) value) {
                array.add(toJson(element));
            }
            return array;
        }
        if (value instanceof Optional) {
            Optional<?> optional = (Optional<?>) value;
            return optional.isPresent() ? toJson(optional.get()) : NODES.nullNode();
        }
        if (value instanceof OptionalValue) {
            OptionalValue<?, ?> optional = (OptionalValue<?, ?>) value;
            return optional.isZeroValue() ? NODES.nullNode() : toJson(optional.value());
        }
        if (value instanceof CelByteString) {
            // The JSON encoding of bytes everywhere else (Jackson's BinaryNode, proto3 JSON): base64.
            return NODES.textNode(Base64.getEncoder().encodeToString(((CelByteString) value).toByteArray()));
        }
        if (value instanceof byte[]) {
            return NODES.textNode(Base64.getEncoder().encodeToString((byte[]) value));
        }
        if (value instanceof Instant || value instanceof Duration) {
            // ISO-8601 (2024-01-02T03:04:05Z, PT1M30S): accepted by PostgreSQL timestamptz and interval.
            return NODES.textNode(value.toString());
        }
        if (value instanceof com.google.protobuf.Timestamp) {
            com.google.protobuf.Timestamp t = (com.google.protobuf.Timestamp) value;
            return NODES.textNode(Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString());
        }
        if (value instanceof com.google.protobuf.Duration) {
            com.google.protobuf.Duration d = (com.google.protobuf.Duration) value;
            return NODES.textNode(Duration.ofSeconds(d.getSeconds(), d.getNanos()).toString());
        }
        if (value instanceof TypeType) {
            // type(x) is the type of type(x)'s argument: its CEL name, e.g. "int", "list(dyn)".
            return NODES.textNode(CelTypes.format(((TypeType) value).type()));
        }
        if (value instanceof CelType) {
            return NODES.textNode(CelTypes.format((CelType) value));
        }
        if (value instanceof CelValue) {
            return toJson(((CelValue) value).value());
        }
        return NODES.textNode(value.toString());
    }

    /** IntNode when the value fits, LongNode otherwise: what Json.MAPPER gives when it reads the same number. */
    private static JsonNode integral(long value) {
        return value == (int) value ? IntNode.valueOf((int) value) : LongNode.valueOf(value);
    }

    private static String keyText(Object key) {
        // CEL map keys are string, int, uint or bool; JSON object keys are text, so the others become their text.
        return key instanceof String ? (String) key : String.valueOf(key);
    }

    /** The CEL type name of a run-time value, for messages ("expected a boolean, got string"). */
    static String celTypeName(Object value) {
        if (value == null || value instanceof NullValue) {
            return "null";
        }
        if (value instanceof String) {
            return "string";
        }
        if (value instanceof Boolean) {
            return "bool";
        }
        if (value instanceof Long || value instanceof Integer) {
            return "int";
        }
        if (value instanceof UnsignedLong) {
            return "uint";
        }
        if (value instanceof Double) {
            return "double";
        }
        if (value instanceof Map) {
            return "map";
        }
        if (value instanceof Iterable) {
            return "list";
        }
        if (value instanceof CelByteString) {
            return "bytes";
        }
        if (value instanceof Instant) {
            return "timestamp";
        }
        if (value instanceof Duration) {
            return "duration";
        }
        if (value instanceof Optional || value instanceof OptionalValue) {
            return "optional";
        }
        if (value instanceof CelType) {
            return "type";
        }
        return value.getClass().getSimpleName();
    }
}
