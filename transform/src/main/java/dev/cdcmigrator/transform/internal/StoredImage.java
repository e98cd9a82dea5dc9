package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * What the transform keeps per v1 row: the position of the last change it applied, and the row's full image after
 * it (null once the row is deleted: the position stays, so that a replayed older change cannot bring the row back).
 *
 * @param position the last applied change's position
 * @param row the row image, or null after a delete; an unchanged TOASTed value no change carried yet is Debezium's
 *            placeholder, until a change carries it
 * @param dimensions the dimension values the row was applied to v2 with (empty without dimensions)
 */
record StoredImage(StreamPosition position, ObjectNode row, ObjectNode dimensions) {

    StoredImage(StreamPosition position, ObjectNode row) {
        this(position, row, JsonNodeFactory.instance.objectNode());
    }

    static StoredImage read(byte[] bytes) {
        try {
            JsonNode node = Json.MAPPER.readTree(bytes);
            JsonNode pos = node.get("pos");
            JsonNode row = node.get("row");
            JsonNode dims = node.get("dims");
            return new StoredImage(new StreamPosition(pos.get(0).asLong(), pos.get(1).asLong(), pos.get(2).asLong()),
                    row.isNull() ? null : (ObjectNode) row, dims == null ? JsonNodeFactory.instance.objectNode() : (ObjectNode) dims);
        } catch (IOException e) {
            throw new UncheckedIOException("unreadable image store entry", e);
        }
    }

    byte[] bytes() {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        node.putArray("pos").add(position.epoch()).add(position.lastCommitLsn()).add(position.lsn());
        node.set("row", row == null ? JsonNodeFactory.instance.nullNode() : row);
        if (!dimensions.isEmpty()) {
            node.set("dims", dimensions);
        }
        try {
            return Json.MAPPER.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
