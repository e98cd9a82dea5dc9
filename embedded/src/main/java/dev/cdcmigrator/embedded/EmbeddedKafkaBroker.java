package dev.cdcmigrator.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.properties.MetaProperties;
import org.apache.kafka.metadata.properties.MetaPropertiesEnsemble;
import org.apache.kafka.metadata.properties.PropertiesUtils;
import org.apache.kafka.metadata.storage.Formatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node KRaft broker+controller in this JVM; every listener on 127.0.0.1.
 *
 * <p>The server is Kafka's own {@link KafkaRaftServer}, so it behaves like a standalone broker in every respect,
 * including this one: a fatal internal fault (for example a corrupt metadata log) halts the JVM, as it would halt a
 * broker process. The data directory is locked while the broker runs, so a second broker (in this or another process)
 * on the same directory fails fast instead of tripping such a fault.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    /**
     * The largest record batch the broker accepts ({@code message.max.bytes}): room for a 16 MiB record plus its key,
     * headers and batch overhead. Producers of such records need {@code max.request.size} of at least this much.
     */
    public static final int MAX_MESSAGE_BYTES = 20 * 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

    private static final int NODE_ID = 1;
    private static final String HOST = "127.0.0.1";
    private static final String CLIENT_LISTENER = "PLAINTEXT";
    private static final String CONTROLLER_LISTENER = "CONTROLLER";
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    /** Kafka's own log directory inside dataDir; Kafka rejects foreign sub-directories in a log dir, so keep it apart. */
    private static final String LOG_DIR_NAME = "kraft";
    private static final String LOCK_FILE_NAME = "embedded-kafka.lock";

    private final Path dataDir;
    private final int port;
    private final KafkaRaftServer server;
    private final FileChannel lockChannel;
    private boolean closed;

    private EmbeddedKafkaBroker(Path dataDir, int port, KafkaRaftServer server, FileChannel lockChannel) {
        this.dataDir = dataDir;
        this.port = port;
        this.server = server;
        this.lockChannel = lockChannel;
    }

    /**
     * Starts a broker whose data lives in {@code dataDir} (formatted on first use only, so a restart with the same dir
     * keeps all topics, offsets and transactions). Blocks until the broker accepts client requests.
     *
     * @param dataDir directory owned by this broker; created if missing
     * @param port    client listener port on 127.0.0.1, or 0 to pick a free one
     * @return the running broker; close it to stop it
     * @throws IllegalStateException if the directory is in use, the port is taken, or the broker does not serve
     *                               clients within 60 s
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int port) {
        return start(dataDir, port, List.of());
    }

    /**
     * A listener beside the plaintext one, for example one that takes SASL_SSL only: a client that is given only its
     * address connects through it alone (the broker advertises, per listener, that listener's address).
     *
     * @param name     the listener's name, e.g. {@code SECURE}
     * @param protocol its security protocol, e.g. {@code SASL_SSL}
     * @param port     its port on 127.0.0.1 (bind it free first)
     * @param settings broker settings for it, e.g. {@code listener.name.secure.ssl.keystore.location},
     *                 {@code sasl.enabled.mechanisms}
     */
    public record Listener(String name, String protocol, int port, Map<String, String> settings) {

        /** {@code 127.0.0.1:<port>}. */
        public String bootstrapServers() {
            return HOST + ":" + port;
        }
    }

    /** As {@link #start(Path, int)}, with {@code listeners} beside the plaintext client listener. */
    public static EmbeddedKafkaBroker start(Path dataDir, int port, List<Listener> listeners) {
        return start(dataDir, port, listeners, Map.of());
    }

    /**
     * As {@link #start(Path, int, List)}, with broker-wide {@code settings} over this class's own, for example an
     * authorizer ({@code authorizer.class.name}, {@code super.users}, {@code allow.everyone.if.no.acl.found}).
     *
     * <p>The plaintext client listener and the controller listener authenticate no one: on them the broker itself
     * (inter-broker and controller requests, and the start-up probe) is {@code User:ANONYMOUS}. Under an authorizer
     * that principal must therefore be a super user, or the broker cannot talk to its own controller; give clients
     * only the address of a listener that authenticates them.
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int port, List<Listener> listeners, Map<String, String> settings) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, was " + port);
        }
        Path dir = dataDir.toAbsolutePath().normalize();
        Path logDir = dir.resolve(LOG_DIR_NAME);
        FileChannel lockChannel = lockDataDir(dir);
        KafkaRaftServer server = null;
        boolean started = false;
        try {
            String clusterId = formatIfNew(logDir);
            int[] ports = choosePorts(port);
            int clientPort = ports[0];
            int controllerPort = ports[1];
            long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();

            server = new KafkaRaftServer(new KafkaConfig(config(logDir, clientPort, controllerPort, listeners, settings), false),
                    Time.SYSTEM);
            server.startup();
            EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(dir, clientPort, server, lockChannel);
            awaitClientRequests(broker.bootstrapServers(), deadline);
            LOG.info("Embedded Kafka broker serving {} (controller on {}:{}, cluster {}, data in {})",
                    broker.bootstrapServers(), HOST, controllerPort, clusterId, logDir);
            started = true;
            return broker;
        } catch (IllegalStateException | UncheckedIOException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalStateException("Embedded Kafka broker in " + dir + " failed to start: " + e.getMessage(), e);
        } finally {
            if (!started) {
                if (server != null) {
                    stopQuietly(server);
                }
                closeQuietly(lockChannel);
            }
        }
    }

    /** @return {@code "127.0.0.1:<port>"}, the client listener as advertised to clients */
    public String bootstrapServers() {
        return HOST + ":" + port;
    }

    /** @return the client listener port (the one actually bound when 0 was requested) */
    public int port() {
        return port;
    }

    /** @return the data directory given to {@link #start}, as an absolute path */
    public Path dataDir() {
        return dataDir;
    }

    /** Stops the broker and waits for shutdown (idempotent). The data dir is kept. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            server.shutdown();
            server.awaitShutdown();
            LOG.info("Embedded Kafka broker on {} stopped", bootstrapServers());
        } finally {
            closeQuietly(lockChannel);
        }
    }

    private static Map<String, String> config(Path logDir, int clientPort, int controllerPort, List<Listener> extra,
                                              Map<String, String> settings) {
        Map<String, String> props = new HashMap<>();
        props.put("process.roles", "broker,controller");
        props.put("node.id", String.valueOf(NODE_ID));
        // A static voter set (kraft.version 0) lives in config only, so a new controller port on every start is fine;
        // a dynamic quorum would persist the controller endpoint in the metadata log.
        props.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
        props.put("controller.listener.names", CONTROLLER_LISTENER);
        StringBuilder listeners = new StringBuilder(CLIENT_LISTENER + "://" + HOST + ":" + clientPort + ","
                + CONTROLLER_LISTENER + "://" + HOST + ":" + controllerPort);
        StringBuilder advertised = new StringBuilder(CLIENT_LISTENER + "://" + HOST + ":" + clientPort);
        StringBuilder protocols = new StringBuilder(CLIENT_LISTENER + ":PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT");
        for (Listener listener : extra) {
            String address = listener.name() + "://" + listener.bootstrapServers();
            listeners.append(',').append(address);
            advertised.append(',').append(address);
            protocols.append(',').append(listener.name()).append(':').append(listener.protocol());
        }
        props.put("listeners", listeners.toString());
        props.put("advertised.listeners", advertised.toString());
        props.put("listener.security.protocol.map", protocols.toString());
        props.put("inter.broker.listener.name", CLIENT_LISTENER);
        props.put("log.dirs", logDir.toString());
        props.put("metadata.log.dir", logDir.toString());
        props.put("server.max.startup.time.ms", String.valueOf(STARTUP_TIMEOUT.toMillis()));

        // One replica of everything, internal topics included, or their creation waits forever for more brokers.
        props.put("num.partitions", "1");
        props.put("default.replication.factor", "1");
        props.put("min.insync.replicas", "1");
        props.put("auto.create.topics.enable", "true");
        props.put("offsets.topic.replication.factor", "1");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        // The defaults of 50 partitions per internal topic cost startup time and file handles for no gain on one node.
        props.put("offsets.topic.num.partitions", "1");
        props.put("transaction.state.log.num.partitions", "1");
        props.put("share.coordinator.state.topic.num.partitions", "1");
        props.put("group.initial.rebalance.delay.ms", "0");

        props.put("message.max.bytes", String.valueOf(MAX_MESSAGE_BYTES));

        // A migration may be paused (broker stopped) for longer than Kafka's 7-day defaults; unconsumed change events
        // and committed offsets must survive that. Topics that want retention set it themselves.
        props.put("log.retention.ms", "-1");
        props.put("offsets.retention.minutes", String.valueOf(Integer.MAX_VALUE));

        // Sized for a 2-core machine shared with the rest of the migrator; the 128 MiB cleaner buffer default is
        // meant for a dedicated broker.
        props.put("num.network.threads", "2");
        props.put("num.io.threads", "4");
        props.put("background.threads", "4");
        props.put("log.cleaner.threads", "1");
        props.put("log.cleaner.dedupe.buffer.size", String.valueOf(16L * 1024 * 1024));
        extra.forEach(listener -> props.putAll(listener.settings()));
        props.putAll(settings);
        return props;
    }

    /** @return the cluster id found in, or written to, the storage in logDir */
    private static String formatIfNew(Path logDir) {
        Path metaProperties = logDir.resolve(MetaPropertiesEnsemble.META_PROPERTIES_NAME);
        if (Files.exists(metaProperties)) {
            return readClusterId(metaProperties);
        }
        String clusterId = Uuid.randomUuid().toString();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        try {
            new Formatter()
                    .setPrintStream(new PrintStream(output, true, StandardCharsets.UTF_8))
                    .setNodeId(NODE_ID)
                    .setClusterId(clusterId)
                    .setControllerListenerName(CONTROLLER_LISTENER)
                    .addDirectory(logDir.toString())
                    .setMetadataLogDirectory(logDir.toString())
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("Could not format Kafka storage in " + logDir + ": " + e.getMessage(), e);
        }
        LOG.debug("Kafka storage formatter output:\n{}", output.toString(StandardCharsets.UTF_8));
        LOG.info("Formatted new Kafka storage in {} (cluster {})", logDir, clusterId);
        return clusterId;
    }

    private static String readClusterId(Path metaProperties) {
        try {
            return new MetaProperties.Builder(PropertiesUtils.readPropertiesFile(metaProperties.toString()))
                    .clusterId()
                    .orElse("unknown");
        } catch (IOException e) {
            throw new UncheckedIOException("Could not read " + metaProperties, e);
        }
    }

    private static FileChannel lockDataDir(Path dir) {
        Path lockFile = dir.resolve(LOCK_FILE_NAME);
        FileChannel channel = null;
        try {
            Files.createDirectories(dir);
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                throw new OverlappingFileLockException();
            }
            return channel;
        } catch (OverlappingFileLockException e) {
            closeQuietly(channel);
            throw new IllegalStateException("Kafka data directory " + dir + " is in use by another embedded broker", e);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("Could not lock Kafka data directory " + dir, e);
        }
    }

    /**
     * Binds both ports together so they differ and the client port is known to be free; Kafka binds them again
     * moments later. The controller port must be fixed up front because the static voter config names it.
     *
     * @return {client port, controller port}
     */
    private static int[] choosePorts(int clientPort) {
        InetAddress loopback;
        try {
            loopback = InetAddress.getByName(HOST);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (ServerSocket client = new ServerSocket(clientPort, 1, loopback);
             ServerSocket controller = new ServerSocket(0, 1, loopback)) {
            return new int[] {client.getLocalPort(), controller.getLocalPort()};
        } catch (BindException e) {
            throw new IllegalStateException("Port " + HOST + ":" + clientPort + " is already in use", e);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not pick ports on " + HOST, e);
        }
    }

    private static void awaitClientRequests(String bootstrapServers, long deadlineNanos) {
        int remainingMs = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
        Map<String, Object> adminConfig = Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, remainingMs,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(remainingMs, 10_000));
        try (Admin admin = Admin.create(adminConfig)) {
            // The admin client retries internally until its API timeout, so one call covers the whole deadline.
            admin.describeCluster().nodes().get(remainingMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("Embedded Kafka broker on " + bootstrapServers
                    + " did not accept client requests within " + STARTUP_TIMEOUT.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for the embedded Kafka broker to start", e);
        }
    }

    private static void stopQuietly(KafkaRaftServer server) {
        try {
            server.shutdown();
            server.awaitShutdown();
        } catch (RuntimeException e) {
            LOG.warn("Could not stop the embedded Kafka broker after a failed start", e);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) {
            return;
        }
        try {
            // Closing the channel releases its lock.
            channel.close();
        } catch (IOException e) {
            LOG.warn("Could not release the embedded Kafka data directory lock", e);
        }
    }
}
