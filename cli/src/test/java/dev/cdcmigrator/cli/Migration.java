package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.awaitility.core.ThrowingRunnable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One migration under test, from a fresh v1 to a fresh v2 database through the shared Kafka: what an IT of the whole
 * pipeline sets up and tears down, so that the IT holds only its schemas, its spec's tables and its assertions.
 *
 * <p>Register it on an instance field, {@code @RegisterExtension final Migration migration = new Migration("stem");}:
 * JUnit makes a test instance per test method, so every test gets its own two databases ({@code stem_v1_…},
 * {@code stem_v2_…}, created empty on {@linkplain TestPostgres#shared() the shared server} when the field is
 * initialised) and its own topic prefix ({@code stem_…}). After each test, it stops the pipelines it started (if still
 * running) and drops their replication slots (on v1, or on v2 for a way back) once their readers have let go.
 *
 * <p>The awaits poll until v1 and v2 agree or a deadline passes (never a sleep); every poll also asserts that the
 * pipelines it started have not failed, so that a timeout names a failure rather than only the rows that differ.
 */
final class Migration implements AfterEachCallback {

    /** Long enough for a snapshot and a Kafka Streams rebalance on a busy 2-core machine. */
    static final Duration DEADLINE = Duration.ofMinutes(3);
    private static final Duration POLL = Duration.ofMillis(500);

    private final PostgresServer pg = TestPostgres.shared();
    private final String v1;
    private final String v2;
    private final String topicPrefix;
    private Path dir;
    private Path specFile;
    private Spec spec;
    private final List<Pipeline> pipelines = new ArrayList<>();
    /** The replication slots of the pipelines started, each with the database it is in. */
    private final Map<String, String> slots = new LinkedHashMap<>();

    /**
     * Creates the two empty databases.
     *
     * @param stem lower-case letters, digits and underscores: the databases' and the topics' prefix; at most 27
     *     characters (a topic prefix takes 40, and a 13-character suffix keeps it unique), 19 for a migration with a
     *     way back (whose prefix adds {@code _reverse})
     */
    Migration(String stem) {
        v1 = pg.createDatabase(stem + "_v1");
        v2 = pg.createDatabase(stem + "_v2");
        topicPrefix = stem + "_" + v1.substring(v1.lastIndexOf('_') + 1);
    }

    /** @return the prefix of this migration's topics, its replication slot's name too */
    String topicPrefix() {
        return topicPrefix;
    }

    /** @return the shared server both databases are on */
    PostgresServer pg() {
        return pg;
    }

    /** @return the name of the source database */
    String v1() {
        return v1;
    }

    /** @return the name of the target database */
    String v2() {
        return v2;
    }

    /**
     * Writes {@code spec.yaml} into {@code dir}: v1 as source, v2 as target (as the server's superuser), the shared
     * Kafka with this migration's topic prefix, then {@code rest}. {@code dir} also holds the pipeline's data.
     *
     * @param dir a directory of the test's own, e.g. a {@code @TempDir}
     * @param kafkaOptions more entries of the {@code kafka:} map, e.g. {@code "partitions: 3"}, or {@code ""}
     * @param rest the spec's other top-level entries, {@code tables:} among them
     * @return the file written
     */
    Path writeSpec(Path dir, String kafkaOptions, String rest) throws IOException {
        return writeSpec(dir, "", "", kafkaOptions, rest);
    }

    /**
     * Writes {@code spec.yaml} as {@link #writeSpec(Path, String, String)} does, with more entries of the
     * {@code source:} and {@code target:} maps, e.g. {@code "schema: app"}, or {@code ""}.
     */
    Path writeSpec(Path dir, String sourceOptions, String targetOptions, String kafkaOptions, String rest)
            throws IOException {
        String yaml = """
                version: 1
                source: { url: "%s", user: "%s", password: "%s"%s }
                target: { url: "%s", user: "%s", password: "%s"%s }
                kafka: { bootstrap: "%s", topicPrefix: %s%s }
                %s""".formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), more(sourceOptions), pg.jdbcUrl(v2),
                pg.user(), pg.password(), more(targetOptions), TestKafka.bootstrapServers(), topicPrefix,
                more(kafkaOptions), rest);
        this.dir = dir;
        specFile = Files.writeString(dir.resolve("spec.yaml"), yaml);
        spec = null;
        return specFile;
    }

    private static String more(String options) {
        return options.isEmpty() ? "" : ", " + options;
    }

    /** @return the spec last written, parsed as {@code run} parses it */
    Spec spec() {
        if (spec == null) {
            spec = new SpecParser().parse(specFile);
        }
        return spec;
    }

    /** Starts the pipeline of the spec last written. */
    Pipeline start() {
        return start(spec());
    }

    /**
     * Starts a pipeline of {@code resolved} (the written spec as a tool resolves it, e.g. with its copied columns),
     * all stages, with the data directory {@code data} beside the spec and a meter registry of its own.
     */
    Pipeline start(Spec resolved) {
        return start(resolved, "data", new SimpleMeterRegistry(), EnumSet.allOf(Pipeline.Stage.class));
    }

    /** Starts the pipeline of the spec last written, with its meters in {@code registry}. */
    Pipeline start(MeterRegistry registry) {
        return start(spec(), "data", registry);
    }

    /**
     * Starts one more pipeline of {@code resolved}, all stages, e.g. the way back ({@code Reversal.inverse}) beside the
     * way there, with the data directory {@code data} beside the spec and its meters in {@code registry}.
     */
    Pipeline start(Spec resolved, String data, MeterRegistry registry) {
        return start(resolved, data, registry, EnumSet.allOf(Pipeline.Stage.class));
    }

    /**
     * Starts one more pipeline of {@code resolved}, running only {@code stages} (as separate processes would, sharing
     * the Kafka), with the data directory {@code data} beside the spec and its meters in {@code registry}.
     */
    Pipeline start(Spec resolved, String data, MeterRegistry registry, Set<Pipeline.Stage> stages) {
        Pipeline started = Pipeline.start(resolved, dir.resolve(data), 0, registry, stages);
        pipelines.add(started);
        slots.put(new Topics(resolved).slot(), resolved.source().url().equals(pg.jdbcUrl(v2)) ? v2 : v1);
        return started;
    }

    /** Stops every pipeline started, the last first, e.g. to change v2 behind their back; their slots stay. */
    void stop() {
        for (int i = pipelines.size() - 1; i >= 0; i--) {
            pipelines.remove(i).close();
        }
    }

    /** Awaits, within {@link #DEADLINE}, that {@code query} returns the same rows, in order, on v2 as on v1. */
    void awaitTablesEqual(String query) {
        awaitTablesEqual(query, query);
    }

    /** Awaits, within {@link #DEADLINE}, that {@code v2Query} on v2 returns the rows {@code v1Query} returns on v1. */
    void awaitTablesEqual(String v2Query, String v1Query) {
        awaitAsserted(DEADLINE, () -> assertTablesEqual(v2Query, v1Query));
    }

    /** Asserts, once, that {@code v2Query} on v2 returns the rows {@code v1Query} returns on v1, in order. */
    void assertTablesEqual(String v2Query, String v1Query) {
        assertThat(pg.rows(v2, v2Query)).as(v2Query).isEqualTo(pg.rows(v1, v1Query));
    }

    /** Awaits, within {@code atMost}, that no running pipeline has failed and {@code assertion} holds. */
    void awaitAsserted(Duration atMost, ThrowingRunnable assertion) {
        if (pipelines.isEmpty()) {
            throw new IllegalStateException("no pipeline of this migration is running");
        }
        List<Pipeline> running = List.copyOf(pipelines);
        await().atMost(atMost).pollInterval(POLL).untilAsserted(() -> {
            running.forEach(p -> assertThat(p.failure()).isEmpty());
            assertion.run();
        });
    }

    @Override
    public void afterEach(ExtensionContext context) {
        stop();
        slots.forEach((slot, database) -> pg.dropSlotOnceReleased(database, slot));
    }
}
