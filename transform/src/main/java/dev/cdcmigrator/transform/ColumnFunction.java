package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A v2 column value that no expression can say, named in the spec as {@code java: com.example.MyFunction}.
 * The class needs a public no-argument constructor; one instance serves every row of its column and may be called
 * from several threads at once.
 *
 * <p>The row holds the v1 columns by name: numbers as JSON numbers, text as text, temporal values as ISO-8601 text,
 * json and jsonb as parsed JSON. Return a value in the same form (null for SQL NULL); PostgreSQL converts it with the
 * v2 column's input function. An exception dead-letters the row with the exception's message.
 */
@FunctionalInterface
public interface ColumnFunction {

    /** The v2 column's value for this v1 row. */
    JsonNode apply(ObjectNode row);
}
