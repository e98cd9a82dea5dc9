package dev.cdcmigrator.capture.internal;

import dev.cdcmigrator.common.Topics;
import io.debezium.relational.TableId;
import io.debezium.schema.SchemaTopicNamingStrategy;
import io.debezium.spi.schema.DataCollectionId;
import java.util.Properties;

/**
 * Debezium's {@code topic.naming.strategy} for capture: a table's change topic is {@link Topics#raw(String, String,
 * String)}, the name the transform subscribes to. Debezium's own strategy replaces each character Kafka does not take
 * by {@code _}, so {@code "Order Lines"} and {@code Order_Lines} would share a topic and a table with a space would
 * write to a topic nobody reads; heartbeat and other topics stay Debezium's.
 */
public final class RawTopicNaming extends SchemaTopicNamingStrategy {

    public RawTopicNaming(Properties props) {
        super(props);
    }

    @Override
    public String dataChangeTopic(DataCollectionId id) {
        if (id instanceof TableId table && table.schema() != null) {
            return topicNames.computeIfAbsent(id, t -> Topics.raw(prefix, table.schema(), table.table()));
        }
        return super.dataChangeTopic(id);
    }
}
