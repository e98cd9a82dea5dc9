package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.TestKafka;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;

/**
 * The topics the migrator creates keep their records until {@code cleanup}, whatever the broker's default retention
 * (7 days on a stock broker: a migration stopped longer would lose its unread changes unseen); the dead letters for
 * {@code kafka.deadLetterRetention} when the spec bounds it.
 */
class TopicRetentionIT {

    private static final String SPEC = """
            version: 1
            source: { url: "jdbc:postgresql://127.0.0.1:1/v1", user: app }
            target: { url: "jdbc:postgresql://127.0.0.1:1/v2", user: app }
            kafka: { bootstrap: "%s", topicPrefix: %s%s }
            tables:
              items: { columns: { id: { from: id } } }
            """;

    @Test
    void everyTopicKeepsItsRecordsAndTheDeadLettersForTheirConfiguredRetention() throws Exception {
        String prefix = "retention_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        Spec spec = new SpecParser().parse(SPEC.formatted(TestKafka.bootstrapServers(), prefix, ", deadLetterRetention: P30D"),
                "retention.yaml");
        Topics topics = new Topics(spec);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            TopicProvisioner.createMissing(admin, spec);

            List<String> kept = List.of(topics.raw("items"), topics.v2("items"), topics.heartbeat(), topics.replayOutcomes());
            for (String topic : kept) {
                assertThat(config(admin, topic).get(TopicConfig.RETENTION_MS_CONFIG).value()).as(topic).isEqualTo("-1");
                assertThat(config(admin, topic).get(TopicConfig.RETENTION_BYTES_CONFIG).value()).as(topic).isEqualTo("-1");
            }
            assertThat(config(admin, topics.deadLetters()).get(TopicConfig.RETENTION_MS_CONFIG).value())
                    .isEqualTo(String.valueOf(30L * 24 * 3600 * 1000));
        }
    }

    @Test
    void aRetentionThatIsNotPositiveIsRefusedNamingItsPath() {
        assertThatThrownBy(() -> new SpecParser().parse(SPEC.formatted("k:9092", "p", ", deadLetterRetention: PT0S"), "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessageContaining("spec.yaml: kafka")
                .hasMessageContaining("deadLetterRetention must be positive");
    }

    private static Config config(Admin admin, String topic) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return admin.describeConfigs(List.of(resource)).all().get().get(resource);
    }
}
