package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.Refusal;
import java.util.Optional;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.common.utils.Utils;

/**
 * Which raw topic partition a v1 row's changes go to. The transform keeps per-row state in the task of one partition,
 * so capture's changes and the backfill's copied rows of a row must land on the same one, although their record keys
 * differ (Debezium's key envelope carries a schema, the backfill's does not). Both hash the key's column values,
 * as compact JSON in primary-key column order, the way Kafka's default partitioner hashes a key.
 */
public final class RawPartitions {

    /**
     * v1 key column types ({@code pg_type.typname}) whose values the copy backfill reads in the same JSON form as
     * Debezium's key values under capture's settings (numbers, text and uuid as they are; numeric as its plain
     * digits, {@code decimal.handling.mode: string}; timestamptz as Debezium's UTC ISO text with the column's
     * fraction digits), so that its rows land on the same partition and the transform keeps their images under the
     * keys later changes carry. Any number of them, in any order, makes a key the copy chunks and copies. Others
     * (date, timestamp and time, which Debezium's keys carry as numbers; bytea; ...) are not read in that form.
     */
    private static final Set<String> COPYABLE_KEY_TYPES = new TreeSet<>(Set.of("int2", "int4", "int8", "numeric", "text",
            "timestamptz", "uuid", "varchar"));

    /**
     * The partition every change of a table without a primary key goes to: they can only be applied in commit order,
     * which only one partition keeps.
     */
    public static final int KEYLESS = 0;

    private RawPartitions() {
    }

    /**
     * Why {@code backfill.mode: copy} cannot copy a v1 table, if it cannot: a key column of a type whose values it
     * would not place on capture's partition. A table without a primary key is copied by block ranges, and its changes
     * all go to partition 0, so it is never refused here.
     *
     * @param table the v1 table, schema-qualified
     * @param primaryKeyTypes its primary key columns in key order (e.g. a {@code LinkedHashMap}), each with its type
     *                        name; empty for a table without one
     */
    public static Optional<Refusal> copyRefusal(String table, Map<String, String> primaryKeyTypes) {
        String fix = "set backfill.mode: debezium (its snapshot takes any table)";
        return primaryKeyTypes.entrySet().stream().filter(column -> !COPYABLE_KEY_TYPES.contains(column.getValue()))
                .findFirst().map(column -> new Refusal("v1 " + table + "." + column.getKey(), "primary key column of type "
                        + column.getValue() + ", which backfill.mode copy does not take (it takes " + String.join(", ",
                        COPYABLE_KEY_TYPES) + "; spec backfill.mode)", fix));
    }

    /**
     * @param key the v1 key's column values in primary-key order (numbers as JSON numbers, text and uuid as strings)
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
