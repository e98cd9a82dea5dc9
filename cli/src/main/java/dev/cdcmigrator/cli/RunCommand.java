package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.HttpEndpoints;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.cli.internal.PrometheusMetrics;
import dev.cdcmigrator.cli.internal.Shutdown;
import java.time.Duration;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.EffectiveConfiguration;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.cutover.Finding;
import dev.cdcmigrator.cutover.Preflight;
import dev.cdcmigrator.cutover.ReverseCheck;
import dev.cdcmigrator.transform.TransformTopology;
import java.io.PrintWriter;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code migrator run}: the whole pipeline in one process until SIGTERM or Ctrl-C. */
@Command(name = "run", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Run capture, transform and sink in one process until stopped (SIGTERM or Ctrl-C:"
        + " each stage finishes its batch and commits; a second signal stops at once).")
class RunCommand implements Callable<Integer> {

    private static final Logger LOGGER = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
    Path spec;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = ".migrator",
            description = "Where the embedded broker and the transform keep their data; a restart resumes from it (default: ${DEFAULT-VALUE};"
                    + " .migrator-reverse with --reverse).")
    Path dataDir;

    @Option(names = "--kafka-port", paramLabel = "PORT", defaultValue = "0",
            description = "Client port of the embedded broker when the spec says kafka.bootstrap: embedded (default: any free port).")
    int kafkaPort;

    @Option(names = "--no-check", description = "Start without the preflight checks of `migrator check` (e.g. to resume while"
            + " v1 still shows the previous run's replication slot as active).")
    boolean noCheck;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "" + HttpEndpoints.DEFAULT_PORT,
            description = "Port of /metrics (Prometheus), /health and /ready (default: ${DEFAULT-VALUE}; 0 for any free port).")
    int httpPort;

    @Option(names = "--http-host", paramLabel = "ADDRESS", defaultValue = HttpEndpoints.DEFAULT_HOST,
            description = "Address the HTTP endpoints listen on (default: ${DEFAULT-VALUE}, this host only; 0.0.0.0 in a container).")
    String httpHost;

    @Option(names = "--stop-timeout", paramLabel = "DURATION", defaultValue = "PT60S",
            description = "On SIGTERM or Ctrl-C, how long the stages may take to finish their batches and commit before the"
                    + " process stops anyway (exit 130 after Ctrl-C, 143 after SIGTERM); a second signal stops at once"
                    + " (default: ${DEFAULT-VALUE}).")
    Duration stopTimeout;

    @picocli.CommandLine.Mixin
    Direction direction;

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.SELF)
    picocli.CommandLine.Model.CommandSpec command;

    /** The stages this command runs; `run` runs them all. */
    Set<Pipeline.Stage> stages() {
        return EnumSet.allOf(Pipeline.Stage.class);
    }

    @Override
    public Integer call() throws InterruptedException {
        // Every stage works from explicit tables and named columns, resolved once, here, as check resolves them.
        Spec forward = Direction.resolved(spec);
        Spec parsed = direction.of(forward);
        if (parsed.kafka().embedded() && !stages().containsAll(EnumSet.allOf(Pipeline.Stage.class))) {
            throw new ParameterException(command.commandLine(), spec + ": a single stage needs an external Kafka that the"
                    + " other stages share: set kafka.bootstrap to host:port (embedded is for migrator run, all stages in one process)");
        }
        try {
            TransformTopology.validate(parsed);
        } catch (SpecException e) {
            throw e.in(spec.toString());
        }
        LOGGER.info("effective configuration stages={} spec={}", stages(), EffectiveConfiguration.of(parsed));
        if (!noCheck) {
            List<Finding> problems = (direction.reverse ? ReverseCheck.check(forward) : Preflight.check(parsed)).stream().filter(f -> f.level() != Finding.Level.OK).toList();
            if (problems.stream().anyMatch(f -> f.level() == Finding.Level.ERROR)) {
                PrintWriter err = command.commandLine().getErr();
                problems.forEach(err::println);
                err.println("run: not started; fix every ERROR above (migrator check --spec " + spec
                        + (direction.reverse ? " --reverse" : "") + " shows them all)");
                err.flush();
                return ExitCodes.FAILED;
            }
            problems.forEach(f -> LOGGER.warn("preflight: {}", f));
        }
        PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
        AtomicReference<Pipeline> started = new AtomicReference<>();
        HttpEndpoints http = startHttp(registry, () -> started.get() == null
                ? Optional.of("the pipeline is starting (Kafka, topics, stages)") : started.get().notReady());
        Pipeline pipeline;
        try {
            pipeline = Pipeline.start(parsed, Direction.dataDir(parsed, dataDir, command.commandLine()), kafkaPort, registry, stages());
        } catch (RuntimeException e) {
            http.close();
            throw e;
        }
        started.set(pipeline);
        Shutdown shutdown = Shutdown.onSignals(stopTimeout);
        try (http; pipeline) {
            while (!shutdown.awaitRequest(Duration.ofSeconds(1))) {
                Optional<String> failure = pipeline.failure();
                if (failure.isPresent()) {
                    throw new StageFailedException(failure.get());
                }
            }
            LOGGER.info("stopping: every stage finishes its batch in flight and commits");
        } finally {
            registry.close();
        }
        return ExitCodes.OK;
    }

    private HttpEndpoints startHttp(PrometheusMeterRegistry registry, java.util.function.Supplier<Optional<String>> notReady) {
        try {
            HttpEndpoints http = HttpEndpoints.start(httpHost, httpPort, registry, notReady);
            PrintWriter out = command.commandLine().getOut();
            out.println("metrics: " + http.url("/metrics") + "  (also /health, /ready)");
            out.flush();
            return http;
        } catch (IOException | RuntimeException e) {
            throw new ParameterException(command.commandLine(), "--http-host " + httpHost + " --http-port " + httpPort
                    + ": cannot listen there (" + e.getMessage() + "); choose a free port, or 0 for any");
        }
    }
}
