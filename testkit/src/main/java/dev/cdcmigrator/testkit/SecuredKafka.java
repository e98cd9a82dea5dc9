package dev.cdcmigrator.testkit;

import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Kafka broker that clients reach over SASL_SSL only (SASL PLAIN, the broker's certificate signed by a test CA):
 * the address it gives is its SASL_SSL listener's, and it advertises that listener there. Its plaintext listener,
 * which the broker keeps for its own use, is never given out.
 */
public final class SecuredKafka implements AutoCloseable {

    /** The user clients log in as. */
    public static final String USER = "migrator";
    private static final String PASSWORD = "migrator-secret";

    private final EmbeddedKafkaBroker broker;
    private final EmbeddedKafkaBroker.Listener listener;
    private final Path caCertificate;

    private SecuredKafka(EmbeddedKafkaBroker broker, EmbeddedKafkaBroker.Listener listener, Path caCertificate) {
        this.broker = broker;
        this.listener = listener;
        this.caCertificate = caCertificate;
    }

    /** Starts the broker with its data and certificates in {@code dir}. */
    public static SecuredKafka start(Path dir) {
        Path tls = dir.resolve("tls");
        try {
            TestCertificates.make(tls, "localhost", USER);
            String prefix = "listener.name.secure.";
            EmbeddedKafkaBroker.Listener listener = new EmbeddedKafkaBroker.Listener("SECURE", "SASL_SSL", Ports.free(), Map.of(
                    "sasl.enabled.mechanisms", "PLAIN",
                    prefix + "plain.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required"
                            + " user_" + USER + "=\"" + PASSWORD + "\";",
                    prefix + "ssl.keystore.type", "PEM",
                    prefix + "ssl.keystore.location", TestCertificates.serverKeyStore(tls).toString()));
            EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0, List.of(listener));
            return new SecuredKafka(broker, listener, tls.resolve("ca.crt"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The SASL_SSL listener's address. */
    public String bootstrapServers() {
        return listener.bootstrapServers();
    }

    /** The client settings a spec's {@code kafka.client} needs for this broker. */
    public Map<String, String> clientSettings() {
        return Map.of(
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
                        + USER + "\" password=\"" + PASSWORD + "\";",
                "ssl.truststore.type", "PEM",
                "ssl.truststore.location", caCertificate.toString());
    }

    @Override
    public void close() {
        broker.close();
    }
}
