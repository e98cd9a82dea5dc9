package dev.cdcmigrator.avro;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.avro.internal.TextValues;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;
import dev.cdcmigrator.common.event.V2Change;
import java.util.Iterator;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * Converts {@link V2Change}s of one v2 table to Avro records of its {@link V2TableSchema} and back, exactly or not at
 * all (an {@link AvroConversionException} names the table, column and value).
 *
 * <p>Records hold Avro's plain representations, as a Confluent deserializer returns them by default: decimals as
 * two's-complement big-endian bytes of the unscaled value, timestamps as micros, dates as days, uuid as text. Reading
 * also accepts the logical-type objects (BigDecimal, Instant, ...). Back in the v2 JSON form, values are in
 * PostgreSQL's text input form: decimals as exact JSON numbers with the column's scale, timestamptz as
 * {@code 2024-03-01T12:34:56.000001Z}, timestamp as {@code 2024-03-01T12:34:56.000001}, bytea as {@code \x} hex,
 * json/jsonb as their JSON text, arrays as JSON arrays.
 */
public final class V2AvroConverter {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final V2TableSchema schema;

    public V2AvroConverter(V2TableSchema schema) {
        this.schema = schema;
    }

    /** The table schema this converter writes. */
    public V2TableSchema schema() {
        return schema;
    }

    /**
     * The message value of a change: an {@code Envelope} record.
     *
     * @throws AvroConversionException if the change is of another table, misses a key or NOT NULL column, has a column
     *     the schema does not know, or a value does not convert exactly
     */
    public GenericRecord toAvro(V2Change change) {
        if (!change.table().equals(schema.table())) {
            throw new AvroConversionException(null, "a change of table " + change.table() + " cannot be written with the Avro schema of table " + schema.table());
        }
        GenericRecord envelope = new GenericData.Record(schema.valueSchema());
        envelope.put("op", change.op().code());
        envelope.put("table", change.table());
        envelope.put("key", keyToAvro(change.key()));
        envelope.put("after", change.after() == null ? null : row(schema.rowSchema(), change.after(), true));
        SourcePosition source = change.source();
        if (source == null) {
            throw new AvroConversionException(null, "a change of table " + schema.table() + " has no source position");
        }
        GenericRecord s = new GenericData.Record(schema.sourceSchema());
        s.put("table", source.table());
        s.put("lsn", source.lsn());
        s.put("lastCommitLsn", source.lastCommitLsn());
        s.put("txId", source.txId());
        s.put("tsMs", source.tsMs());
        s.put("snapshot", source.snapshot());
        envelope.put("source", s);
        return envelope;
    }

    /** The message key of a change: a {@code Key} record of the key columns. */
    public GenericRecord keyToAvro(ObjectNode key) {
        Iterator<String> names = key.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!schema.key().contains(name)) {
                throw new AvroConversionException(name, "table " + schema.table() + ": " + name + " is not a key column " + schema.key());
            }
        }
        return row(schema.keySchema(), key, false);
    }

    private GenericRecord row(Schema recordSchema, ObjectNode values, boolean image) {
        Iterator<String> names = values.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (schema.column(name).isEmpty()) {
                throw new AvroConversionException(name, "table " + schema.table() + ": column " + name
                        + " is not in the Avro schema (columns " + schema.columnsByName().keySet() + "); derive the schema again");
            }
        }
        GenericRecord record = new GenericData.Record(recordSchema);
        for (Schema.Field field : recordSchema.getFields()) {
            V2Column column = schema.columnByField(field.name()).orElseThrow();
            JsonNode value = values.get(column.name());
            if (value == null || value.isNull()) {
                if (column.nullable()) {
                    continue;
                }
                if (value == null && image && field.hasDefaultValue() && column.defaultText() != null) {
                    // The constant default the schema carries (a row image written before the column existed).
                    record.put(field.pos(), TextValues.toAvro(column, TextNode.valueOf(column.defaultText())));
                    continue;
                }
                throw new AvroConversionException(column.name(), "table " + schema.table() + ": column " + column.name()
                        + " is NOT NULL but the " + (image ? "row image" : "key") + (value == null ? " does not have it" : " has null"));
            }
            try {
                record.put(field.pos(), TextValues.toAvro(column, value));
            } catch (IllegalArgumentException e) {
                throw new AvroConversionException(column.name(), "table " + schema.table() + ", column " + column.name()
                        + " (" + column.pgType() + "): " + e.getMessage(), e);
            }
        }
        return record;
    }

    /**
     * The change an {@code Envelope} record holds. The record may be of another version of the table's schema (as
     * read without a reader schema): its fields are matched to columns by name; a field of a column this schema does
     * not have fails.
     *
     * @throws AvroConversionException if a field is no column of the table or a value is not of the column's type
     */
    public V2Change fromAvro(GenericRecord envelope) {
        Op op;
        try {
            op = Op.fromCode(String.valueOf(envelope.get("op")));
        } catch (IllegalArgumentException e) {
            throw new AvroConversionException(null, "table " + schema.table() + ": " + e.getMessage(), e);
        }
        String table = String.valueOf(envelope.get("table"));
        ObjectNode key = keyFromAvro((GenericRecord) envelope.get("key"));
        GenericRecord after = (GenericRecord) envelope.get("after");
        GenericRecord s = (GenericRecord) envelope.get("source");
        SourcePosition source = new SourcePosition(String.valueOf(s.get("table")), ((Number) s.get("lsn")).longValue(),
                optionalLong(s, "lastCommitLsn"), optionalLong(s, "txId"), ((Number) s.get("tsMs")).longValue(),
                (Boolean) s.get("snapshot"));
        try {
            return new V2Change(op, table, key, after == null ? null : rowFromAvro(after), source);
        } catch (IllegalArgumentException e) {
            throw new AvroConversionException(null, "table " + schema.table() + ": " + e.getMessage(), e);
        }
    }

    private static Long optionalLong(GenericRecord record, String field) {
        if (record.getSchema().getField(field) == null) {
            return null;
        }
        Object value = record.get(field);
        return value == null ? null : ((Number) value).longValue();
    }

    /** The v2 key a {@code Key} record holds. */
    public ObjectNode keyFromAvro(GenericRecord key) {
        return rowFromAvro(key);
    }

    /** The v2 row image (or key) a {@code Value} (or {@code Key}) record holds, in the record's field order. */
    public ObjectNode rowFromAvro(GenericRecord record) {
        ObjectNode row = NODES.objectNode();
        for (Schema.Field field : record.getSchema().getFields()) {
            V2Column column = schema.columnByField(field.name()).orElseThrow(() -> new AvroConversionException(field.name(),
                    "table " + schema.table() + ": the record has field " + field.name() + " but the table has no such column"));
            try {
                row.set(column.name(), TextValues.fromAvro(column, record.get(field.pos())));
            } catch (IllegalArgumentException e) {
                throw new AvroConversionException(column.name(), "table " + schema.table() + ", column " + column.name()
                        + " (" + column.pgType() + "): " + e.getMessage(), e);
            }
        }
        return row;
    }

    /** One column value to its Avro representation (see {@link V2AvroConverter}). */
    public Object toAvroValue(String column, JsonNode value) {
        V2Column c = column(column);
        try {
            return TextValues.toAvro(c, value);
        } catch (IllegalArgumentException e) {
            throw new AvroConversionException(column, "table " + schema.table() + ", column " + column + " (" + c.pgType() + "): " + e.getMessage(), e);
        }
    }

    /** One Avro column value back to the v2 JSON form. */
    public JsonNode fromAvroValue(String column, Object value) {
        V2Column c = column(column);
        try {
            return TextValues.fromAvro(c, value);
        } catch (IllegalArgumentException e) {
            throw new AvroConversionException(column, "table " + schema.table() + ", column " + column + " (" + c.pgType() + "): " + e.getMessage(), e);
        }
    }

    private V2Column column(String name) {
        return schema.column(name).orElseThrow(() -> new AvroConversionException(name,
                "table " + schema.table() + " has no column " + name + " " + schema.columnsByName().keySet()));
    }

    @Override
    public String toString() {
        return "V2AvroConverter[" + schema.table() + "]";
    }
}
