package dev.cdcmigrator.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.cli.internal.DeadLetters;
import dev.cdcmigrator.cli.internal.DeadLetters.Entry;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.ReplayOutcome;
import dev.cdcmigrator.common.event.ReplayOutcome.Outcome;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec.Target;

/** {@code migrator dlq}: show and replay the dead letters of {@code <prefix>.dlq}. */
@Command(name = "dlq", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        subcommands = {DlqCommand.ListCommand.class, DlqCommand.ReplayCommand.class},
        description = {
            "Show and replay dead letters: the records the transform or the sink could not process.",
            "",
            "They are kept whole in the topic <kafka.topicPrefix>.dlq, each with its stage, its table, the topic, "
                + "partition and offset it was read from, and why it failed.",
            "",
            "Replay sends a letter's original record (same key, same value) back to the topic it was read from, with the "
                + "header " + ReplayOutcome.REPLAYED_FROM + " = <dlq topic>/<partition>/<offset>, but only to one of the "
                + "spec's own topics (the raw topics of its mapped v1 tables, the v2 topics of its v2 tables): a letter "
                + "naming any other topic is refused. Kafka topics are append-only: "
                + "a replayed letter stays in the dead-letter topic, so `list` keeps showing it, and a letter that fails "
                + "again is dead-lettered again as a new letter.",
            "",
            "Fix the spec or the data before replaying. A replayed change takes its original place in its row's order: "
                + "it is applied only when its row has had no newer change since; a change its row has moved past (updated "
                + "or deleted on v1 after it) is superseded and changes nothing, so no row goes back in time.",
            "",
            "Neither command joins a consumer group or commits offsets, so they never disturb a running pipeline.",
            ""})
final class DlqCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec(Target.SELF)
    CommandSpec command;

    @Override
    public Integer call() {
        throw new ParameterException(command.commandLine(), "Missing required subcommand: list or replay");
    }

    /** Where the dead letters are: the spec, and the Kafka address when the spec's broker is embedded. */
    static final class KafkaOptions {

        @Option(names = "--spec", required = true, paramLabel = "FILE", description = "The migration spec (YAML).")
        Path spec;

        @picocli.CommandLine.Mixin
        KafkaAddress kafkaAddress;

        @picocli.CommandLine.Mixin
        Direction direction;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "15",
                description = "Give up when Kafka does not answer within this time (default: ${DEFAULT-VALUE}).")
        int timeoutSeconds;

        /** Reads the spec and finds the dead-letter topic and the Kafka to read it from. */
        DeadLetters open(CommandLine commandLine) {
            if (timeoutSeconds < 1) {
                throw new ParameterException(commandLine, "--timeout must be at least 1 second, was " + timeoutSeconds);
            }
            Spec parsed = direction.load(spec);
            Topics topics = new Topics(parsed);
            return new DeadLetters(KafkaClients.common(parsed, kafkaAddress.resolve(parsed, commandLine)),
                    topics.deadLetters(), topics.replayOutcomes(), topics.replayTargets(parsed), Duration.ofSeconds(timeoutSeconds));
        }
    }

    /** {@code migrator dlq list}. */
    @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = {
                "Print the dead letters, one per line, then a count line.",
                "",
                "Each line has the letter's position in the dead-letter topic (dlq=partition/offset, what replay --offset "
                    + "takes), its stage, table, source topic/partition/offset, column, key and reason. Partitions are read "
                    + "one after the other, oldest first, up to the end of the topic when the command starts. Replayed "
                    + "letters are listed too (the topic is append-only).",
                ""})
    static final class ListCommand implements Callable<Integer> {

        @picocli.CommandLine.Spec(Target.SELF)
        CommandSpec command;

        @Mixin
        KafkaOptions kafka;

        @Option(names = "--json", description = "One JSON object per line instead: the dead letter with dlqPartition and "
                + "dlqOffset. The count line then goes to standard error, so standard output is pure JSON lines.")
        boolean json;

        @Option(names = "--limit", paramLabel = "N", description = "Print at most N dead letters (the count still counts them all).")
        Integer limit;

        @Override
        public Integer call() {
            if (limit != null && limit < 0) {
                throw new ParameterException(command.commandLine(), "--limit must not be negative, was " + limit);
            }
            DeadLetters dlq = kafka.open(command.commandLine());
            PrintWriter out = command.commandLine().getOut();
            long[] counts = new long[2]; // seen, printed
            boolean exists = dlq.read(entry -> {
                counts[0]++;
                if (limit == null || counts[1] < limit) {
                    counts[1]++;
                    out.println(json ? json(entry) : text(entry));
                }
            });
            String count;
            if (!exists) {
                count = "0 dead letters: topic " + dlq.topic() + " does not exist (the pipeline has not run yet?)";
            } else if (counts[1] < counts[0]) {
                count = "showing " + counts[1] + " of " + counts[0] + " dead letters in " + dlq.topic();
            } else {
                count = counts[0] + (counts[0] == 1 ? " dead letter in " : " dead letters in ") + dlq.topic();
            }
            out.flush();
            PrintWriter countTo = json ? command.commandLine().getErr() : out;
            countTo.println(count);
            countTo.flush();
            return ExitCodes.OK;
        }

        private static String json(Entry e) {
            ObjectNode node = Json.MAPPER.createObjectNode();
            node.put("dlqPartition", e.partition());
            node.put("dlqOffset", e.offset());
            if (e.letter() != null) {
                node.setAll((ObjectNode) Json.MAPPER.valueToTree(e.letter()));
            } else {
                node.put("error", e.error());
            }
            return node.toString();
        }
    }

    /** One line about a dead letter: where it is, what it is, why. */
    static String text(Entry e) {
        DeadLetter d = e.letter();
        if (d == null) {
            return "dlq=" + e.position() + " undecodable: " + oneLine(e.error());
        }
        return "dlq=" + e.position() + " stage=" + d.stage() + " table=" + d.table()
                + " source=" + d.topic() + "/" + d.partition() + "/" + d.offset()
                + " column=" + (d.column() == null ? "-" : d.column())
                + " key=" + displayKey(d.key())
                + " reason=" + (d.reason() == null ? "-" : oneLine(d.reason()));
    }

    private static String oneLine(String text) {
        return text.replaceAll("\\s*\\R\\s*", " ");
    }

    /** The key as JSON; of a Debezium key envelope only its payload, which is the primary key. */
    static String displayKey(JsonNode key) {
        if (key == null) {
            return "null";
        }
        if (key.isObject() && key.has("schema") && key.get("payload") != null && key.get("payload").isObject()) {
            return key.get("payload").toString();
        }
        return key.toString();
    }

    /** The stages that write dead letters. */
    enum Stage {
        transform, sink
    }

    /** {@code migrator dlq replay}. */
    @Command(name = "replay", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = {
                "Send dead letters' original records back to the topics they were read from.",
                "",
                "The transform's go to their raw topic, the sink's to their v2 topic, into the partition they were read "
                    + "from, with the same key and value and the headers " + ReplayOutcome.REPLAYED_FROM
                    + " = <dlq topic>/<partition>/<offset> and " + ReplayOutcome.REPLAY_OF + " = <original offset>. Waits "
                    + "until Kafka acknowledged every record (idempotent producer, acks=all).",
                "",
                "Then waits (--wait) until the running pipeline has reported what it made of each: applied (newer than "
                    + "anything its row had), superseded (its row changed on v1 after it: dropped, so the row does not go "
                    + "back in time), failed again (a new dead letter), or held (the transform waits for the lookup row its "
                    + "tenant needs). Prints one line per letter and a last line 'replayed N: A applied, S superseded, "
                    + "F failed again'. Exits 1 when an outcome did not arrive in time (is the pipeline running?).",
                "",
                "A letter naming a topic that is not one of the spec's (the raw topics of its mapped v1 tables, the v2 "
                    + "topics of its v2 tables) is refused: a line 'refused dlq=P/N ...' on standard error names the topic, "
                    + "nothing is sent to it, the last line counts it (', R refused') and the command exits 1.",
                "",
                "The filters combine: a letter must match each one given; without any, every dead letter is replayed. "
                    + "Nothing is removed from the dead-letter topic, so a letter replayed twice is sent twice: select by "
                    + "--offset to replay a letter again, and try --dry-run first.",
                ""})
    static final class ReplayCommand implements Callable<Integer> {

        private static final Pattern POSITION = Pattern.compile("(?:(\\d+)/)?(\\d+)");

        @picocli.CommandLine.Spec(Target.SELF)
        CommandSpec command;

        @Mixin
        KafkaOptions kafka;

        @Option(names = "--stage", paramLabel = "STAGE", description = "Only the dead letters of this stage: ${COMPLETION-CANDIDATES}.")
        Stage stage;

        @Option(names = "--table", paramLabel = "T", split = ",",
                description = "Only the dead letters of these tables (v1 names for the transform, v2 names for the sink); repeatable.")
        List<String> tables = new ArrayList<>();

        @Option(names = "--offset", paramLabel = "[P/]N", split = ",",
                description = "Only the dead letters at these positions in the dead-letter topic, as `list` prints them "
                    + "(dlq=P/N): P/N is partition P, offset N; a bare N is offset N in any partition. Repeatable.")
        List<String> offsets = new ArrayList<>();

        @Option(names = "--dry-run", description = "Print what would be replayed; send nothing.")
        boolean dryRun;

        @Option(names = "--wait", paramLabel = "SECONDS", defaultValue = "60",
                description = "Wait at most this long for the outcomes of the replayed letters (default: ${DEFAULT-VALUE}; "
                    + "0: do not wait, print only what was sent).")
        int waitSeconds;

        @Override
        public Integer call() {
            if (waitSeconds < 0) {
                throw new ParameterException(command.commandLine(), "--wait must not be negative, was " + waitSeconds);
            }
            List<long[]> positions = positions();
            DeadLetters dlq = kafka.open(command.commandLine());
            PrintWriter out = command.commandLine().getOut();
            PrintWriter err = command.commandLine().getErr();

            List<Entry> selected = new ArrayList<>();
            List<Entry> refused = new ArrayList<>();
            long[] total = new long[1];
            boolean exists = dlq.read(entry -> {
                total[0]++;
                if (!matches(entry, positions)) {
                    return;
                }
                if (entry.letter() == null) {
                    err.println("skipped dlq=" + entry.position() + ": " + entry.error());
                    return;
                }
                String refusal = dlq.refusal(entry);
                if (refusal != null) {
                    err.println("refused " + describe(entry) + ": " + refusal);
                    refused.add(entry);
                    return;
                }
                selected.add(entry);
            });
            if (!exists) {
                out.println("0 dead letters: topic " + dlq.topic() + " does not exist (the pipeline has not run yet?); nothing to replay");
                out.flush();
                return ExitCodes.OK;
            }
            for (String wanted : offsets) {
                if (Stream.concat(selected.stream(), refused.stream()).noneMatch(e -> matches(e, List.of(parse(wanted))))) {
                    err.println("no dead letter matching the filters at dlq offset " + wanted.trim());
                }
            }
            err.flush();

            Set<String> sources = new LinkedHashSet<>();
            selected.forEach(e -> sources.add(e.letter().topic()));
            Map<String, Integer> partitionCounts = sources.isEmpty() ? Map.of() : dlq.partitionCounts(sources);
            List<String> missing = sources.stream().filter(t -> !partitionCounts.containsKey(t)).toList();
            if (!missing.isEmpty()) {
                throw new IllegalStateException("the source topics " + missing + " of the selected dead letters do not exist; "
                        + "nothing was replayed");
            }

            if (dryRun) {
                for (Entry e : selected) {
                    out.println("would replay " + describe(e) + " -> " + e.letter().topic() + "/" + e.letter().partition());
                }
                out.println("dry run: " + selected.size() + " of " + total[0] + " dead letters in " + dlq.topic()
                        + " would be replayed" + refusedCount(refused) + "; nothing was sent");
                out.flush();
                return refused.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
            }
            Map<TopicPartition, Long> outcomesFrom = waitSeconds > 0 ? dlq.outcomesEnd() : Map.of();
            List<DeadLetters.Replayed> replayed = new ArrayList<>();
            try {
                dlq.replay(selected, partitionCounts, r -> {
                    replayed.add(r);
                    out.println("replayed " + describe(r.entry()) + " -> " + r.topic() + "/" + r.partition() + "/" + r.offset());
                });
            } finally {
                out.flush();
            }
            if (waitSeconds == 0) {
                out.println("replayed " + replayed.size() + " of " + total[0] + " dead letters in " + dlq.topic()
                        + " (header " + ReplayOutcome.REPLAYED_FROM + ")" + refusedCount(refused));
                out.flush();
                return refused.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
            }
            int outcome = reportOutcomes(dlq, replayed, outcomesFrom, refusedCount(refused), out, err);
            return refused.isEmpty() ? outcome : ExitCodes.FAILED;
        }

        /** The end of a summary line for the refused letters; empty when there are none. */
        private static String refusedCount(List<Entry> refused) {
            return refused.isEmpty() ? "" : ", " + refused.size() + " refused (not one of the spec's topics)";
        }

        /** Waits for the outcome of every replayed letter, prints them and the counts. */
        private int reportOutcomes(DeadLetters dlq, List<DeadLetters.Replayed> replayed, Map<TopicPartition, Long> from,
                                   String refusedCount, PrintWriter out, PrintWriter err) {
            Set<String> ids = new LinkedHashSet<>();
            replayed.forEach(r -> ids.add(r.id()));
            Map<String, ReplayOutcome> outcomes = dlq.awaitOutcomes(from, ids, Duration.ofSeconds(waitSeconds));
            Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
            for (Outcome o : Outcome.values()) {
                counts.put(o, 0);
            }
            int missing = 0;
            for (DeadLetters.Replayed r : replayed) {
                ReplayOutcome outcome = outcomes.get(r.id());
                if (outcome == null) {
                    missing++;
                    out.println("no outcome " + describe(r.entry()));
                } else {
                    counts.merge(outcome.outcome(), 1, Integer::sum);
                    out.println(label(outcome.outcome()) + " by the " + outcome.stage() + " " + describe(r.entry()));
                }
            }
            String summary = "replayed " + replayed.size() + ": " + counts.get(Outcome.APPLIED) + " applied, "
                    + counts.get(Outcome.SUPERSEDED) + " superseded, " + counts.get(Outcome.FAILED_AGAIN) + " failed again";
            if (counts.get(Outcome.HELD) > 0) {
                summary += ", " + counts.get(Outcome.HELD) + " held for a lookup row";
            }
            if (missing > 0) {
                summary += ", " + missing + " not reported within " + waitSeconds + " s";
            }
            out.println(summary + refusedCount);
            out.flush();
            if (missing == 0) {
                return ExitCodes.OK;
            }
            err.println(from.isEmpty()
                    ? "no outcome: the topic " + dlq.outcomeTopic() + " does not exist; start the pipeline (migrator run, or its "
                        + "transform and sink) of this version and replay again"
                    : "no outcome within " + waitSeconds + " s for " + missing + " replayed letters: is the pipeline running "
                        + "(migrator run, or its transform and sink)? Their outcomes will still be reported when it processes them");
            err.flush();
            return ExitCodes.FAILED;
        }

        private static String label(Outcome outcome) {
            return switch (outcome) {
                case APPLIED -> "applied";
                case SUPERSEDED -> "superseded";
                case HELD -> "held";
                case FAILED_AGAIN -> "failed again";
            };
        }

        private static String describe(Entry e) {
            DeadLetter d = e.letter();
            return "dlq=" + e.position() + " stage=" + d.stage() + " table=" + d.table() + " key=" + displayKey(d.key())
                    + " (from " + d.topic() + "/" + d.partition() + "/" + d.offset() + ")";
        }

        private boolean matches(Entry e, List<long[]> positions) {
            DeadLetter d = e.letter();
            if (stage != null && (d == null || !stage.name().equals(d.stage()))) {
                return false;
            }
            if (!tables.isEmpty() && (d == null || !tables.contains(d.table()))) {
                return false;
            }
            return positions.isEmpty()
                    || positions.stream().anyMatch(p -> (p[0] < 0 || p[0] == e.partition()) && p[1] == e.offset());
        }

        /** The --offset values as {partition or -1, offset}. */
        private List<long[]> positions() {
            List<long[]> parsed = new ArrayList<>();
            for (String o : offsets) {
                long[] p = parse(o);
                if (p == null) {
                    throw new ParameterException(command.commandLine(),
                            "Invalid value for option '--offset': '" + o + "' is not N or P/N (a dlq partition and offset, as `list` prints them)");
                }
                parsed.add(p);
            }
            return parsed;
        }

        private static long[] parse(String o) {
            Matcher m = POSITION.matcher(o.trim());
            if (!m.matches()) {
                return null;
            }
            try {
                return new long[] {m.group(1) == null ? -1 : Integer.parseInt(m.group(1)), Long.parseLong(m.group(2))};
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
