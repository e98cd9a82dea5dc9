package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.SourcePosition;

/**
 * A change of a lookup row as the transform multicasts it to every task of a dependent table: the value of a
 * {@code <prefix>.lookups.<dependent table>} record.
 *
 * @param table the lookup table
 * @param key its primary key value
 * @param row the columns the dependent table's dimensions read, or null once the row is deleted
 * @param position where the change is in capture's order (for dropping anything not newer)
 * @param source where it happened on v1
 */
record LookupChange(String table, JsonNode key, ObjectNode row, StreamPosition position, SourcePosition source) {

    Dimensions.LookupRef ref() {
        return new Dimensions.LookupRef(table, key);
    }
}
