package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.testkit.KafkaAclScript;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.SecuredKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * docs/security.md's "Kafka ACLs" are enough, with Kafka's own authorizer: a broker that denies whatever no ACL allows
 * ({@code StandardAuthorizer}, {@code allow.everyone.if.no.acl.found=false}) gets exactly the ACLs of that section,
 * read from its {@code kafka-acls.sh} lines (so the test fails when the text goes wrong), for one principal per stage
 * and one for the operator commands. Capture, transform and sink then run each as its own principal, with a spec that
 * differs only in {@code kafka.client}'s login, as {@code migrator capture|transform|sink} start them; the operator runs
 * {@code status}, {@code cutover wait}, {@code dlq list}, {@code dlq replay} and {@code cleanup --kafka}. None of them
 * may meet an authorization error; {@code check} passes as a principal without any ACL; a principal without the ACLs
 * (the sink's, running capture) must be refused with one line naming the resource.
 */
class KafkaAclsIT {

    private static final String ITEMS = "SELECT id, name, status FROM items ORDER BY id";
    private static final Duration AWAIT = Duration.ofMinutes(3);
    private static final String AUTHORIZATION = "authorization errors logged by the stages";
    /** The principals as the section names them ($CAPTURE, ...), and the users they log in as. */
    private static final Map<String, String> PRINCIPALS = new LinkedHashMap<>(Map.of(
            "CAPTURE", "migrator-capture", "TRANSFORM", "migrator-transform", "SINK", "migrator-sink",
            "OPERATOR", "migrator-operator"));
    /** A user the section gives no ACL. */
    private static final String NOBODY = "migrator-nobody";

    private final PostgresServer pg = TestPostgres.shared();
    @TempDir
    Path dir;
    private SecuredKafka kafka;
    private String v1;
    private String v2;
    private String prefix;
    private final Map<String, Path> specs = new LinkedHashMap<>();
    private final List<Pipeline> stages = new ArrayList<>();
    private final AuthorizationLog log = new AuthorizationLog();

    @BeforeEach
    void start() throws Exception {
        List<String> users = new ArrayList<>(PRINCIPALS.values());
        users.add(NOBODY);
        kafka = SecuredKafka.withAcls(dir.resolve("kafka"), users);
        v1 = pg.createDatabase("acl_v1");
        v2 = pg.createDatabase("acl_v2");
        prefix = "acl_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        pg.execute(v1, """
                CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, status text NOT NULL);
                INSERT INTO items SELECT g, 'item ' || g, 'active' FROM generate_series(1, 50) g;
                """);
        // The sink dead-letters a row this constraint refuses (vip); the operator then fixes v2 and replays it. The
        // transform dead-letters a status the spec's map does not know.
        pg.execute(v2, """
                CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL,
                                    status text NOT NULL CONSTRAINT known_status CHECK (status IN ('active', 'closed')));
                """);
        Map<String, String> logins = new LinkedHashMap<>(PRINCIPALS);
        logins.put(NOBODY, NOBODY);
        for (Map.Entry<String, String> principal : logins.entrySet()) {
            specs.put(principal.getKey(), Files.writeString(dir.resolve(principal.getValue() + ".yaml"), """
                    version: 1
                    source: { url: "%s", user: "%s", password: "%s" }
                    target: { url: "%s", user: "%s", password: "%s" }
                    kafka:
                      bootstrap: "%s"
                      topicPrefix: %s
                      client:
                    %s
                    tables:
                      items:
                        columns:
                          id: { from: id }
                          name: { from: name }
                          status: { from: status, map: { active: active, closed: closed, vip: vip } }
                    """.formatted(pg.jdbcUrl(v1), pg.user(), pg.password(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                    kafka.bootstrapServers(), prefix, kafka.clientYaml(principal.getValue(), 4))));
        }
        grantTheDocumentedAcls();
        log.attach();
    }

    @AfterEach
    void stop() {
        log.detach();
        stopStages();
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    @Timeout(value = 12, unit = TimeUnit.MINUTES)
    void everyStageAndCommandWorksWithTheDocumentedAclsAndNothingMore() throws Exception {
        for (String principal : List.of("CAPTURE", "TRANSFORM", "SINK", NOBODY)) {
            // What migrator capture|transform|sink run first (their preflight); it needs no ACL.
            CliRun check = assertClean(CliRun.of("check", "--spec", specs.get(principal).toString()), 0);
            assertThat(check.lines()).as(check.toString()).anySatisfy(line -> assertThat(line).startsWith("OK      kafka: "));
        }
        // Downstream first, as a deployment would bring them up; the first creates the spec's topics.
        startStage("SINK", Pipeline.Stage.SINK);
        startStage("TRANSFORM", Pipeline.Stage.TRANSFORM);
        startStage("CAPTURE", Pipeline.Stage.CAPTURE);
        awaitV2("the snapshot", ITEMS);

        pg.execute(v1, """
                INSERT INTO items VALUES (51, 'streamed', 'active'), (52, 'refused by v2', 'vip'), (53, 'unmapped', 'odd');
                UPDATE items SET name = 'renamed', status = 'closed' WHERE id = 1;
                DELETE FROM items WHERE id = 2;
                """);
        awaitV2("the streamed changes but the dead letters", "SELECT id, name, status FROM items WHERE id < 52 ORDER BY id");
        String operator = specs.get("OPERATOR").toString();
        await("the dead letters").atMost(AWAIT).pollInterval(Duration.ofSeconds(1)).failFast(AUTHORIZATION, log::assertNone)
                .untilAsserted(() -> {
                    CliRun list = assertClean(CliRun.of("dlq", "list", "--spec", operator), 0);
                    assertThat(list.lines()).as(list.toString()).last().isEqualTo("2 dead letters in " + prefix + ".dlq");
                    assertThat(list.lines()).as(list.toString())
                            .anySatisfy(line -> assertThat(line).contains(" stage=sink ").contains("{\"id\":52}"))
                            .anySatisfy(line -> assertThat(line).contains(" stage=transform ").contains("{\"id\":53}"));
                });
        assertClean(CliRun.of("status", "--spec", operator), 0);

        pg.execute(v2, """
                ALTER TABLE items DROP CONSTRAINT known_status,
                    ADD CONSTRAINT known_status CHECK (status IN ('active', 'closed', 'vip'));
                """);
        CliRun replay = assertClean(CliRun.of("dlq", "replay", "--spec", operator, "--stage", "sink", "--wait", "180"), 0);
        assertThat(replay.lines()).as(replay.toString()).last().isEqualTo("replayed 1: 1 applied, 0 superseded, 0 failed again");

        pg.execute(v1, "UPDATE items SET name = 'after the replay' WHERE id = 3; DELETE FROM items WHERE id = 53");
        assertClean(CliRun.of("cutover", "wait", "--spec", operator, "--timeout", "PT3M"), 0);
        assertThat(pg.rows(v2, ITEMS)).isEqualTo(pg.rows(v1, ITEMS));
        assertThat(pg.rows(v2, "SELECT name, status FROM items WHERE id IN (1, 3, 52) ORDER BY id")).containsExactly(
                List.of("renamed", "closed"), List.of("after the replay", "active"), List.of("refused by v2", "vip"));
        assertClean(CliRun.of("status", "--spec", operator), 0);
        stages.forEach(stage -> assertThat(stage.failure()).isEmpty());
        log.assertNone();
        stopStages();

        // The sink's principal may not write the raw topics nor read capture's offsets.
        CliRun refused = runStageCommand("capture", specs.get("SINK"));
        assertThat(refused.exit()).as(refused.toString()).isEqualTo(ExitCodes.FAILED);
        List<String> errors = refused.err().lines().filter(l -> !l.startsWith("migrator: the log has more")).toList();
        assertThat(errors).as(refused.toString()).hasSize(1);
        assertThat(errors.get(0)).as(refused.toString()).startsWith("migrator: ")
                .containsPattern("(Topic|Group|Cluster|TransactionalId)AuthorizationException|[Nn]ot authorized")
                .contains(prefix);

        // The stopped transform left its group (it does not wait for its session to time out), so cleanup, which
        // refuses while a group has members, runs at once.
        assertClean(CliRun.of("cleanup", "--spec", operator, "--kafka"), 0);
        CliRun cleanup = assertClean(CliRun.of("cleanup", "--spec", operator, "--kafka", "--yes"), 0);
        try (Admin admin = kafka.admin()) {
            assertThat(admin.listTopics().names().get()).as(cleanup.toString())
                    .noneMatch(t -> t.startsWith(prefix + ".") || t.startsWith(prefix + "-"));
            assertThat(admin.listGroups().all().get()).as(cleanup.toString())
                    .noneMatch(g -> g.groupId().startsWith(prefix + "-"));
        }
    }

    /**
     * A sink whose principal lost Write on the dead-letter topic stops with one message naming the grant, instead of
     * retrying forever as if the target were gone; the refused row is neither applied nor skipped, and once the grant
     * is back a restarted sink dead-letters it and applies the rest.
     */
    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aSinkThatMayNotWriteItsDeadLettersStopsNamingTheGrantAndLosesNothing() throws Exception {
        startStage("SINK", Pipeline.Stage.SINK);
        startStage("TRANSFORM", Pipeline.Stage.TRANSFORM);
        startStage("CAPTURE", Pipeline.Stage.CAPTURE);
        awaitV2("the snapshot", ITEMS);

        AclBindingFilter sinkWritesDeadLetters = new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, prefix + ".dlq", PatternType.LITERAL),
                new AccessControlEntryFilter("User:" + PRINCIPALS.get("SINK"), null, AclOperation.WRITE, AclPermissionType.ALLOW));
        Collection<AclBinding> revoked;
        try (Admin admin = kafka.admin()) {
            revoked = admin.deleteAcls(List.of(sinkWritesDeadLetters)).all().get(1, TimeUnit.MINUTES);
            assertThat(revoked).hasSize(1);
            await("the broker's authorizer lost the ACL").atMost(AWAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(admin.describeAcls(sinkWritesDeadLetters).values().get()).isEmpty());
        }
        pg.execute(v1, "INSERT INTO items VALUES (52, 'refused by v2', 'vip'), (54, 'streamed', 'active')");

        Pipeline sink = stages.get(0);
        await("the sink stops").atMost(AWAIT).pollInterval(Duration.ofMillis(200)).until(() -> sink.failure().isPresent());
        assertThat(sink.failure().orElseThrow())
                .contains("sink may not write its dead letters to " + prefix + ".dlq")
                .contains("grant its principal Write on both topics");
        assertThat(pg.rows(v2, "SELECT id FROM items WHERE id = 52")).isEmpty();

        try (Admin admin = kafka.admin()) {
            admin.createAcls(revoked).all().get(1, TimeUnit.MINUTES);
            await("the broker's authorizer has the ACL again").atMost(AWAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(admin.describeAcls(sinkWritesDeadLetters).values().get()).containsAll(revoked));
        }
        stages.remove(sink);
        sink.close();
        log.clear();
        startStage("SINK", Pipeline.Stage.SINK);
        awaitV2("every row but the refused one", "SELECT id, name, status FROM items WHERE id <> 52 ORDER BY id");
        String operator = specs.get("OPERATOR").toString();
        await("the dead letter").atMost(AWAIT).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
            CliRun list = assertClean(CliRun.of("dlq", "list", "--spec", operator), 0);
            assertThat(list.lines()).as(list.toString()).last().isEqualTo("1 dead letter in " + prefix + ".dlq");
            assertThat(list.lines()).as(list.toString())
                    .anySatisfy(line -> assertThat(line).contains(" stage=sink ").contains("{\"id\":52}"));
        });
        assertThat(pg.rows(v2, "SELECT id FROM items WHERE id = 52")).isEmpty();
        log.assertNone();
    }

    /** Reads the section's {@code acl} lines with this test's prefix and principals and creates what they add. */
    private void grantTheDocumentedAcls() throws Exception {
        Path doc = repositoryRoot().resolve("docs/security.md");
        Map<String, String> variables = new LinkedHashMap<>();
        variables.put("PREFIX", prefix);
        PRINCIPALS.forEach((name, user) -> variables.put(name, "User:" + user));
        List<AclBinding> acls = KafkaAclScript.parse(KafkaAclScript.shellBlocks(Files.readString(doc), "## Kafka ACLs"), variables);
        try (Admin admin = kafka.admin()) {
            admin.createAcls(acls).all().get(1, TimeUnit.MINUTES);
            // The controller has them once createAcls returns; the broker's authorizer a moment later.
            await("the broker's authorizer has the ACLs").atMost(AWAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(admin.describeAcls(AclBindingFilter.ANY).values().get()).containsAll(acls));
        }
    }

    private void startStage(String principal, Pipeline.Stage stage) {
        Pipeline pipeline = Pipeline.start(new SpecParser().parse(specs.get(principal)), dir.resolve(principal.toLowerCase()), 0,
                new SimpleMeterRegistry(), EnumSet.of(stage));
        stages.add(pipeline);
        await(stage + " starts").atMost(AWAIT).pollInterval(Duration.ofMillis(200))
                .until(() -> pipeline.failure().isPresent() || pipeline.running());
        assertThat(pipeline.failure()).as(stage.name()).isEmpty();
    }

    /** Upstream first, as a deployment would stop them. */
    private void stopStages() {
        for (int i = stages.size() - 1; i >= 0; i--) {
            stages.get(i).close();
        }
        stages.clear();
    }

    /**
     * {@code migrator <stage> --spec spec}, which runs until a signal or a failure: the test waits for it to end by
     * itself (a stage refused by the broker fails) and gives up after {@link #AWAIT}.
     */
    private CliRun runStageCommand(String stage, Path spec) throws Exception {
        return CompletableFuture.supplyAsync(() -> CliRun.of(stage, "--spec", spec.toString(),
                        "--data-dir", dir.resolve("refused-" + stage).toString(), "--http-port", "0"))
                .get(AWAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void awaitV2(String what, String query) {
        // A stage refused by the broker mostly retries (the sink) rather than fails: its log says why, at once.
        await(what).atMost(AWAIT).pollInterval(Duration.ofMillis(500)).failFast(AUTHORIZATION, log::assertNone).untilAsserted(() -> {
            stages.forEach(stage -> assertThat(stage.failure()).isEmpty());
            assertThat(pg.rows(v2, query)).isEqualTo(pg.rows(v1, query));
        });
    }

    /** The run exited with {@code exit} and printed nothing about authorization. */
    private static CliRun assertClean(CliRun run, int exit) {
        assertThat(run.exit()).as(run.toString()).isEqualTo(exit);
        assertThat(run.out() + run.err()).as(run.toString()).doesNotContainIgnoringCase("authoriz");
        return run;
    }

    private static Path repositoryRoot() {
        Path parent = Path.of("..").toAbsolutePath().normalize();
        return Files.isRegularFile(parent.resolve("docs/security.md")) ? parent : Path.of("").toAbsolutePath().normalize();
    }

    /** Warnings and errors logged anywhere in this JVM that are about authorization. */
    private static final class AuthorizationLog extends AppenderBase<ILoggingEvent> {

        private final Queue<String> errors = new ConcurrentLinkedQueue<>();
        private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

        void attach() {
            start();
            root.addAppender(this);
        }

        void detach() {
            root.detachAppender(this);
            stop();
        }

        void clear() {
            errors.clear();
        }

        void assertNone() {
            assertThat(List.copyOf(errors)).as(AUTHORIZATION).isEmpty();
        }

        @Override
        protected void append(ILoggingEvent event) {
            if (!event.getLevel().isGreaterOrEqual(Level.WARN)) {
                return;
            }
            StringBuilder text = new StringBuilder(event.getFormattedMessage());
            for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
                text.append(" / ").append(t.getClassName()).append(": ").append(t.getMessage());
            }
            if (text.toString().toLowerCase(java.util.Locale.ROOT).contains("authoriz")) {
                errors.add(event.getLoggerName() + ": " + text);
            }
        }
    }
}
