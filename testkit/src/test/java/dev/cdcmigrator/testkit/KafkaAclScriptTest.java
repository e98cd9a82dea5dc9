package dev.cdcmigrator.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;

class KafkaAclScriptTest {

    private static final String DEFINITIONS = """
            PREFIX=app                 # kafka.topicPrefix
            A=User:a
            B=User:b
            acl() { kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add "$@"; }
            """;

    @Test
    void expandsVariablesLoopsAndContinuationsIntoOneAclPerPrincipalOperationAndResource() {
        List<AclBinding> acls = KafkaAclScript.parse(DEFINITIONS + """
                for P in "$A" "$B"; do
                  acl --allow-principal "$P" --operation Describe --cluster
                done
                # a comment
                acl --allow-principal "$A" --operation Read --operation DescribeConfigs \\
                    --topic "$PREFIX." --resource-pattern-type prefixed
                acl --allow-principal "$B" --operation IdempotentWrite --cluster   # old brokers only
                acl --allow-principal "$B" --operation Write --transactional-id "${PREFIX}-t" --group 'g$x'
                """, Map.of("PREFIX", "mig", "BOOTSTRAP", "x", "ADMIN_CONFIG", "y"));

        ResourcePattern cluster = new ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL);
        ResourcePattern topics = new ResourcePattern(ResourceType.TOPIC, "mig.", PatternType.PREFIXED);
        assertThat(acls).containsExactly(
                acl(cluster, "User:a", AclOperation.DESCRIBE),
                acl(cluster, "User:b", AclOperation.DESCRIBE),
                acl(topics, "User:a", AclOperation.READ),
                acl(topics, "User:a", AclOperation.DESCRIBE_CONFIGS),
                acl(cluster, "User:b", AclOperation.IDEMPOTENT_WRITE),
                acl(new ResourcePattern(ResourceType.TRANSACTIONAL_ID, "mig-t", PatternType.LITERAL), "User:b", AclOperation.WRITE),
                acl(new ResourcePattern(ResourceType.GROUP, "g$x", PatternType.LITERAL), "User:b", AclOperation.WRITE));
    }

    @Test
    void refusesWhatItDoesNotUnderstandRatherThanLeavingAGrantOut() {
        Map<String, String> none = Map.of("BOOTSTRAP", "x", "ADMIN_CONFIG", "y");
        assertThatThrownBy(() -> KafkaAclScript.parse(DEFINITIONS + "kafka-acls.sh --add --topic t\n", none))
                .hasMessageContaining("not an ACL command");
        assertThatThrownBy(() -> KafkaAclScript.parse(DEFINITIONS + "acl --allow-principal \"$A\" --operation Read --producer --topic t\n", none))
                .hasMessageContaining("option --producer is not understood");
        assertThatThrownBy(() -> KafkaAclScript.parse(DEFINITIONS + "acl --allow-principal \"$C\" --operation Read --topic t\n", none))
                .hasMessageContaining("$C is not set");
        assertThatThrownBy(() -> KafkaAclScript.parse(DEFINITIONS + "acl --allow-principal \"$A\" --operation Reed --topic t\n", none))
                .hasMessageContaining("--operation Reed is not an operation");
        assertThatThrownBy(() -> KafkaAclScript.parse("acl() { kafka-acls.sh --remove \"$@\"; }\nacl --allow-principal User:a --operation Read --topic t\n", none))
                .hasMessageContaining("does not run kafka-acls.sh --add");
    }

    @Test
    void readsOnlyTheShellBlocksOfTheSection() {
        String markdown = """
                # Doc
                ## Other
                ```sh
                outside
                ```
                ## Kafka ACLs
                text
                ```yaml
                # not a heading
                ```
                ```sh
                one
                ```
                ### Sub
                ```sh
                two
                ```
                ## Next
                ```sh
                after
                ```
                """;

        assertThat(KafkaAclScript.shellBlocks(markdown, "## Kafka ACLs")).isEqualTo("one\ntwo\n");
        assertThatThrownBy(() -> KafkaAclScript.shellBlocks(markdown, "## Missing")).hasMessageContaining("no section");
    }

    private static AclBinding acl(ResourcePattern pattern, String principal, AclOperation operation) {
        return new AclBinding(pattern, new AccessControlEntry(principal, "*", operation, AclPermissionType.ALLOW));
    }
}
