package dev.cdcmigrator.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.SpecParser;
import org.junit.jupiter.api.Test;

class KafkaClientsTest {

    private static final String YAML = """
            version: 1
            source: { url: "jdbc:postgresql://v1/app", user: u }
            target: { url: "jdbc:postgresql://v2/app", user: u }
            kafka:
              bootstrap: "k1:9093"
              client: { security.protocol: SSL, ssl.truststore.location: /etc/ts.jks }
              producer: { linger.ms: 20, security.protocol: SASL_SSL }
              consumer: { max.poll.records: 500 }
              streams: { num.stream.threads: 2 }
            debezium: { snapshot.fetch.size: 10240 }
            tables:
              users: { columns: { id: { from: id } } }
            """;

    private final Spec spec = new SpecParser(n -> null).parse(YAML, "s.yaml");

    @Test
    void everyClientGetsTheCommonSettingsAndItsOwnOnTop() {
        assertThat(KafkaClients.common(spec, "b:1")).containsEntry("bootstrap.servers", "b:1")
                .containsEntry("security.protocol", "SSL").containsEntry("ssl.truststore.location", "/etc/ts.jks");
        assertThat(KafkaClients.producerOverrides(spec)).containsEntry("linger.ms", "20")
                .containsEntry("security.protocol", "SASL_SSL").containsEntry("ssl.truststore.location", "/etc/ts.jks")
                .doesNotContainKey("max.poll.records");
        assertThat(KafkaClients.consumerOverrides(spec)).containsEntry("max.poll.records", "500").containsEntry("security.protocol", "SSL");
        assertThat(KafkaClients.streamsOverrides(spec)).containsEntry("num.stream.threads", "2");
        // Debezium's Kafka offset store connects with the client settings too.
        assertThat(KafkaClients.debeziumOverrides(spec)).containsEntry("snapshot.fetch.size", "10240").containsEntry("security.protocol", "SSL");
    }

    @Test
    void aSettingMustBeOneValue() {
        assertThatThrownBy(() -> new SpecParser(n -> null).parse(YAML.replace("max.poll.records: 500", "max.poll.records: [1, 2]"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("s.yaml: kafka: consumer setting max.poll.records must be a single value (text, number or true/false)");
    }
}
