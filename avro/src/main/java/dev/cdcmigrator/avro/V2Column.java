package dev.cdcmigrator.avro;

import dev.cdcmigrator.avro.internal.AvroNames;
import java.util.Objects;

/**
 * One column of a v2 table as the Avro schema sees it: how its PostgreSQL type maps to Avro.
 *
 * @param name the PostgreSQL column name
 * @param field the Avro field name: {@code name} made a valid Avro name (see {@link AvroNames#field(String)})
 * @param pgType the column's type as {@code format_type} prints it, e.g. {@code numeric(12,2)} or {@code text[]};
 *     kept in the schema as the field property {@code pg.type}
 * @param kind how values of the column (or of its array elements) are represented in Avro
 * @param precision for {@link Kind#DECIMAL}, the numeric precision; 0 otherwise
 * @param scale for {@link Kind#DECIMAL}, the numeric scale; 0 otherwise
 * @param arrayDimensions 0 for a scalar column, n for an n-dimensional array (nested Avro arrays)
 * @param nullable whether the column accepts NULL (then the field is a union with null first, default null)
 * @param defaultText for a NOT NULL column whose default is a constant, that constant in PostgreSQL text input form
 *     (it becomes the Avro field default, so adding such a column is a compatible schema change); null otherwise
 */
public record V2Column(String name, String field, String pgType, Kind kind, int precision, int scale,
                       int arrayDimensions, boolean nullable, String defaultText) {

    /** How a PostgreSQL type is represented in Avro. */
    public enum Kind {
        /** {@code boolean} → Avro boolean. */
        BOOLEAN,
        /** {@code smallint}, {@code integer} → Avro int. */
        INT,
        /** {@code bigint}, {@code oid} → Avro long. */
        LONG,
        /** {@code real} → Avro float. */
        FLOAT,
        /** {@code double precision} → Avro double. */
        DOUBLE,
        /** {@code numeric(p,s)} → Avro bytes with the {@code decimal(p,s)} logical type. */
        DECIMAL,
        /** {@code text}, {@code varchar}, {@code char}, {@code name}, {@code citext} → Avro string. */
        STRING,
        /**
         * A PostgreSQL enum → Avro string, not an Avro enum: {@code ALTER TYPE ... ADD VALUE} can add a label while the
         * migration runs, and an Avro enum that gains a symbol is a change old readers cannot read (and the schema
         * would only be derived again at the next schema change anyway).
         */
        ENUM,
        /** {@code uuid} → Avro string with the {@code uuid} logical type. */
        UUID,
        /** {@code json}, {@code jsonb} → Avro string holding the JSON text exactly. */
        JSON,
        /** {@code bytea} → Avro bytes. */
        BYTES,
        /** {@code date} → Avro int with the {@code date} logical type (days since 1970-01-01). */
        DATE,
        /** {@code time} → Avro long with the {@code time-micros} logical type. */
        TIME_MICROS,
        /** {@code timestamptz} → Avro long with the {@code timestamp-micros} logical type (UTC). */
        TIMESTAMP_MICROS,
        /** {@code timestamp} (without time zone) → Avro long with the {@code local-timestamp-micros} logical type. */
        LOCAL_TIMESTAMP_MICROS,
        /**
         * Every type Avro has no faithful type for → Avro string in PostgreSQL's text form: {@code numeric} without
         * precision and scale (any scale per value, and {@code NaN}/{@code Infinity}, which the decimal logical type
         * cannot hold), {@code numeric} with a negative scale or a scale above its precision, {@code timetz},
         * {@code interval}, {@code money}, network, geometric, range, bit string, composite types and any other.
         */
        TEXT
    }

    public V2Column {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(field, "field");
        Objects.requireNonNull(pgType, "pgType");
        Objects.requireNonNull(kind, "kind");
        if (kind == Kind.DECIMAL && (precision < 1 || scale < 0 || scale > precision)) {
            throw new IllegalArgumentException("column " + name + ": decimal(" + precision + "," + scale
                    + ") is not a valid Avro decimal (needs precision >= 1 and 0 <= scale <= precision)");
        }
        if (arrayDimensions < 0) {
            throw new IllegalArgumentException("column " + name + ": arrayDimensions " + arrayDimensions);
        }
    }

    /**
     * A column whose Avro field name is derived from its name, with no precision, scale or default (tests and simple
     * callers; {@link V2AvroSchemas} reads all of these from the catalog).
     */
    public static V2Column of(String name, String pgType, Kind kind, boolean nullable) {
        return new V2Column(name, AvroNames.field(name), pgType, kind, 0, 0, 0, nullable, null);
    }

    /** A {@code numeric(precision,scale)} column. */
    public static V2Column decimal(String name, int precision, int scale, boolean nullable) {
        return new V2Column(name, AvroNames.field(name), "numeric(" + precision + "," + scale + ")", Kind.DECIMAL,
                precision, scale, 0, nullable, null);
    }

    /** This column as an array of {@code dimensions} dimensions of its current type. */
    public V2Column asArray(int dimensions) {
        return new V2Column(name, field, pgType.endsWith("[]") ? pgType : pgType + "[]".repeat(dimensions), kind,
                precision, scale, dimensions, nullable, defaultText);
    }

    /** This column with {@code defaultText} as its constant default. */
    public V2Column withDefault(String text) {
        return new V2Column(name, field, pgType, kind, precision, scale, arrayDimensions, nullable, text);
    }

    /** Whether the column is an array. */
    public boolean isArray() {
        return arrayDimensions > 0;
    }
}
