package dev.cdcmigrator.capture.internal;

import io.debezium.embedded.KafkaConnectUtil;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.storage.KafkaOffsetBackingStore;
import org.apache.kafka.connect.util.SharedTopicAdmin;
import org.apache.kafka.connect.util.TopicAdmin;

/**
 * Debezium's offsets in a Kafka topic, with an admin client that is closed when the store stops.
 * Debezium's own Kafka offset store (KafkaConnectUtil#kafkaOffsetBackingStore) hands Kafka a shared admin that
 * nothing ever closes, and Kafka's store leaves closing it to the caller: each engine start would leak one.
 * Debezium instantiates any other {@code offset.storage} class through its no-argument constructor.
 */
public final class ClosingKafkaOffsetStore extends KafkaOffsetBackingStore {

    private final AdminHolder admin;

    public ClosingKafkaOffsetStore() {
        this(new AdminHolder());
    }

    private ClosingKafkaOffsetStore(AdminHolder admin) {
        super(admin, () -> "migrator-capture", KafkaConnectUtil.converterForOffsetStore());
        this.admin = admin;
    }

    @Override
    public void configure(WorkerConfig config) {
        admin.configure(config.originals());
        super.configure(config);
    }

    @Override
    public void stop() {
        try {
            super.stop();
        } finally {
            admin.close();
        }
    }

    private static final class AdminHolder implements Supplier<TopicAdmin> {

        private SharedTopicAdmin shared;

        void configure(Map<String, Object> workerProps) {
            Map<String, Object> props = new HashMap<>(workerProps);
            props.put(CommonClientConfigs.CLIENT_ID_CONFIG, "migrator-capture-offsets-admin");
            shared = new SharedTopicAdmin(props);
        }

        @Override
        public TopicAdmin get() {
            return shared.get();
        }

        void close() {
            if (shared != null) {
                shared.close();
            }
        }
    }
}
