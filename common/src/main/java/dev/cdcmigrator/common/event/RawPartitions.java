package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import org.apache.kafka.common.utils.Utils;

/**
 * Which raw topic partition a v1 row's changes go to. The transform keeps per-row state in the task of one partition,
 * so capture's changes and the backfill's copied rows of a row must land on the same one, although their record keys
 * differ (Debezium's key envelope carries a schema, the backfill's does not). Both hash the key's column values as
 * the transform decodes them ({@link DebeziumValues}: timestamps and times as text, bytes as hex), as compact JSON in
 * primary-key column order, the way Kafka's default partitioner hashes a key.
 */
public final class RawPartitions {

    /**
     * The partition every change of a table without a primary key goes to: they can only be applied in commit order,
     * which only one partition keeps.
     */
    public static final int KEYLESS = 0;

    private RawPartitions() {
    }

    /**
     * @param key the v1 key's column values in primary-key order, decoded (numbers as JSON numbers, the rest as text)
     * @param partitions the raw topic's partition count
     */
    public static int of(ObjectNode key, int partitions) {
        try {
            return Utils.toPositive(Utils.murmur2(Json.MAPPER.writeValueAsBytes(key))) % partitions;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a key of column values did not serialize", e);
        }
    }
}
