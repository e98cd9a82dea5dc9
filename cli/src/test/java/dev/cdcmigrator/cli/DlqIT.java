package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.serde.JsonSerde;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.Ports;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code migrator dlq list} and {@code replay} against a real broker: dead letters written as the transform (in a
 * transaction, original key bytes as the key) and the sink (plain producer, the key's JSON text) write them.
 */
class DlqIT {

    private static final JsonSerde<DeadLetter> DEAD = JsonSerde.of(DeadLetter.class);

    /** An original record that was dead-lettered, and where its dead letter is. */
    private record Letter(String stage, String table, String topic, int partition, long offset, byte[] key, byte[] value,
                          DeadLetter letter, int dlqPartition, long dlqOffset) {

        String dlq() {
            return dlqPartition + "/" + dlqOffset;
        }
    }

    @TempDir
    Path dir;

    private String prefix;
    private String dlqTopic;
    private String usersRaw;
    private String tasksRaw;
    private String accountsV2;
    private Path spec;
    /** users (transform), tasks (transform, not JSON), users (transform), accounts (sink), accounts (sink). */
    private final List<Letter> letters = new ArrayList<>();
    private long garbageOffset;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void writeDeadLetters() throws Exception {
        prefix = "dlqit_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        dlqTopic = prefix + ".dlq";
        usersRaw = prefix + ".raw.public.users";
        tasksRaw = prefix + ".raw.public.tasks";
        accountsV2 = prefix + ".v2.accounts";
        spec = writeSpec("embedded");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(dlqTopic, 2, (short) 1), new NewTopic(usersRaw, 2, (short) 1),
                    new NewTopic(tasksRaw, 1, (short) 1), new NewTopic(accountsV2, 2, (short) 1))).all().get();
        }

        // The originals, on their source topics (an offset that is not 0 shows the letters carry the real one).
        byte[] user7 = debeziumKey("users", 7);
        byte[] user8 = debeziumKey("users", 8);
        byte[] task3 = debeziumKey("tasks", 3);
        byte[] account7 = "{\"account_id\":7}".getBytes(StandardCharsets.UTF_8);
        byte[] account9 = "{\"account_id\":9}".getBytes(StandardCharsets.UTF_8);
        List<ProducerRecord<byte[], byte[]>> sources = List.of(
                new ProducerRecord<>(usersRaw, 1, user7, bytes(usersChange(7, "\"email\":null"))),
                new ProducerRecord<>(tasksRaw, 0, task3, "not JSON at all \u00e9\u20ac".getBytes(StandardCharsets.UTF_8)),
                new ProducerRecord<>(usersRaw, 0, user8, bytes(usersChange(8, "\"email\":\"e@example.com\""))),
                new ProducerRecord<>(accountsV2, 1, account7, bytes(v2Change(7, "1.25"))),
                new ProducerRecord<>(accountsV2, 0, account9, bytes(v2Change(9, "12345678901234567890.123456789"))));
        RecordMetadata[] originals = new RecordMetadata[sources.size()];
        try (KafkaProducer<byte[], byte[]> producer = producer(null)) {
            producer.send(new ProducerRecord<>(usersRaw, 1, user7, bytes("{\"schema\":{},\"payload\":{\"op\":\"c\"}}"))).get();
            for (int i = 0; i < originals.length; i++) {
                originals[i] = producer.send(sources.get(i)).get();
            }
        }
        List<Letter> originalsAsLetters = List.of(
                letter("transform", "users", originals[0], sources.get(0), "email", "column email is NOT NULL in v2"),
                letter("transform", "tasks", originals[1], sources.get(1), null, "com.fasterxml.jackson.core.JsonParseException: Unrecognized token"),
                letter("transform", "users", originals[2], sources.get(2), "name", "no value for name\nsecond line"),
                letter("sink", "accounts", originals[3], sources.get(3), null, "ERROR: new row violates check constraint"),
                letter("sink", "accounts", originals[4], sources.get(4), null, "not a v2 change: boom"));

        // The transform writes its dead letters in Kafka Streams transactions (exactly_once_v2), keyed by the original key bytes.
        try (KafkaProducer<byte[], byte[]> transactional = producer(prefix + "-tx")) {
            transactional.initTransactions();
            transactional.beginTransaction();
            int[] dlqPartitions = {0, 0, 1};
            List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Letter l = originalsAsLetters.get(i);
                sent.add(transactional.send(new ProducerRecord<>(dlqTopic, dlqPartitions[i], l.key(), DEAD.serialize(dlqTopic, l.letter()))));
            }
            transactional.commitTransaction();
            for (int i = 0; i < 3; i++) {
                letters.add(placed(originalsAsLetters.get(i), sent.get(i).get()));
            }
            transactional.beginTransaction();
            Letter aborted = letter("transform", "aborted", originals[0], sources.get(0), null, "never committed");
            transactional.send(new ProducerRecord<>(dlqTopic, 0, aborted.key(), DEAD.serialize(dlqTopic, aborted.letter())));
            transactional.flush();
            transactional.abortTransaction();
        }
        // The sink writes its own with a plain producer, keyed by the key's JSON text.
        try (KafkaProducer<byte[], byte[]> producer = producer(null)) {
            for (int i = 3; i < 5; i++) {
                Letter l = originalsAsLetters.get(i);
                byte[] key = l.letter().key().toString().getBytes(StandardCharsets.UTF_8);
                letters.add(placed(l, producer.send(new ProducerRecord<>(dlqTopic, 1, key, DEAD.serialize(dlqTopic, l.letter()))).get()));
            }
            garbageOffset = producer.send(new ProducerRecord<>(dlqTopic, 1, null, bytes("garbage"))).get().offset();
        }
    }

    @Test
    void listPrintsEveryCommittedDeadLetterInOrderAndACount() {
        int exit = run("dlq", "list", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers());

        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isZero();
        List<String> lines = lines(out);
        Letter users7 = letters.get(0);
        Letter tasks3 = letters.get(1);
        Letter users8 = letters.get(2);
        Letter accounts7 = letters.get(3);
        Letter accounts9 = letters.get(4);
        assertThat(lines).hasSize(7);
        assertThat(lines.subList(0, 5)).containsExactly(
                "dlq=" + users7.dlq() + " stage=transform table=users source=" + usersRaw + "/1/" + users7.offset()
                        + " column=email key={\"id\":7} reason=column email is NOT NULL in v2",
                "dlq=" + tasks3.dlq() + " stage=transform table=tasks source=" + tasksRaw + "/0/" + tasks3.offset()
                        + " column=- key={\"id\":3} reason=com.fasterxml.jackson.core.JsonParseException: Unrecognized token",
                "dlq=" + users8.dlq() + " stage=transform table=users source=" + usersRaw + "/0/" + users8.offset()
                        + " column=name key={\"id\":8} reason=no value for name second line",
                "dlq=" + accounts7.dlq() + " stage=sink table=accounts source=" + accountsV2 + "/1/" + accounts7.offset()
                        + " column=- key={\"account_id\":7} reason=ERROR: new row violates check constraint",
                "dlq=" + accounts9.dlq() + " stage=sink table=accounts source=" + accountsV2 + "/0/" + accounts9.offset()
                        + " column=- key={\"account_id\":9} reason=not a v2 change: boom");
        assertThat(lines.get(5)).startsWith("dlq=1/" + garbageOffset + " undecodable: not a dead letter: ");
        assertThat(lines.get(6)).isEqualTo("6 dead letters in " + dlqTopic);
        assertThat(users7.dlq()).isEqualTo("0/0");
        assertThat(users8.dlq()).isEqualTo("1/0");
        assertThat(out.toString()).doesNotContain("aborted").doesNotContain("never committed");
    }

    @Test
    void listLimitShowsTheFirstLettersButCountsAll() {
        int exit = run("dlq", "list", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--limit", "2");

        assertThat(exit).as("exit; err:%n%s", err).isZero();
        assertThat(lines(out)).hasSize(3).last().isEqualTo("showing 2 of 6 dead letters in " + dlqTopic);
        assertThat(lines(out).get(0)).startsWith("dlq=0/0 stage=transform table=users");
    }

    @Test
    void listJsonPrintsEachDeadLetterWithItsDlqPosition() throws IOException {
        int exit = run("dlq", "list", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--json");

        assertThat(exit).as("exit; err:%n%s", err).isZero();
        List<String> lines = lines(out);
        assertThat(lines).hasSize(6);
        for (int i = 0; i < 5; i++) {
            Letter l = letters.get(i);
            JsonNode json = Json.MAPPER.readTree(lines.get(i));
            assertThat(json.get("dlqPartition").asInt()).isEqualTo(l.dlqPartition());
            assertThat(json.get("dlqOffset").asLong()).isEqualTo(l.dlqOffset());
            ObjectNode letter = json.deepCopy();
            letter.remove(List.of("dlqPartition", "dlqOffset"));
            assertThat(letter).isEqualTo(Json.MAPPER.readTree(DEAD.serialize(dlqTopic, l.letter())));
        }
        JsonNode tasks = Json.MAPPER.readTree(lines.get(1));
        assertThat(tasks.get("record").isTextual()).isTrue();
        assertThat(tasks.get("key").get("payload").get("id").asInt()).isEqualTo(3);
        JsonNode garbage = Json.MAPPER.readTree(lines.get(5));
        assertThat(garbage.get("dlqOffset").asLong()).isEqualTo(garbageOffset);
        assertThat(garbage.get("error").asText()).startsWith("not a dead letter");
        assertThat(err.toString()).contains("6 dead letters in " + dlqTopic);
    }

    @Test
    void replayByStageAndTableSendsExactlyThoseOriginalsBack() {
        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(),
                "--stage", "transform", "--table", "users", "--wait", "0");

        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isZero();
        assertReplayed(letters.get(0), letters.get(2));
        assertThat(lines(out)).hasSize(3).last().isEqualTo("replayed 2 of 6 dead letters in " + dlqTopic + " (header migrator.replayed-from)");
        assertThat(lines(out).get(0)).startsWith("replayed dlq=0/0 stage=transform table=users key={\"id\":7} (from " + usersRaw + "/1/");
    }

    @Test
    void replayByOffsetSendsSinkAndNonJsonOriginalsBackByteForByte() {
        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(),
                "--offset", letters.get(1).dlq() + "," + letters.get(4).dlq(), "--offset", letters.get(3).dlq(), "--wait", "0");

        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isZero();
        assertReplayed(letters.get(1), letters.get(3), letters.get(4));
        assertThat(lines(out)).last().isEqualTo("replayed 3 of 6 dead letters in " + dlqTopic + " (header migrator.replayed-from)");
    }

    @Test
    void replayFiltersCombineAndABareOffsetMatchesAnyPartition() {
        // Offset 0 is users 7 (partition 0) and users 8 (partition 1); --stage sink leaves neither.
        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(),
                "--offset", "0", "--stage", "sink", "--wait", "0");

        assertThat(exit).as("exit; err:%n%s", err).isZero();
        assertReplayed();
        assertThat(err.toString()).contains("no dead letter matching the filters at dlq offset 0");

        out.getBuffer().setLength(0);
        exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--offset", "0", "--wait", "0");
        assertThat(exit).as("exit; err:%n%s", err).isZero();
        assertReplayed(letters.get(0), letters.get(2));
    }

    @Test
    void replayRefusesLettersNamingATopicThatIsNotOneOfTheSpecsAndSendsNothingThere() throws Exception {
        // Topics that exist, but are not the spec's: the raw topic of a v1 table it does not map, a v2 table it lacks.
        String secretsRaw = prefix + ".raw.public.secrets";
        String ordersV2 = prefix + ".v2.orders";
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(secretsRaw, 1, (short) 1), new NewTopic(ordersV2, 1, (short) 1))).all().get();
        }
        // Letters as anyone who can write to the dead-letter topic could forge them.
        DeadLetter toSecrets = DeadLetter.of("transform", secretsRaw, 0, 0, "secrets", debeziumKey("secrets", 1), null, "forged",
                bytes(usersChange(1, "\"email\":null")));
        DeadLetter toOrders = DeadLetter.of("sink", ordersV2, 0, 0, "orders", bytes("{\"id\":1}"), null, "forged",
                bytes("{\"op\":\"UPSERT\",\"table\":\"orders\",\"key\":{\"id\":1},\"after\":{\"id\":1,\"total\":0}}"));
        long[] forged = new long[2];
        try (KafkaProducer<byte[], byte[]> producer = producer(null)) {
            forged[0] = producer.send(new ProducerRecord<>(dlqTopic, 0, null, DEAD.serialize(dlqTopic, toSecrets))).get().offset();
            forged[1] = producer.send(new ProducerRecord<>(dlqTopic, 0, bytes("{\"id\":1}"), DEAD.serialize(dlqTopic, toOrders))).get().offset();
        }

        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--wait", "0");

        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isEqualTo(ExitCodes.FAILED);
        assertThat(err.toString())
                .contains("refused dlq=0/" + forged[0] + " stage=transform table=secrets key={\"id\":1} (from " + secretsRaw
                        + "/0/0): topic " + secretsRaw + " is not one of the spec's topics (the raw topics of its mapped v1"
                        + " tables and the v2 topics of its v2 tables); nothing was sent to it")
                .contains("refused dlq=0/" + forged[1] + " stage=sink table=orders key={\"id\":1} (from " + ordersV2
                        + "/0/0): topic " + ordersV2 + " is not one of the spec's topics");
        assertThat(lines(out)).last().isEqualTo("replayed 5 of 8 dead letters in " + dlqTopic
                + " (header migrator.replayed-from), 2 refused (not one of the spec's topics)");
        assertReplayed(letters.toArray(Letter[]::new));
        assertThat(readAll(secretsRaw)).isEmpty();
        assertThat(readAll(ordersV2)).isEmpty();

        // Selected by its position, a refused letter is refused again (it is no "no dead letter matching").
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(),
                "--offset", "0/" + forged[1], "--dry-run");
        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isEqualTo(ExitCodes.FAILED);
        assertThat(err.toString()).contains("refused dlq=0/" + forged[1]).doesNotContain("no dead letter matching");
        assertThat(lines(out)).containsExactly("dry run: 0 of 8 dead letters in " + dlqTopic
                + " would be replayed, 1 refused (not one of the spec's topics); nothing was sent");
    }

    @Test
    void replayWaitsForOutcomesOnlyFromAPipelineThatReportsThem() {
        // No pipeline of this version has run here: the replay-outcome topic does not exist.
        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(),
                "--offset", letters.get(3).dlq());

        assertThat(exit).as("exit; out:%n%s%nerr:%n%s", out, err).isEqualTo(ExitCodes.FAILED);
        assertReplayed(letters.get(3));
        assertThat(lines(out)).last().isEqualTo("replayed 1: 0 applied, 0 superseded, 0 failed again, 1 not reported within 60 s");
        assertThat(err.toString()).contains("the topic " + prefix + ".replays does not exist");
    }

    @Test
    void dryRunPrintsButSendsNothing() {
        int exit = run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--dry-run");

        assertThat(exit).as("exit; err:%n%s", err).isZero();
        List<String> lines = lines(out);
        assertThat(lines).hasSize(6);
        for (int i = 0; i < 5; i++) {
            Letter l = letters.get(i);
            assertThat(lines.get(i)).startsWith("would replay dlq=" + l.dlq() + " stage=" + l.stage() + " table=" + l.table())
                    .endsWith(" -> " + l.topic() + "/" + l.partition());
        }
        assertThat(lines.get(5)).isEqualTo("dry run: 5 of 6 dead letters in " + dlqTopic + " would be replayed; nothing was sent");
        assertThat(err.toString()).contains("skipped dlq=1/" + garbageOffset + ": not a dead letter");
        assertReplayed();
    }

    @Test
    void anEmbeddedSpecWithoutARunningMigrationNamesBothWaysToFindIt() {
        int exit = run("dlq", "list", "--spec", spec.toString(), "--data-dir", dir.resolve("nothing-here").toString());

        assertThat(exit).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("kafka.bootstrap: embedded").contains(dir.resolve("nothing-here/kafka.address")
                + " does not name one").contains("Pass its --data-dir, or --bootstrap").contains("pipeline started kafka=127.0.0.1:PORT");
    }

    @Test
    void anEmbeddedSpecFindsTheBrokerOfTheRunningMigrationInItsDataDirectory() throws IOException {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(Pipeline.embeddedAddressFile(data), TestKafka.bootstrapServers() + "\n");

        assertThat(run("dlq", "list", "--spec", spec.toString(), "--data-dir", data.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).contains("dead letter");

        int stopped = Ports.free();
        Files.writeString(Pipeline.embeddedAddressFile(data), "127.0.0.1:" + stopped + "\n");
        assertThat(run("dlq", "list", "--spec", spec.toString(), "--data-dir", data.toString())).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("names 127.0.0.1:" + stopped + ", where no broker listens: the `migrator run`"
                + " that wrote it has stopped");
    }

    @Test
    void theSpecsBootstrapIsUsedWhenItIsNotEmbedded() throws IOException {
        Path direct = writeSpec(TestKafka.bootstrapServers());

        int exit = run("dlq", "list", "--spec", direct.toString());

        assertThat(exit).as("exit; err:%n%s", err).isZero();
        assertThat(lines(out)).last().isEqualTo("6 dead letters in " + dlqTopic);
    }

    @Test
    void usageErrorsExitWithTwo() throws IOException {
        assertThat(run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--stage", "capture"))
                .isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("--stage").contains("transform, sink");

        assertThat(run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--offset", "x/1"))
                .isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("'x/1' is not N or P/N");

        assertThat(run("dlq", "replay", "--spec", spec.toString(), "--bootstrap", TestKafka.bootstrapServers(), "--wait", "-1"))
                .isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("--wait must not be negative, was -1");

        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "version: 1\nsource: { url: nope }\n");
        err.getBuffer().setLength(0);
        assertThat(run("dlq", "list", "--spec", bad.toString(), "--bootstrap", TestKafka.bootstrapServers())).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).startsWith("migrator: ").contains("bad.yaml");

        err.getBuffer().setLength(0);
        assertThat(run("dlq")).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("Missing required subcommand");
    }

    @Test
    void anUnreachableKafkaFailsWithinTheTimeout() throws IOException {
        int port = Ports.free();
        long started = System.nanoTime();

        int exit = run("dlq", "list", "--spec", spec.toString(), "--bootstrap", "127.0.0.1:" + port, "--timeout", "3");

        assertThat(exit).isEqualTo(ExitCodes.FAILED);
        assertThat(err.toString()).contains("migrator: cannot reach Kafka at 127.0.0.1:" + port).contains("within 3 s");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
    }

    @Test
    void aMissingDeadLetterTopicIsEmpty() throws IOException {
        Path other = dir.resolve("other.yaml");
        Files.writeString(other, Files.readString(spec).replace("topicPrefix: " + prefix, "topicPrefix: " + prefix + "_none"));

        assertThat(run("dlq", "list", "--spec", other.toString(), "--bootstrap", TestKafka.bootstrapServers())).isZero();
        assertThat(out.toString()).contains("0 dead letters: topic " + prefix + "_none.dlq does not exist");
    }

    /** Exactly {@code expected} were replayed: same key and value bytes, same partition, the header naming their letter. */
    private void assertReplayed(Letter... expected) {
        List<ConsumerRecord<byte[], byte[]>> replayed = new ArrayList<>();
        for (String topic : List.of(usersRaw, tasksRaw, accountsV2)) {
            for (ConsumerRecord<byte[], byte[]> r : readAll(topic)) {
                if (r.headers().lastHeader(ReplayOutcome.REPLAYED_FROM) != null) {
                    replayed.add(r);
                }
            }
        }
        assertThat(replayed).hasSize(expected.length);
        for (Letter l : expected) {
            String from = dlqTopic + "/" + l.dlq();
            List<ConsumerRecord<byte[], byte[]>> matching = replayed.stream().filter(r -> from.equals(header(r))).toList();
            assertThat(matching).as("replays of %s", from).hasSize(1);
            ConsumerRecord<byte[], byte[]> r = matching.get(0);
            assertThat(r.topic()).isEqualTo(l.topic());
            assertThat(r.partition()).isEqualTo(l.partition());
            assertThat(r.key()).as("key of %s", from).isEqualTo(l.key());
            assertThat(new String(r.value(), StandardCharsets.UTF_8)).as("value of %s", from)
                    .isEqualTo(new String(l.value(), StandardCharsets.UTF_8));
            assertThat(r.value()).isEqualTo(l.value());
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r) {
        Header h = r.headers().lastHeader(ReplayOutcome.REPLAYED_FROM);
        return new String(h.value(), StandardCharsets.UTF_8);
    }

    /** Every record of {@code topic} up to its end offsets as of now (uncommitted ones too). */
    static List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                assertThat(System.nanoTime()).as("reading %s", topic).isLessThan(deadline);
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    private static Letter letter(String stage, String table, RecordMetadata original, ProducerRecord<byte[], byte[]> sent,
                                 String column, String reason) {
        byte[] key = sent.key();
        byte[] value = sent.value();
        DeadLetter d = DeadLetter.of(stage, original.topic(), original.partition(), original.offset(), table,
                key, column, reason, value);
        return new Letter(stage, table, original.topic(), original.partition(), original.offset(), key, value, d, -1, -1);
    }

    private static Letter placed(Letter l, RecordMetadata dlq) {
        return new Letter(l.stage(), l.table(), l.topic(), l.partition(), l.offset(), l.key(), l.value(), l.letter(),
                dlq.partition(), dlq.offset());
    }

    private String usersChange(long id, String email) {
        return "{\"schema\":{\"type\":\"struct\",\"name\":\"" + prefix + ".raw.public.users.Envelope\"},"
                + "\"payload\":{\"before\":null,\"after\":{\"id\":" + id + ",\"name\":\"user " + id + "\"," + email
                + ",\"score\":99.50,\"created_at\":\"2024-01-02T03:04:05.123456Z\"},"
                + "\"source\":{\"lsn\":123456789,\"txId\":42},\"op\":\"u\",\"ts_ms\":1700000000000}}";
    }

    private static String v2Change(long id, String score) {
        return "{\"op\":\"UPSERT\",\"table\":\"accounts\",\"key\":{\"account_id\":" + id + "},"
                + "\"after\":{\"account_id\":" + id + ",\"display_name\":\"n\u00e9 \\\"x\\\"\",\"score\":" + score + "},"
                + "\"source\":{\"lsn\":1,\"txId\":2}}";
    }

    private byte[] debeziumKey(String table, long id) {
        return bytes("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,\"field\":\"id\"}],"
                + "\"optional\":false,\"name\":\"" + prefix + ".raw.public." + table + ".Key\"},\"payload\":{\"id\":" + id + "}}");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private KafkaProducer<byte[], byte[]> producer(String transactionalId) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // The topics were just created: a first send can meet NOT_LEADER_OR_FOLLOWER, and with several requests in
        // flight a later batch is appended before the retried first one, whose sequence then never fits again.
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
        if (transactionalId != null) {
            props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private Path writeSpec(String bootstrap) throws IOException {
        Path file = dir.resolve("spec-" + Math.abs(bootstrap.hashCode()) + ".yaml");
        Files.writeString(file, """
                version: 1
                source: { url: "jdbc:postgresql://127.0.0.1:1/v1", user: migrator, password: secret }
                target: { url: "jdbc:postgresql://127.0.0.1:1/v2", user: migrator, password: secret }
                kafka: { bootstrap: "%s", topicPrefix: %s, partitions: 2 }
                tables:
                  users:
                    into: accounts
                    columns:
                      account_id: { from: id }
                      display_name: { from: name }
                      email: { from: email }
                      score: { from: score }
                  tasks:
                    columns:
                      id: { from: id }
                      title: { from: title }
                """.formatted(bootstrap, prefix));
        return file;
    }

    private int run(String... args) {
        return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    private static List<String> lines(StringWriter w) {
        return Arrays.stream(w.toString().split("\\R")).filter(s -> !s.isEmpty()).toList();
    }
}
