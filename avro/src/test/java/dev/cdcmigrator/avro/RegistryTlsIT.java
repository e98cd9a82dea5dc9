package dev.cdcmigrator.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.testkit.RegistryStandIn;
import dev.cdcmigrator.testkit.TestCertificates;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A registry that answers HTTPS only, with a certificate of a CA the JVM does not trust. */
class RegistryTlsIT {

    @Test
    void theTrustStoreOfTheSettingsVerifiesTheRegistry(@TempDir Path dir) throws Exception {
        TestCertificates.make(dir, "localhost", "migrator");
        try (RegistryStandIn registry = RegistryStandIn.startHttps(dir)) {
            SchemaRegistryClient trusting = SchemaRegistryClient.create(Map.of(
                    RegistryConfig.SCHEMA_REGISTRY_URL, registry.url(),
                    "schema.registry.ssl.truststore.type", "PEM",
                    "schema.registry.ssl.truststore.location", dir.resolve("ca.crt").toString()));
            SchemaRegistryClient jvmDefault = SchemaRegistryClient.create(Map.of(RegistryConfig.SCHEMA_REGISTRY_URL, registry.url()));

            assertThat(trusting.subjects()).isEmpty();
            assertThat(registry.requests()).extracting(RegistryStandIn.Request::line).containsExactly("GET /subjects");
            assertThatThrownBy(jvmDefault::subjects).isInstanceOf(SchemaRegistryException.class)
                    .hasStackTraceContaining("PKIX");
        }
    }

    @Test
    void anUnreadableTrustStoreIsAConfigErrorNamingTheSettings(@TempDir Path dir) {
        assertThatThrownBy(() -> RegistryConfig.from(Map.of(RegistryConfig.SCHEMA_REGISTRY_URL, "https://localhost:1",
                "schema.registry.ssl.truststore.type", "PEM",
                "schema.registry.ssl.truststore.location", dir.resolve("missing.crt").toString())))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("schema.registry.ssl.*: ");
    }
}
