package dev.cdcmigrator.common;

import dev.cdcmigrator.common.spec.Spec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates the raw, lookup, v2, dead-letter and replay-outcome topics of a spec before any stage starts, so that Kafka Streams never starts
 * on a missing source topic and every topic gets the migrator's partitions and size limit rather than broker defaults.
 */
public final class TopicProvisioner {

    /** Records up to this size are accepted (TOASTed rows exceed Kafka's default of 1 MB). */
    public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    private static final java.time.Duration LEADER_TIMEOUT = java.time.Duration.ofSeconds(30);

    private TopicProvisioner() {
    }

    /**
     * Creates the topics of {@code spec} that do not exist yet; existing topics are left as they are. Each keeps its
     * records until {@code migrator cleanup} deletes it (a broker's default of 7 days would lose the unread changes of
     * a migration stopped longer, unseen), but the dead letters for {@code kafka.deadLetterRetention} if set.
     */
    public static void createMissing(Admin admin, Spec spec) {
        Topics topics = new Topics(spec);
        Set<String> existing;
        try {
            existing = admin.listTopics().names().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing topics", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list Kafka topics: " + e.getCause().getMessage(), e.getCause());
        }
        List<String> wanted = new ArrayList<>(topics.allRaw(spec));
        wanted.addAll(topics.allV2(spec));
        wanted.addAll(topics.allLookups(spec));
        wanted.add(topics.deadLetters());
        wanted.add(topics.replayOutcomes());
        List<NewTopic> missing = new java.util.ArrayList<>(wanted.stream()
                .filter(t -> !existing.contains(t))
                .map(t -> new NewTopic(t, spec.kafka().partitions(), spec.kafka().replicationFactor())
                        .configs(configs(spec, t.equals(topics.deadLetters()))))
                .toList());
        if (!existing.contains(topics.heartbeat())) {
            // One partition: the heartbeat markers are read in order.
            missing.add(new NewTopic(topics.heartbeat(), 1, spec.kafka().replicationFactor()).configs(configs(spec, false)));
        }
        if (missing.isEmpty()) {
            return;
        }
        try {
            admin.createTopics(missing).all().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (ExecutionException e) {
            // Another instance may have created them between the listing and now.
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create topics " + missing.stream().map(NewTopic::name).toList()
                        + ": " + e.getCause().getMessage(), e.getCause());
            }
        }
        awaitLeaders(admin, missing.stream().map(NewTopic::name).toList());
    }

    private static Map<String, String> configs(Spec spec, boolean deadLetters) {
        String retention = deadLetters ? spec.kafka().deadLetterRetentionDuration().map(d -> String.valueOf(d.toMillis()))
                .orElse("-1") : "-1";
        return Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, String.valueOf(MAX_MESSAGE_BYTES),
                TopicConfig.RETENTION_MS_CONFIG, retention,
                TopicConfig.RETENTION_BYTES_CONFIG, "-1");
    }

    /**
     * Waits until every partition of the new topics has a leader. A send to a partition still without one is
     * refused (NOT_LEADER_OR_FOLLOWER) and retried; an idempotent producer with several requests in flight may then
     * see a later batch appended first, and the retried one never fits the sequence again.
     */
    private static void awaitLeaders(Admin admin, List<String> topics) {
        long deadline = System.nanoTime() + LEADER_TIMEOUT.toNanos();
        while (true) {
            try {
                boolean led = admin.describeTopics(topics).allTopicNames().get().values().stream()
                        .allMatch(d -> d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
                if (led) {
                    return;
                }
            } catch (ExecutionException e) {
                // Just created: the broker may not know them yet.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the new topics' leaders", e);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the new topics " + topics + " have no leader for every partition after "
                        + LEADER_TIMEOUT.toSeconds() + " s");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the new topics' leaders", e);
            }
        }
    }
}
