package dev.cdcmigrator.testkit;

import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;

/**
 * A Kafka broker that clients reach over SASL_SSL only (SASL PLAIN, the broker's certificate signed by a test CA):
 * the address it gives is its SASL_SSL listener's, and it advertises that listener there. Its plaintext listener,
 * which the broker keeps for its own use, is never given out.
 *
 * <p>{@link #start(Path)} lets its one user {@link #USER} do anything. {@link #withAcls(Path, List)} runs Kafka's
 * KRaft authorizer ({@code StandardAuthorizer}, {@code allow.everyone.if.no.acl.found=false}): {@link #ADMIN} is a
 * super user and may manage ACLs ({@link #admin()}); every other user may do only what an ACL allows it.
 */
public final class SecuredKafka implements AutoCloseable {

    /** The user clients log in as by default. */
    public static final String USER = "migrator";
    /** The super user of a broker {@linkplain #withAcls(Path, List) with ACLs}. */
    public static final String ADMIN = "admin";

    private static final String LISTENER_PREFIX = "listener.name.secure.";

    private final EmbeddedKafkaBroker broker;
    private final EmbeddedKafkaBroker.Listener listener;
    private final Path caCertificate;
    private final Set<String> users;

    private SecuredKafka(EmbeddedKafkaBroker broker, EmbeddedKafkaBroker.Listener listener, Path caCertificate, Set<String> users) {
        this.broker = broker;
        this.listener = listener;
        this.caCertificate = caCertificate;
        this.users = users;
    }

    /** Starts the broker with its data and certificates in {@code dir}; {@link #USER} may do anything. */
    public static SecuredKafka start(Path dir) {
        return start(dir, List.of(USER), Map.of());
    }

    /**
     * Starts the broker under Kafka's KRaft authorizer: {@link #ADMIN} and the broker itself are super users, no one
     * else may do anything without an ACL (create them with {@link #admin()}).
     *
     * @param dir   where its data and certificates go
     * @param users the users besides {@link #ADMIN} that may log in, each with {@link #clientSettings(String)}
     */
    public static SecuredKafka withAcls(Path dir, List<String> users) {
        List<String> all = new ArrayList<>(users);
        all.add(ADMIN);
        return start(dir, all, Map.of(
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found", "false",
                // The broker reaches its own controller and itself through the listeners that authenticate no one
                // (EmbeddedKafkaBroker), as User:ANONYMOUS; clients are never given those.
                "super.users", "User:" + ADMIN + ";User:ANONYMOUS"));
    }

    private static SecuredKafka start(Path dir, List<String> users, Map<String, String> brokerSettings) {
        Path tls = dir.resolve("tls");
        try {
            TestCertificates.make(tls, "localhost", USER);
            String logins = users.stream().map(u -> " user_" + u + "=\"" + password(u) + "\"").collect(Collectors.joining());
            EmbeddedKafkaBroker.Listener listener = new EmbeddedKafkaBroker.Listener("SECURE", "SASL_SSL", Ports.free(), Map.of(
                    "sasl.enabled.mechanisms", "PLAIN",
                    LISTENER_PREFIX + "plain.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required"
                            + logins + ";",
                    LISTENER_PREFIX + "ssl.keystore.type", "PEM",
                    LISTENER_PREFIX + "ssl.keystore.location", TestCertificates.serverKeyStore(tls).toString()));
            EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0, List.of(listener), brokerSettings);
            return new SecuredKafka(broker, listener, tls.resolve("ca.crt"), new LinkedHashSet<>(users));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String password(String user) {
        return user + "-secret";
    }

    /** The SASL_SSL listener's address. */
    public String bootstrapServers() {
        return listener.bootstrapServers();
    }

    /** The client settings a spec's {@code kafka.client} needs for this broker, as {@link #USER}. */
    public Map<String, String> clientSettings() {
        return clientSettings(USER);
    }

    /** The client settings a spec's {@code kafka.client} needs for this broker, as {@code user}. */
    public Map<String, String> clientSettings(String user) {
        if (!users.contains(user)) {
            throw new IllegalArgumentException("no user " + user + " on this broker; its users are " + users);
        }
        return Map.of(
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "PLAIN",
                "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
                        + user + "\" password=\"" + password(user) + "\";",
                "ssl.truststore.type", "PEM",
                "ssl.truststore.location", caCertificate.toString());
    }

    /**
     * {@link #clientSettings(String)} as the entries of a spec's {@code kafka.client} map, one {@code key: 'value'}
     * line each (sorted, single-quoted), every line indented by {@code indent} spaces.
     */
    public String clientYaml(String user, int indent) {
        String margin = " ".repeat(indent);
        return new TreeMap<>(clientSettings(user)).entrySet().stream()
                .map(e -> margin + e.getKey() + ": '" + e.getValue().replace("'", "''") + "'")
                .collect(Collectors.joining("\n"));
    }

    /** An admin client of {@link #ADMIN} (a super user under {@link #withAcls}); the caller closes it. */
    public Admin admin() {
        Map<String, Object> props = new HashMap<>(clientSettings(ADMIN));
        props.put("bootstrap.servers", bootstrapServers());
        return Admin.create(props);
    }

    @Override
    public void close() {
        broker.close();
    }
}
