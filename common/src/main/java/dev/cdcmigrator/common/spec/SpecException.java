package dev.cdcmigrator.common.spec;

/** A spec that cannot be used; the message names the file, the YAML path and what is expected. */
public final class SpecException extends RuntimeException {

    private final String path;
    private final String reason;

    SpecException(String source, String path, String message, Throwable cause) {
        super((source == null ? "" : source + ": ") + (path.isEmpty() ? "" : path + ": ") + message, cause);
        this.path = path;
        this.reason = message;
    }

    /** A spec that parsed but cannot be used, found by a later stage (e.g. an expression that does not compile). */
    public static SpecException invalid(String path, String reason, Throwable cause) {
        return new SpecException(null, path, reason, cause);
    }

    /** The same error, naming the spec file it came from. */
    public SpecException in(String source) {
        return new SpecException(source, path, reason, this);
    }

    /** What is wrong, without the file and the path. */
    public String reason() {
        return reason;
    }

    /** The YAML path of the offending node, e.g. {@code tables.users.columns.name.from}; empty for the document. */
    public String path() {
        return path;
    }
}
