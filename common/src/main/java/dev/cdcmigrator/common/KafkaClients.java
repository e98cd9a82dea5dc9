package dev.cdcmigrator.common;

import dev.cdcmigrator.common.spec.Spec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;

/**
 * The properties every Kafka client of the migrator starts from: the bootstrap servers and the spec's
 * {@code kafka.client} settings (TLS, SASL), plus the settings of the client's kind. A client's own settings go first
 * and these on top, so the spec has the last word.
 */
public final class KafkaClients {

    private KafkaClients() {
    }

    /** For an admin client, or any client without settings of its own kind. */
    public static Map<String, Object> common(Spec spec, String bootstrap) {
        Map<String, Object> props = new HashMap<>(spec.kafka().client());
        props.put("bootstrap.servers", bootstrap);
        return props;
    }

    /** For a consumer of the migrator's own (not a stage's, which take overrides): bootstrap and the consumer settings. */
    public static Map<String, Object> consumer(Spec spec, String bootstrap) {
        Map<String, Object> props = consumerOverrides(spec);
        props.put("bootstrap.servers", bootstrap);
        return props;
    }

    /** The spec's settings for producers (without bootstrap: for stages that take overrides). */
    public static Map<String, Object> producerOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().producer());
    }

    /** The spec's settings for consumers. */
    public static Map<String, Object> consumerOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().consumer());
    }

    /** The spec's settings for the transform's Kafka Streams application. */
    public static Map<String, Object> streamsOverrides(Spec spec) {
        return merged(spec.kafka().client(), spec.kafka().streams());
    }

    /** The spec's settings for Debezium: its Kafka offset store takes the client settings too. */
    public static Map<String, String> debeziumOverrides(Spec spec) {
        Map<String, String> props = new HashMap<>();
        merged(spec.kafka().client(), spec.debezium()).forEach((k, v) -> props.put(k, v == null ? null : v.toString()));
        return props;
    }

    /**
     * An admin client for {@code bootstrap} with the spec's {@code kafka.client} settings and {@code settings} on top,
     * that has reached the cluster: a TCP connection to one of the bootstrap addresses, then the cluster's
     * description, within {@code timeout}. Fails fast where a bare client would retry for a minute and log a warning
     * per attempt.
     *
     * @throws KafkaUnreachableException naming the setting the address came from ({@code kafka.bootstrap}, or a
     *     command's {@code --bootstrap}), the address, why, and the fix
     */
    public static Admin connectedAdmin(Spec spec, String bootstrap, Map<String, Object> settings, Duration timeout) {
        Map<String, Object> props = common(spec, bootstrap);
        props.putAll(settings);
        String setting = bootstrap.equals(spec.kafka().bootstrap()) ? "kafka.bootstrap" : "--bootstrap";
        Optional<String> refused = refusedConnections(bootstrap, timeout);
        if (refused.isPresent()) {
            throw unreachable(setting, bootstrap, refused.get(), null);
        }
        Admin admin;
        try {
            admin = Admin.create(props);
        } catch (RuntimeException e) {
            throw unreachable(setting, bootstrap, "the client settings are refused: " + e.getMessage()
                    + (e.getCause() == null ? "" : " (" + e.getCause().getMessage() + ")"), e);
        }
        try {
            DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()));
            cluster.clusterId().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            return admin;
        } catch (InterruptedException e) {
            admin.close(Duration.ZERO);
            Thread.currentThread().interrupt();
            throw unreachable(setting, bootstrap, "interrupted while connecting", e);
        } catch (ExecutionException | TimeoutException e) {
            admin.close(Duration.ZERO);
            // A broker took the connection but the client got no answer: most often TLS or SASL settings that do
            // not match the listener (security.protocol PLAINTEXT against an SSL port hangs until the timeout).
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw unreachable(setting, bootstrap, "no answer within " + timeout.toSeconds() + " s (" + cause.getClass().getSimpleName()
                    + (cause.getMessage() == null ? "" : ": " + cause.getMessage()) + "; does kafka.client's "
                    + "security.protocol match the listener?)", cause);
        }
    }

    /**
     * Whether a broker listens at {@code bootstrap} ({@code host:port[,...]}): empty as soon as one address takes a
     * TCP connection within {@code timeout} (at most 5 s each), else why not, per address.
     */
    public static Optional<String> refusedConnections(String bootstrap, Duration timeout) {
        List<String> refused = new ArrayList<>();
        int perAddress = (int) Math.max(1, Math.min(timeout.toMillis(), 5_000));
        for (String address : bootstrap.split(",")) {
            String trimmed = address.trim();
            int colon = trimmed.lastIndexOf(':');
            if (colon <= 0) {
                refused.add(trimmed + ": not host:port");
                continue;
            }
            String host = trimmed.substring(0, colon).replaceAll("^\\[|\\]$", "");
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, Integer.parseInt(trimmed.substring(colon + 1))), perAddress);
                return Optional.empty();
            } catch (IOException | IllegalArgumentException e) {
                refused.add(trimmed + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
            }
        }
        return Optional.of("no broker accepts connections (" + String.join("; ", refused) + ")");
    }

    private static KafkaUnreachableException unreachable(String setting, String bootstrap, String why, Throwable cause) {
        return new KafkaUnreachableException(setting + ": cannot use Kafka at " + bootstrap + ": " + why + "; fix: check "
                + setting + " and kafka.client (security.protocol, sasl.*, ssl.*) in the spec, and that the brokers"
                + " accept connections from here", cause);
    }

    private static Map<String, Object> merged(Map<String, Object> first, Map<String, Object> then) {
        Map<String, Object> props = new HashMap<>(first);
        props.putAll(then);
        return props;
    }
}
