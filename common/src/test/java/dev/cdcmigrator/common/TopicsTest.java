package dev.cdcmigrator.common;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Topic names derived from any name PostgreSQL takes: legal for Kafka, stable, collision-free, short enough. */
class TopicsTest {

    private static final Pattern KAFKA_LEGAL = Pattern.compile("[a-zA-Z0-9._-]{1,249}");
    private static final List<String> NAMES = List.of("orders", "Order Lines", "Order_Lines", "order lines", "select",
            "Größe", "Grosse", "a\"b", "a_b", "a.b", "a,b", "a-b", "a b", "x\"; DROP TABLE y; --", "日本語", "_", "__",
            "n".repeat(63), "ä".repeat(31) + "a", "Order_Lines-" + Topics.topicPart("Order Lines").substring(12));

    @Test
    void plainNamesKeepTheTopicsTheyHad() {
        assertThat(Topics.topicPart("orders")).isEqualTo("orders");
        assertThat(Topics.topicPart("Order_Items2")).isEqualTo("Order_Items2");
        Topics topics = new Topics(spec("public"));
        assertThat(topics.raw("orders")).isEqualTo("app.raw.public.orders");
        assertThat(topics.v2("orders")).isEqualTo("app.v2.orders");
        assertThat(topics.lookups("users")).isEqualTo("app.lookups.users");
    }

    @Test
    void otherNamesGetALegalReadableNameWithADigestOfTheName() {
        assertThat(Topics.topicPart("Order Lines")).as("docs/spec.md's example").isEqualTo("Order_Lines-d02b9b46");
        assertThat(Topics.topicPart("Shop Data")).isEqualTo("Shop_Data-73680656");
        assertThat(Topics.topicPart("Größe")).matches("Gr__e-[0-9a-f]{8}");
        assertThat(Topics.topicPart("a.b")).matches("a_b-[0-9a-f]{8}");
        Topics topics = new Topics(spec("My Schema"));
        assertThat(topics.raw("Order Lines")).isEqualTo(
                "app.raw." + Topics.topicPart("My Schema") + "." + Topics.topicPart("Order Lines"));
        assertThat(Topics.raw("app.raw", "My Schema", "Order Lines")).isEqualTo(topics.raw("Order Lines"));
    }

    @Test
    void derivedNamesAreLegalStableAndDistinct() {
        Set<String> parts = new HashSet<>();
        for (String name : NAMES) {
            String part = Topics.topicPart(name);
            assertThat(part).as(name).matches("[A-Za-z0-9_-]+").doesNotContain(".");
            assertThat(Topics.topicPart(name)).as("stable").isEqualTo(part);
            assertThat(parts.add(part)).as("%s collides", name).isTrue();
        }
    }

    @Test
    void theLongestNamesStayWithinKafkasLimit() {
        String prefix = "p".repeat(40);
        String longest = "\"".repeat(63);
        Topics topics = new Topics(new SpecParser().parse(yaml(longest).replace("topicPrefix: app", "topicPrefix: " + prefix),
                "spec.yaml"));
        for (String topic : List.of(topics.raw(longest), topics.v2(longest), topics.lookups(longest))) {
            assertThat(topic).matches(KAFKA_LEGAL);
        }
        assertThat(topics.raw(longest)).hasSizeLessThanOrEqualTo(40 + ".raw.".length() + 2 * (63 + 9) + 1);
    }

    @Test
    void aV2TopicLeadsBackToItsTable() {
        Spec spec = spec("public");
        Topics topics = new Topics(spec);
        assertThat(topics.v2Table(spec, topics.v2("Order Lines"))).contains("Order Lines");
        assertThat(topics.v2Table(spec, "app.v2.other")).isEmpty();
    }

    private static Spec spec(String schema) {
        return new SpecParser().parse(yaml(schema), "spec.yaml");
    }

    private static String yaml(String name) {
        String quoted = "\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        return """
                version: 1
                source: { url: "jdbc:postgresql://db1/app", user: migrator, schema: %1$s }
                target: { url: "jdbc:postgresql://db2/app", user: migrator }
                kafka: { topicPrefix: app }
                tables:
                  %1$s:
                    into: "Order Lines"
                    columns: { id: { from: id } }
                """.formatted(quoted);
    }

    @Test
    void theSpecRefusesTwoTablesWhoseTopicNamesWouldMeet() {
        // Found by search: the same characters replaced, the same first 32 bits of the digest.
        assertThat(Topics.topicPart("t ,*<]")).isEqualTo(Topics.topicPart("t -)<{"));
        String yaml = yaml("public").replace("  \"public\":", "  \"t ,*<]\":\n    columns: { id: { from: id } }\n  \"t -)<{\":");

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SpecParser().parse(yaml, "spec.yaml"))
                .hasMessageContaining("v1 tables 't ,*<]' and 't -)<{' would share the topic name t_____-68ac3935;"
                        + " rename one of them");
    }
}
