package dev.cdcmigrator.pg;

/**
 * A database or Kafka that a cutover tool or the copy backfill needs did not answer; the message names which, where,
 * and why.
 */
public final class UnreachableException extends RuntimeException {

    /** What could not be reached. */
    public enum What {
        /** The v1 database ({@code source.url}). */
        SOURCE,
        /** The v2 database ({@code target.url}). */
        TARGET,
        /** The Kafka cluster. */
        KAFKA
    }

    private final What what;

    public UnreachableException(What what, String message, Throwable cause) {
        super(message, cause);
        this.what = what;
    }

    /** What could not be reached. */
    public What what() {
        return what;
    }
}
