package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.avro.AvroConversionException;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.serde.JsonSerde;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.DefaultProductionExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a v2 change the Avro schema of its v2 table cannot hold exactly (more digits than a numeric column keeps,
 * NULL in a NOT NULL column, a column the v2 table lacks: {@link AvroConversionException}) to the dead-letter topic,
 * in the same transaction, instead of stopping the transform; with JSON v2 topics the target would refuse such a row
 * and the sink would dead-letter it. Every other failure to serialize (the registry refusing a schema or out of
 * reach) stops the transform, as Kafka Streams' default does, since skipping it would lose changes.
 *
 * <p>The letter is the v2 change as JSON, from the v2 topic (partition and offset -1: it was never written there),
 * with the v1 table as its table and the v2 column at fault. Kafka Streams instantiates this class by name; it finds
 * the dead-letter topic under {@link #DEAD_LETTER_TOPIC}, the v1 schema under {@link #SOURCE_SCHEMA} and the meter
 * registry under {@link #METER_REGISTRY}.
 */
public final class V2DeadLetterHandler extends DefaultProductionExceptionHandler {

    /** Configuration key of the dead-letter topic. */
    public static final String DEAD_LETTER_TOPIC = "cdc-migrator.dead-letter.topic";
    /** Configuration key of the v1 schema ({@code source.schema}), cut off the v1 table a change names. */
    public static final String SOURCE_SCHEMA = "cdc-migrator.source.schema";
    /** Configuration key of the {@link MeterRegistry} (an object, not text). */
    public static final String METER_REGISTRY = "cdc-migrator.meter-registry";

    private static final Logger LOGGER = LoggerFactory.getLogger(V2DeadLetterHandler.class);
    private static final JsonSerde<V2Change> V2 = JsonSerde.of(V2Change.class);
    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    private String deadLetterTopic;
    private String sourceSchema;
    private MeterRegistry registry;

    /** The Kafka Streams settings that install this handler. */
    public static Map<String, Object> settings(String deadLetterTopic, String sourceSchema, MeterRegistry registry) {
        return Map.of(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, V2DeadLetterHandler.class,
                DEAD_LETTER_TOPIC, deadLetterTopic, SOURCE_SCHEMA, sourceSchema, METER_REGISTRY, registry);
    }

    @Override
    public void configure(Map<String, ?> configs) {
        super.configure(configs);
        Object topic = configs.get(DEAD_LETTER_TOPIC);
        if (topic == null) {
            throw new IllegalArgumentException(DEAD_LETTER_TOPIC + " is not set");
        }
        deadLetterTopic = topic.toString();
        sourceSchema = String.valueOf(configs.get(SOURCE_SCHEMA));
        registry = configs.get(METER_REGISTRY) instanceof MeterRegistry r ? r : null;
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record, Exception exception,
                                             SerializationExceptionOrigin origin) {
        AvroConversionException conversion = conversionFailure(exception);
        if (conversion == null || !(record.key() instanceof byte[] key) || !(record.value() instanceof byte[] value)) {
            return super.handleSerializationError(context, record, exception, origin);
        }
        V2Change change = change(value);
        // The change names its v2 table: a topic's name is derived from it and not always the name itself.
        String v2Table = change != null && change.table() != null ? change.table() : record.topic();
        String source = change == null || change.source() == null ? null : change.source().table();
        String v1Table = source == null ? v2Table : change.source().table(sourceSchema);
        String column = conversion.column() == null ? null : v2Table + "." + conversion.column();
        DeadLetter letter = DeadLetter.of("transform", record.topic(), -1, -1, v1Table, key, column, conversion.getMessage(), value);
        LOGGER.warn("dead-lettered table={} topic={} column={} reason={}", v1Table, record.topic(), column, conversion.getMessage());
        if (registry != null) {
            // The same meter as the map processors' dead letters, so that dashboards and alerts see these too.
            Counter.builder("migrator.transform.records")
                    .description("v1 change records processed by the transform, by outcome")
                    .baseUnit("records")
                    .tag("table", v1Table)
                    .tag("outcome", "dead_lettered")
                    .register(registry)
                    .increment();
        }
        return Response.resume(List.of(new ProducerRecord<>(deadLetterTopic, key, DEAD.serialize(deadLetterTopic, letter))));
    }

    private static AvroConversionException conversionFailure(Throwable exception) {
        for (Throwable t = exception; t != null; t = t.getCause()) {
            if (t instanceof AvroConversionException conversion) {
                return conversion;
            }
        }
        return null;
    }

    private static V2Change change(byte[] value) {
        try {
            return V2.deserialize(null, value);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
