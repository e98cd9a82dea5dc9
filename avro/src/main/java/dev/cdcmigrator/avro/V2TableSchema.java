package dev.cdcmigrator.avro;

import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.avro.internal.AvroNames;
import dev.cdcmigrator.avro.internal.TextValues;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.apache.avro.JsonProperties;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;

/**
 * The Avro schemas of one v2 table's change topic {@code <prefix>.v2.<table>}: the message key ({@link #keySchema()},
 * subject {@code <topic>-key}) and the message value ({@link #valueSchema()}, subject {@code <topic>-value}), an
 * envelope carrying the same information as the JSON {@code V2Change}:
 *
 * <pre>
 * record Envelope (namespace &lt;namespace&gt;.&lt;table&gt;) {
 *   string op;                     // r (snapshot read), c, u, d: Debezium's codes, as in the JSON form
 *   string table;                  // the v2 table
 *   Key key;                       // the v2 key columns
 *   union { null, Value } after = null;  // the full v2 row image; null for a delete
 *   &lt;namespace&gt;.Source source;      // table, lsn, lastCommitLsn, txId, tsMs (commit time), snapshot
 * }
 * </pre>
 *
 * {@code op} is a string rather than an Avro enum so a future kind of change (e.g. truncate) is not a change old
 * readers fail on. Every column field carries the property {@code pg.type} (its {@code format_type}), and
 * {@code pg.column} when its Avro name had to differ from the column name. Nullable columns are unions with null
 * first and default null; NOT NULL columns with a constant default carry that default, so adding either kind of
 * column to the v2 table is a BACKWARD-compatible schema change.
 */
public final class V2TableSchema {

    /** The namespace under which every v2 schema is named unless the caller chooses another. */
    public static final String DEFAULT_NAMESPACE = "dev.cdcmigrator.v2";

    private final String namespace;
    private final String table;
    private final List<V2Column> columns;
    private final List<String> key;
    private final Map<String, V2Column> byName = new HashMap<>();
    private final Map<String, V2Column> byField = new HashMap<>();
    private final Schema keySchema;
    private final Schema rowSchema;
    private final Schema sourceSchema;
    private final Schema valueSchema;

    private V2TableSchema(String namespace, String table, List<V2Column> columns, List<String> key) {
        this.namespace = namespace;
        this.table = table;
        this.columns = List.copyOf(columns);
        this.key = List.copyOf(key);
        for (V2Column column : columns) {
            if (byName.put(column.name(), column) != null) {
                throw new IllegalArgumentException("table " + table + " has column " + column.name() + " twice");
            }
            V2Column clash = byField.put(column.field(), column);
            if (clash != null) {
                throw new IllegalArgumentException(clashing(table, clash.name(), column.name(), column.field()));
            }
            if (!AvroNames.isValid(column.field())) {
                throw new IllegalArgumentException("column " + column.name() + ": " + column.field() + " is not a valid Avro name");
            }
        }
        if (key.isEmpty()) {
            throw new IllegalArgumentException("table " + table + " has no key columns");
        }
        for (String k : key) {
            if (!byName.containsKey(k)) {
                throw new IllegalArgumentException("key column " + k + " is not a column of table " + table + " " + byName.keySet());
            }
        }
        String tableNamespace = AvroNames.namespace(namespace, table);
        List<Schema.Field> keyFields = new ArrayList<>();
        for (String k : key) {
            keyFields.add(field(byName.get(k)));
        }
        this.keySchema = Schema.createRecord("Key", "The key of v2 table " + table, tableNamespace, false, keyFields);
        List<Schema.Field> rowFields = new ArrayList<>();
        for (V2Column column : columns) {
            rowFields.add(field(column));
        }
        this.rowSchema = Schema.createRecord("Value", "A row image of v2 table " + table, tableNamespace, false, rowFields);
        this.sourceSchema = sourceSchema(AvroNames.namespace(namespace));
        this.valueSchema = Schema.createRecord("Envelope", "A change to a row of v2 table " + table, tableNamespace, false, List.of(
                new Schema.Field("op", Schema.create(Schema.Type.STRING),
                        "r (read by the snapshot), c (insert), u (update) or d (delete)"),
                new Schema.Field("table", Schema.create(Schema.Type.STRING), "the v2 table"),
                new Schema.Field("key", keySchema, "the v2 key"),
                new Schema.Field("after", nullable(rowSchema), "the full v2 row image; null for a delete", JsonProperties.NULL_VALUE),
                new Schema.Field("source", sourceSchema, "where on v1 the change came from")));
    }

    /**
     * Why columns {@code columns} of {@code table} cannot share one Avro record: two of them whose names become the
     * same Avro field name ({@code "a b"} and {@code a_b}); empty when they can. For {@code migrator check}, which
     * reports what the transform would refuse at the first change that carries both.
     */
    public static Optional<String> fieldClash(String table, java.util.Collection<String> columns) {
        Map<String, String> byField = new HashMap<>();
        for (String column : new java.util.TreeSet<>(columns)) {
            String field = AvroNames.field(column);
            String clash = byField.putIfAbsent(field, column);
            if (clash != null) {
                return Optional.of(clashing(table, clash, column, field));
            }
        }
        return Optional.empty();
    }

    private static String clashing(String table, String one, String other, String field) {
        return "columns \"" + one + "\" and \"" + other + "\" of table " + table + " both become the Avro field " + field
                + "; rename one of them";
    }

    /**
     * The schemas of a table from its columns.
     *
     * @param namespace the Avro namespace the table's records are named under (each table gets
     *     {@code <namespace>.<table>}); {@link #DEFAULT_NAMESPACE} unless the user chose one
     * @param table the v2 table (unqualified)
     * @param columns its columns in table order
     * @param key the v2 key columns (names of {@code columns})
     * @throws IllegalArgumentException if two columns map to one Avro name, or a key column is not a column
     */
    public static V2TableSchema of(String namespace, String table, List<V2Column> columns, List<String> key) {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(table, "table");
        return new V2TableSchema(namespace, table, columns, key);
    }

    /**
     * The table schema that an {@code Envelope} schema of this class was made from, as far as reading records needs
     * it: the columns of its {@code Value} record (names from {@code pg.column}, types from the Avro types and logical
     * types, {@code pg.type} kept), keyed by the fields of its {@code Key} record. Column defaults are not recovered.
     * What the sink reads each record with: the schema the record was written with, so that it applies exactly the
     * columns the record carries, whichever version of the subject it is.
     *
     * @param envelope a value schema as {@link #valueSchema()} makes it
     * @param table the v2 table (the records' {@code table} field)
     * @throws IllegalArgumentException if {@code envelope} is not such a schema, or a field has an Avro type no
     *     column maps to
     */
    public static V2TableSchema ofEnvelope(Schema envelope, String table) {
        Schema.Field keyField = envelope.getType() == Schema.Type.RECORD ? envelope.getField("key") : null;
        Schema.Field afterField = envelope.getType() == Schema.Type.RECORD ? envelope.getField("after") : null;
        Schema.Field sourceField = envelope.getType() == Schema.Type.RECORD ? envelope.getField("source") : null;
        Schema after = afterField == null ? null : nonNull(afterField.schema(), "after");
        if (keyField == null || keyField.schema().getType() != Schema.Type.RECORD || after == null
                || after.getType() != Schema.Type.RECORD || sourceField == null) {
            throw new IllegalArgumentException("schema " + envelope.getFullName() + " is not a v2 change envelope (record"
                    + " fields key, after and source)");
        }
        List<V2Column> columns = new ArrayList<>();
        for (Schema.Field field : after.getFields()) {
            columns.add(column(field));
        }
        List<String> key = new ArrayList<>();
        for (Schema.Field field : keyField.schema().getFields()) {
            key.add(column(field).name());
        }
        String namespace = sourceField.schema().getNamespace();
        return new V2TableSchema(namespace == null ? DEFAULT_NAMESPACE : namespace, table, columns, key);
    }

    /** The column an Avro field of a {@code Key} or {@code Value} record stands for (the reverse of {@link #field}). */
    private static V2Column column(Schema.Field field) {
        Schema type = field.schema();
        boolean nullable = type.isNullable();
        type = nonNull(type, field.name());
        int dimensions = 0;
        while (type.getType() == Schema.Type.ARRAY) {
            dimensions++;
            type = nonNull(type.getElementType(), field.name());
        }
        String pgType = field.getProp("pg.type");
        V2Column.Kind kind;
        int precision = 0;
        int scale = 0;
        org.apache.avro.LogicalType logical = type.getLogicalType();
        if (logical instanceof LogicalTypes.Decimal decimal) {
            kind = V2Column.Kind.DECIMAL;
            precision = decimal.getPrecision();
            scale = decimal.getScale();
        } else if (logical != null) {
            kind = switch (logical.getName()) {
                case "uuid" -> V2Column.Kind.UUID;
                case "date" -> V2Column.Kind.DATE;
                case "time-micros" -> V2Column.Kind.TIME_MICROS;
                case "timestamp-micros" -> V2Column.Kind.TIMESTAMP_MICROS;
                case "local-timestamp-micros" -> V2Column.Kind.LOCAL_TIMESTAMP_MICROS;
                default -> throw new IllegalArgumentException("field " + field.name() + ": logical type " + logical.getName()
                        + " is not one a v2 column maps to");
            };
        } else {
            kind = switch (type.getType()) {
                case BOOLEAN -> V2Column.Kind.BOOLEAN;
                case INT -> V2Column.Kind.INT;
                case LONG -> V2Column.Kind.LONG;
                case FLOAT -> V2Column.Kind.FLOAT;
                case DOUBLE -> V2Column.Kind.DOUBLE;
                case BYTES -> V2Column.Kind.BYTES;
                case STRING -> pgType != null && pgType.startsWith("json") ? V2Column.Kind.JSON : V2Column.Kind.STRING;
                default -> throw new IllegalArgumentException("field " + field.name() + ": Avro type " + type.getType()
                        + " is not one a v2 column maps to");
            };
        }
        String name = field.getProp("pg.column") != null ? field.getProp("pg.column") : field.name();
        return new V2Column(name, field.name(), pgType != null ? pgType : type.getName(), kind, precision, scale, dimensions,
                nullable, null);
    }

    /** The non-null branch of a {@code ["null", T]} union, or the schema itself when it is not a union. */
    private static Schema nonNull(Schema schema, String field) {
        if (schema.getType() != Schema.Type.UNION) {
            return schema;
        }
        List<Schema> branches = schema.getTypes().stream().filter(t -> t.getType() != Schema.Type.NULL).toList();
        if (branches.size() != 1) {
            throw new IllegalArgumentException("field " + field + ": union " + schema + " is not [\"null\", T]");
        }
        return branches.get(0);
    }

    private static Schema sourceSchema(String namespace) {
        Schema tsMs = LogicalTypes.timestampMillis().addToSchema(Schema.create(Schema.Type.LONG));
        return Schema.createRecord("Source", "Where on v1 a change came from", namespace, false, List.of(
                new Schema.Field("table", Schema.create(Schema.Type.STRING), "the v1 table, schema-qualified"),
                new Schema.Field("lsn", Schema.create(Schema.Type.LONG), "the WAL position of the change"),
                new Schema.Field("lastCommitLsn", nullable(Schema.create(Schema.Type.LONG)),
                        "the commit LSN of the transaction before this change's; with lsn it orders changes in commit order;"
                                + " null for snapshot reads", JsonProperties.NULL_VALUE),
                new Schema.Field("txId", nullable(Schema.create(Schema.Type.LONG)), "the v1 transaction id; null for snapshot reads",
                        JsonProperties.NULL_VALUE),
                new Schema.Field("tsMs", tsMs, "when the change was committed on v1"),
                new Schema.Field("snapshot", Schema.create(Schema.Type.BOOLEAN), "whether the initial snapshot read the row")));
    }

    private static Schema nullable(Schema schema) {
        return Schema.createUnion(Schema.create(Schema.Type.NULL), schema);
    }

    private static Schema.Field field(V2Column column) {
        Schema type = columnSchema(column);
        Schema.Field field;
        if (column.nullable()) {
            field = new Schema.Field(column.field(), nullable(type), null, JsonProperties.NULL_VALUE);
        } else {
            Object defaultValue = avroDefault(column, type);
            field = defaultValue == null ? new Schema.Field(column.field(), type)
                    : new Schema.Field(column.field(), type, null, defaultValue);
        }
        field.addProp("pg.type", column.pgType());
        if (!column.field().equals(column.name())) {
            field.addProp("pg.column", column.name());
        }
        return field;
    }

    /** The Avro schema of a column's values (without the null union of a nullable column). */
    static Schema columnSchema(V2Column column) {
        Schema schema = scalarSchema(column);
        for (int i = 0; i < column.arrayDimensions(); i++) {
            // PostgreSQL arrays may hold NULL elements whatever the column's nullability.
            schema = Schema.createArray(nullable(schema));
        }
        return schema;
    }

    private static Schema scalarSchema(V2Column column) {
        return switch (column.kind()) {
            case BOOLEAN -> Schema.create(Schema.Type.BOOLEAN);
            case INT -> Schema.create(Schema.Type.INT);
            case LONG -> Schema.create(Schema.Type.LONG);
            case FLOAT -> Schema.create(Schema.Type.FLOAT);
            case DOUBLE -> Schema.create(Schema.Type.DOUBLE);
            case DECIMAL -> LogicalTypes.decimal(column.precision(), column.scale()).addToSchema(Schema.create(Schema.Type.BYTES));
            case STRING, ENUM, JSON, TEXT -> Schema.create(Schema.Type.STRING);
            case UUID -> LogicalTypes.uuid().addToSchema(Schema.create(Schema.Type.STRING));
            case BYTES -> Schema.create(Schema.Type.BYTES);
            case DATE -> LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));
            case TIME_MICROS -> LogicalTypes.timeMicros().addToSchema(Schema.create(Schema.Type.LONG));
            case TIMESTAMP_MICROS -> LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
            case LOCAL_TIMESTAMP_MICROS -> LogicalTypes.localTimestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
        };
    }

    /** The Avro default of a NOT NULL column with a constant default, or null when there is none or it does not convert. */
    private static Object avroDefault(V2Column column, Schema type) {
        if (column.defaultText() == null || column.isArray()) {
            return null;
        }
        try {
            Object value = TextValues.toAvro(column, TextNode.valueOf(column.defaultText()));
            if (value instanceof ByteBuffer buffer) {
                byte[] bytes = new byte[buffer.remaining()];
                buffer.duplicate().get(bytes);
                value = bytes;
            }
            // Validate the way Avro will when the field is built.
            new Schema.Field("probe", type, null, value);
            return value;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The namespace given at construction. */
    public String namespace() {
        return namespace;
    }

    /** The v2 table. */
    public String table() {
        return table;
    }

    /** The columns in table order. */
    public List<V2Column> columns() {
        return columns;
    }

    /** The v2 key columns. */
    public List<String> key() {
        return key;
    }

    /** The column named {@code name}. */
    public Optional<V2Column> column(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** The column whose Avro field is {@code field}. */
    public Optional<V2Column> columnByField(String field) {
        return Optional.ofNullable(byField.get(field));
    }

    /** The schema of the topic's message key: record {@code Key} of the key columns. */
    public Schema keySchema() {
        return keySchema;
    }

    /** The row image record {@code Value}. */
    public Schema rowSchema() {
        return rowSchema;
    }

    /** The change-position record {@code Source} (one for every table, in the base namespace). */
    public Schema sourceSchema() {
        return sourceSchema;
    }

    /** The schema of the topic's message value: record {@code Envelope}. */
    public Schema valueSchema() {
        return valueSchema;
    }

    /** Column name to column, in table order. */
    Map<String, V2Column> columnsByName() {
        Map<String, V2Column> map = new LinkedHashMap<>();
        columns.forEach(c -> map.put(c.name(), c));
        return map;
    }

    @Override
    public String toString() {
        return "V2TableSchema[" + table + ": " + valueSchema + "]";
    }
}
