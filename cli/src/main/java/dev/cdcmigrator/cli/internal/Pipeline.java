package dev.cdcmigrator.cli.internal;

import dev.cdcmigrator.backfill.CopyBackfill;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.common.spec.BackfillSpec;
import dev.cdcmigrator.common.spec.JdbcUrl;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.TopicProvisioner;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.embedded.EmbeddedKafkaBroker;
import dev.cdcmigrator.sink.Sink;
import dev.cdcmigrator.transform.ColumnReads;
import dev.cdcmigrator.transform.Transform;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stages of the migration in this process: all three (around the in-process broker when the spec says
 * {@code kafka.bootstrap: embedded}), or some of them against an external Kafka (separate services). Stages start
 * downstream first and stop upstream first, so no stage produces into one that is not running.
 */
public final class Pipeline implements AutoCloseable {

    private static final Logger LOGGER = LoggerFactory.getLogger(Pipeline.class);
    private static final Duration KAFKA_CONNECT_TIMEOUT = Duration.ofSeconds(15);

    /** A stage this process can run. */
    public enum Stage { CAPTURE, TRANSFORM, SINK }

    private final EmbeddedKafkaBroker broker;
    /** Where the embedded broker's address is, for the operator commands, while it runs; null without one. */
    private final Path addressFile;
    private final String bootstrapServers;
    /** Started stages, downstream first. */
    private final List<RunningStage> stages = new ArrayList<>();
    private LagMonitor monitor;

    private Pipeline(EmbeddedKafkaBroker broker, Path addressFile, String bootstrapServers) {
        this.broker = broker;
        this.addressFile = addressFile;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * The file in {@code dataDir} that holds the embedded broker's {@code host:port} while a pipeline with one runs
     * there: how {@code status}, {@code cutover wait} and {@code dlq} find it without {@code --bootstrap}.
     */
    public static Path embeddedAddressFile(Path dataDir) {
        return dataDir.resolve("kafka.address");
    }

    /** Starts every stage; see {@link #start(Spec, Path, int, MeterRegistry, Set)}. */
    public static Pipeline start(Spec spec, Path dataDir, int embeddedKafkaPort, MeterRegistry registry) {
        return start(spec, dataDir, embeddedKafkaPort, registry, EnumSet.allOf(Stage.class));
    }

    /**
     * Starts the given stages.
     *
     * @param spec the migration spec
     * @param dataDir where the embedded broker and the transform's local state live
     * @param embeddedKafkaPort client port of the embedded broker (0 for any free port)
     * @param registry receives every stage's meters
     * @param which the stages to run here; fewer than all needs an external Kafka, which other processes share
     */
    public static Pipeline start(Spec spec, Path dataDir, int embeddedKafkaPort, MeterRegistry registry, Set<Stage> which) {
        if (spec.kafka().embedded() && !which.containsAll(EnumSet.allOf(Stage.class))) {
            throw new IllegalArgumentException("a single stage needs an external Kafka that the other stages share: set"
                    + " kafka.bootstrap to host:port (kafka.bootstrap: embedded is for migrator run, all stages in one process)");
        }
        EmbeddedKafkaBroker broker = spec.kafka().embedded() ? EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), embeddedKafkaPort) : null;
        Pipeline pipeline = new Pipeline(broker, broker != null ? embeddedAddressFile(dataDir) : null,
                broker != null ? broker.bootstrapServers() : spec.kafka().bootstrap());
        try {
            if (broker != null) {
                Files.writeString(pipeline.addressFile, broker.bootstrapServers() + "\n");
            }
            // Before any stage: a Kafka that does not answer is one line naming the setting within seconds.
            try (Admin admin = KafkaClients.connectedAdmin(spec, pipeline.bootstrapServers, Map.of(), KAFKA_CONNECT_TIMEOUT)) {
                TopicProvisioner.createMissing(admin, spec);
            }
            if (which.contains(Stage.SINK)) {
                pipeline.stages.add(RunningStage.of(Sink.start(spec, pipeline.bootstrapServers, registry, Map.of())));
            }
            if (which.contains(Stage.TRANSFORM)) {
                pipeline.stages.add(RunningStage.of(Transform.start(spec, pipeline.bootstrapServers, dataDir.resolve("streams"),
                        registry, Map.of())));
            }
            if (which.contains(Stage.CAPTURE)) {
                pipeline.stages.add(spec.backfill().mode() == BackfillSpec.Mode.COPY
                        ? RunningStage.of(CopyBackfill.start(spec, pipeline.bootstrapServers, registry, Map.of(), Map.of()))
                        : RunningStage.of(Capture.start(spec, ColumnReads.captured(spec), pipeline.bootstrapServers, registry, Map.of(), Map.of())));
            }
            pipeline.stages.forEach(stage -> registerStageMeters(registry, stage));
            pipeline.monitor = LagMonitor.start(spec, pipeline.bootstrapServers, registry);
            LOGGER.info("pipeline started stages={} kafka={} source={} target={}", which, pipeline.bootstrapServers,
                    JdbcUrl.shown(spec.source().url()), JdbcUrl.shown(spec.target().url()));
            return pipeline;
        } catch (IOException e) {
            pipeline.close();
            throw new UncheckedIOException("cannot write " + pipeline.addressFile + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            pipeline.close();
            throw e;
        }
    }

    /** The Kafka the stages use. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** Whether every stage here is up and working. */
    public boolean running() {
        return stages.stream().allMatch(RunningStage::running);
    }

    /**
     * Empty when every stage runs ({@link #running()}); otherwise what is not ready, naming the stage: the failed
     * stage and why ({@link #failure()}), or each stage still starting. What {@code GET /ready} answers.
     */
    public Optional<String> notReady() {
        Optional<String> failed = failure();
        if (failed.isPresent()) {
            return Optional.of("failed: " + failed.get());
        }
        List<String> waiting = stages.stream().filter(s -> !s.running())
                .map(s -> s.name() + " is not running yet (" + s.starting() + ")").toList();
        return waiting.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", waiting));
    }

    /** The first stage, upstream first, that stopped by itself and why, if any did. */
    public Optional<String> failure() {
        for (int i = stages.size() - 1; i >= 0; i--) {
            RunningStage stage = stages.get(i);
            Optional<String> failed = stage.failure();
            if (failed.isPresent()) {
                return Optional.of(stage.name() + ": " + failed.get());
            }
        }
        return Optional.empty();
    }

    /** {@code migrator.stage.running} per stage, and stage failures (the sink counts its own, with retries). */
    private static void registerStageMeters(MeterRegistry registry, RunningStage stage) {
        Gauge.builder("migrator.stage.running", stage, s -> s.running() ? 1 : 0)
                .description("1 while the stage is up and working, 0 while it starts, after it failed or once stopped")
                .tag("stage", stage.name())
                .strongReference(true)
                .register(registry);
        if (stage.name().equals("sink")) {
            return;
        }
        // A stage's failure counts once, from when it is first seen, whatever the stage does after. Micrometer holds
        // the counted object weakly: that is the stage, which this pipeline holds; the flag lives in the function.
        AtomicBoolean failed = new AtomicBoolean();
        FunctionCounter.builder("migrator.stage.errors", stage, s -> {
                    if (!failed.get() && s.failure().isPresent()) {
                        failed.set(true);
                    }
                    return failed.get() ? 1 : 0;
                })
                .description("Errors a stage met: retried (the stage waits and tries again) or failed (the stage stopped)")
                .baseUnit("errors")
                .tag("stage", stage.name())
                .tag("outcome", "failed")
                .register(registry);
    }

    @Override
    public void close() {
        Duration timeout = Duration.ofSeconds(30);
        // Each stage is closed even if an earlier one fails to: a stage left open keeps threads and connections.
        closeQuietly("lag monitor", monitor == null ? null : monitor::close);
        for (int i = stages.size() - 1; i >= 0; i--) {
            RunningStage stage = stages.get(i);
            closeQuietly(stage.name(), () -> stage.close(timeout));
        }
        closeQuietly("embedded broker", broker == null ? null : () -> {
            broker.close();
            try {
                Files.deleteIfExists(addressFile);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        LOGGER.info("pipeline stopped");
    }

    private static void closeQuietly(String what, Runnable close) {
        if (close == null) {
            return;
        }
        try {
            close.run();
        } catch (RuntimeException e) {
            LOGGER.error("closing the {} failed; going on with the rest", what, e);
        }
    }
}
