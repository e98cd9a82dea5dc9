package dev.cdcmigrator.avro;

import org.apache.kafka.common.errors.SerializationException;

/**
 * The schema registry refused a request, answered with an error, or could not be reached. It is a Kafka
 * {@link SerializationException}, so the serializers throw it unwrapped and Kafka (Streams) treats it as a failure
 * to serialize. The message names the registry URL, the request and, where there is one, the subject.
 */
public class SchemaRegistryException extends SerializationException {

    private static final long serialVersionUID = 1L;

    /** The Confluent error code of "subject not found". */
    public static final int SUBJECT_NOT_FOUND = 40401;
    /** The Confluent error code of "version not found". */
    public static final int VERSION_NOT_FOUND = 40402;
    /** The Confluent error code of "schema not found". */
    public static final int SCHEMA_NOT_FOUND = 40403;

    private final int status;
    private final int errorCode;
    private final String subject;

    public SchemaRegistryException(String message, int status, int errorCode, String subject, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
        this.subject = subject;
    }

    /** The HTTP status the registry answered, or -1 if it could not be reached. */
    public int status() {
        return status;
    }

    /** The registry's {@code error_code} (e.g. 40401, 409, 42201), or the HTTP status when it gave none; -1 if unreached. */
    public int errorCode() {
        return errorCode;
    }

    /** The subject of the request, or null if it had none (e.g. a schema by id). */
    public String subject() {
        return subject;
    }

    /** Whether the registry has no such subject, version or schema (HTTP 404). */
    public boolean isNotFound() {
        return status == 404;
    }
}
