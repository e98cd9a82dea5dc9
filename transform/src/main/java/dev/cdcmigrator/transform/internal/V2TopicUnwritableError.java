package dev.cdcmigrator.transform.internal;

/**
 * The v2 topics cannot be written at all: the schema registry refused a v2 schema (incompatible, naming the subject)
 * or could not be reached, or the v2 table's columns could not be read. The transform must stop, since skipping the
 * record would lose it and every later change of the table would meet the same fate.
 *
 * <p>Why an {@link Error}: the v2 sink nodes run inside {@link MapProcessor}'s {@code context.forward}, and the map
 * processor turns every exception from downstream into a dead letter of the raw change (errors as data), while Kafka
 * Streams wraps whatever a serializer or a processor throws into a {@code StreamsException}. An {@code Error} is the
 * one thing both let through, up to the stream thread's uncaught-exception handler ({@code Transform} stops the
 * application there). Under exactly-once the open transaction is aborted, so nothing after the last commit is lost
 * or written twice; a restart resumes from there.
 */
public final class V2TopicUnwritableError extends Error {

    private static final long serialVersionUID = 1L;

    public V2TopicUnwritableError(RuntimeException cause) {
        super(cause.getMessage(), cause);
    }
}
