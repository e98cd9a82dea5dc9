package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * A record a stage could not process: the value of a {@code <prefix>.dlq} record. It keeps the original record whole,
 * so it can be replayed once the spec or the data is fixed.
 *
 * @param stage the stage that gave up: {@code transform} or {@code sink}
 * @param topic the topic the original record was read from
 * @param partition its partition
 * @param offset its offset
 * @param table the table it concerns (v1 for the transform, v2 for the sink)
 * @param key the original record's key
 * @param column the column at fault, when one is
 * @param reason what went wrong, for a person
 * @param record the original record's value (JSON), or its text when it was not JSON
 */
public record DeadLetter(String stage, String topic, int partition, long offset, String table, JsonNode key,
                         String column, String reason, JsonNode record) {

    /**
     * A dead letter for a record read as bytes: key and value are kept as JSON when they are JSON, else as their text,
     * so that a replay can re-publish them.
     */
    public static DeadLetter of(String stage, String topic, int partition, long offset, String table, byte[] key,
                                String column, String reason, byte[] value) {
        return new DeadLetter(stage, topic, partition, offset, table, readOrText(key), column, reason, readOrText(value));
    }

    private static JsonNode readOrText(byte[] bytes) {
        if (bytes == null) {
            return NullNode.getInstance();
        }
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            return TextNode.valueOf(new String(bytes, StandardCharsets.UTF_8));
        }
    }
}
