package dev.cdcmigrator.avro;

/**
 * A value that cannot be converted between the v2 JSON form and Avro without changing it: a decimal with more
 * digits than the column keeps, a timestamp finer than a microsecond, text that is not of the column's type, a NULL
 * in a NOT NULL column. The message names the table, the column and the value; {@link #column()} names the column for
 * a dead letter.
 */
public class AvroConversionException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String column;

    public AvroConversionException(String column, String message) {
        super(message);
        this.column = column;
    }

    public AvroConversionException(String column, String message, Throwable cause) {
        super(message, cause);
        this.column = column;
    }

    /** The column at fault, or null when the fault is not one column's (e.g. a missing key). */
    public String column() {
        return column;
    }
}
