package dev.cdcmigrator.avro;

/**
 * The registry refused to register a schema under a subject because it is incompatible with the subject's earlier
 * versions at the subject's compatibility level (HTTP 409). {@link #subject()} names the subject; the message also
 * says what to do.
 */
public class IncompatibleSchemaException extends SchemaRegistryException {

    private static final long serialVersionUID = 1L;

    public IncompatibleSchemaException(String message, int errorCode, String subject) {
        this(message, errorCode, subject, null);
    }

    public IncompatibleSchemaException(String message, int errorCode, String subject, Throwable cause) {
        super(message, 409, errorCode, subject, cause);
    }
}
