package dev.cdcmigrator.common.spec;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class EffectiveConfigurationTest {

    @Test
    void showsEveryDefaultAndMasksEverySecret() {
        Spec spec = new SpecParser(name -> Map.of("PW", "hunter2").get(name)).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app?sslmode=require&sslpassword=inurl", user: u, password: "${env:PW}" }
                target: { url: "jdbc:postgresql://v2/app", user: u, password: "hunter2" }
                kafka:
                  bootstrap: "k:9093"
                  client: { security.protocol: SASL_SSL, sasl.jaas.config: "PlainLoginModule required password=\\"x\\";", ssl.truststore.password: tpw }
                  producer: { linger.ms: 20 }
                debezium: { snapshot.fetch.size: 10240, database.sslpassword: dbz }
                tables:
                  users: { columns: { id: { from: id } } }
                """, "s.yaml");

        String shown = EffectiveConfiguration.of(spec);

        assertThat(shown).doesNotContain("hunter2").doesNotContain("inurl").doesNotContain("tpw").doesNotContain("dbz")
                .doesNotContain("PlainLoginModule")
                .contains("\"password\":\"****\"")
                .contains("password=****")
                .contains("\"sasl.jaas.config\":\"****\"")
                .contains("\"security.protocol\":\"SASL_SSL\"")
                .contains("\"linger.ms\":\"20\"")
                .contains("\"snapshot.fetch.size\":\"10240\"")
                .contains("\"schema\":\"public\"")
                .contains("\"stateSchema\":\"migrator_state\"")
                .contains("\"topicPrefix\":\"migrator\"")
                .contains("\"v2Format\":\"json\"");
    }

    @Test
    void masksTheSchemaRegistrysCredentials() {
        Spec spec = new SpecParser(name -> Map.of("PW", "hunter2").get(name)).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka:
                  v2Format: avro
                  schemaRegistry: { url: "http://r:8081", basicAuth: { user: svc, password: "${env:PW}" } }
                tables:
                  users: { columns: { id: { from: id } } }
                """, "s.yaml");

        assertThat(EffectiveConfiguration.of(spec)).doesNotContain("hunter2")
                .contains("\"v2Format\":\"avro\"")
                .contains("\"schemaRegistry\":{\"url\":\"http://r:8081\",\"basicAuth\":{\"user\":\"svc\",\"password\":\"****\"},\"settings\":{}}");
    }
}
