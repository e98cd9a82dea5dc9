package dev.cdcmigrator.transform.internal;

/** A change the spec cannot map; becomes a dead letter naming the column at fault. */
public final class MappingException extends RuntimeException {

    private final String column;

    public MappingException(String column, String message) {
        super(message);
        this.column = column;
    }

    /** The v2 (or v1, when no v2 column is involved) column at fault; null when the whole record is. */
    public String column() {
        return column;
    }
}
