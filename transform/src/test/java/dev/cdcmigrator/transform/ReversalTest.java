package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.transform.Reversal.Finding;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReversalTest {

    private static Spec spec(String tables) {
        return new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u1, password: p1, schema: legacy }
                target: { url: "jdbc:postgresql://v2/app", user: u2, password: p2, schema: app, stateSchema: st }
                kafka: { topicPrefix: app, partitions: 4 }
                backfill: { mode: copy }
                tables:
                """ + tables.indent(2), "t.yaml");
    }

    private static final String TASKS = """
            tasks:
              into: jobs
              key: [tenant_id, id]
              columns:
                id: { from: id }
                title: { from: name }
                kind: { value: task }
                state: { from: status, map: { created: pending, running: active } }
                priority: { from: prio, map: { "1": low, "2": low, "3": high } }
                retries: { from: retries, default: 0 }
                summary: { expr: "row.name + ' (' + row.status + ')'" }
              dimensions:
                tenant: { value: acme }
                platform: { from: origin }
            """;

    @Test
    void theWayBackReadsV2AndWritesV1UnderItsOwnPrefixWithoutASnapshot() {
        Spec back = Reversal.inverse(spec(TASKS));
        assertThat(back.source().url()).isEqualTo("jdbc:postgresql://v2/app");
        assertThat(back.source().user()).isEqualTo("u2");
        assertThat(back.source().schema()).isEqualTo("app");
        assertThat(back.target().url()).isEqualTo("jdbc:postgresql://v1/app");
        assertThat(back.target().password()).isEqualTo("p1");
        assertThat(back.target().schema()).isEqualTo("legacy");
        assertThat(back.target().stateSchema()).isEqualTo("st");
        assertThat(back.kafka().topicPrefix()).isEqualTo("app_reverse");
        assertThat(back.kafka().partitions()).isEqualTo(4);
        assertThat(back.debezium()).containsEntry("snapshot.mode", "no_data");
        assertThat(back.backfill().mode()).isEqualTo(dev.cdcmigrator.common.spec.BackfillSpec.Mode.DEBEZIUM);
        assertThat(dev.cdcmigrator.common.Topics.otherDirection(back)).isEqualTo("app");
        assertThat(dev.cdcmigrator.common.Topics.otherDirection(spec(TASKS))).isEqualTo("app_reverse");
    }

    @Test
    void renamesOneToOneMapsAndFromDimensionsInvertConstantsAndOtherDimensionsAreDropped() {
        TableSpec jobs = Reversal.inverse(spec(TASKS)).tables().get("jobs");
        assertThat(jobs.into()).isEqualTo("tasks");
        assertThat(jobs.columns().keySet()).containsExactly("id", "name", "status", "retries", "origin");
        assertThat(jobs.columns().get("name").from()).isEqualTo("title");
        ColumnSpec status = jobs.columns().get("status");
        assertThat(status.from()).isEqualTo("state");
        assertThat(status.map()).hasToString("{pending=\"created\", active=\"running\"}");
        assertThat(status.otherwise()).isNull();
        assertThat(jobs.columns().get("retries").defaultValue()).as("the default stays on v2's side").isNull();
        assertThat(jobs.columns().get("retries").nonDeterministic()).as("verify cannot tell a default from v1's value").isTrue();
        assertThat(jobs.columns().get("name").nonDeterministic()).isFalse();
        assertThat(jobs.columns().get("origin").from()).isEqualTo("platform");
        // The tenant is a constant: not part of the v1 key.
        assertThat(jobs.key()).containsExactly("id");
        assertThat(jobs.drop()).containsExactlyInAnyOrder("kind", "priority", "summary", "tenant_id");
    }

    @Test
    void everyV1ColumnWithoutAWayBackIsNamedWithItsPathAndTheFix() {
        Spec forward = spec(TASKS);
        Map<String, Boolean> v1Columns = new LinkedHashMap<>();
        for (String column : List.of("id", "name", "status", "prio", "retries", "origin", "notes", "created_by")) {
            v1Columns.put(column, column.equals("created_by"));
        }
        List<Finding> findings = Reversal.findings(forward, "tasks", v1Columns);
        assertThat(findings).filteredOn(Finding::refused).extracting(Finding::path, Finding::message).containsExactly(
                org.assertj.core.groups.Tuple.tuple("tables.tasks.columns.priority.from",
                        "v1 column prio has no way back: the map of tables.tasks.columns.priority.from sends several v1"
                                + " values to one v2 value"),
                org.assertj.core.groups.Tuple.tuple("tables.tasks", "v1 column created_by is NOT NULL without a default"
                        + " and v2 does not have it: a row inserted on v2 cannot come back"));
        assertThat(findings).filteredOn(Finding::refused).first().extracting(Finding::fix)
                .isEqualTo("give tables.tasks.reverse.prio (a column over the v2 row: from a v2 column, or expr)");
        assertThat(findings).filteredOn(f -> !f.refused()).extracting(Finding::path).containsExactly(
                "tables.tasks.columns.retries.default", "tables.tasks");
    }

    @Test
    void theTablesReverseGivesTheWayBackWhereTheSpecCannotInvert() {
        Spec forward = spec("""
                tasks:
                  columns:
                    id: { from: id }
                    state: { from: status, map: { created: pending, queued: pending }, otherwise: pending }
                    label: { expr: "row.name.upperAscii()" }
                  reverse:
                    status: { from: state, map: { pending: queued } }
                    name: { expr: "row.label.lowerAscii()" }
                """);
        TableSpec tasks = Reversal.inverse(forward).tables().get("tasks");
        assertThat(tasks.columns().keySet()).containsExactly("status", "name", "id");
        assertThat(tasks.columns().get("name").expr()).isEqualTo("row.label.lowerAscii()");
        Map<String, Boolean> v1Columns = new LinkedHashMap<>();
        List.of("id", "status", "name").forEach(column -> v1Columns.put(column, false));
        assertThat(Reversal.findings(forward, "tasks", v1Columns)).isEmpty();

        Spec without = spec("""
                tasks:
                  columns:
                    id: { from: id }
                    state: { from: status, map: { created: pending, queued: pending }, otherwise: pending }
                    label: { expr: "row.name.upperAscii()" }
                """);
        assertThat(Reversal.findings(without, "tasks", v1Columns)).extracting(Finding::refused, Finding::path).containsExactly(
                org.assertj.core.groups.Tuple.tuple(true, "tables.tasks.columns.state.from"),
                org.assertj.core.groups.Tuple.tuple(true, "tables.tasks.columns.label.expr"));
        assertThat(Reversal.findings(without, "tasks", v1Columns).get(0).message())
                .endsWith("sends every value it lacks to otherwise");
    }

    @Test
    void aJavaColumnLeavesEveryColumnNothingElseBringsBackWithoutAWayBack() {
        Spec forward = spec("""
                agents:
                  columns:
                    id: { from: id }
                    configuration: { java: dev.cdcmigrator.transform.ShoutingName }
                """);
        assertThat(Reversal.findings(forward, "agents", Map.of("config", false)))
                .singleElement().satisfies(f -> {
                    assertThat(f.refused()).isTrue();
                    assertThat(f.message()).startsWith("v1 column config has no way back: tables.agents.columns.configuration");
                });
    }

    @Test
    void splitAndMergedTablesAreRefusedNamingThePath() {
        assertThatThrownBy(() -> Reversal.inverse(spec("""
                users:
                  split:
                    - { into: accounts, columns: { id: { from: id } } }
                    - { into: profiles, columns: { id: { from: id } } }
                """))).isInstanceOf(SpecException.class).hasMessageContaining("tables.users.split")
                .hasMessageContaining("no way back");
        assertThatThrownBy(() -> Reversal.inverse(spec("""
                cats: { into: pets, columns: { id: { from: id }, kind: { value: cat } } }
                dogs: { into: pets, columns: { id: { from: id }, kind: { value: dog } } }
                """))).isInstanceOf(SpecException.class).hasMessageContaining("tables.dogs")
                .hasMessageContaining("merged");
    }

    @Test
    void aPrefixTooLongForTheWayBackIsRefusedAtItsPath() {
        Spec forward = new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: a_prefix_of_exactly_forty_characters_xx }
                tables: { t: { columns: { id: { from: id } } } }
                """, "t.yaml");
        assertThatThrownBy(() -> Reversal.inverse(forward)).isInstanceOf(SpecException.class)
                .hasMessageContaining("kafka.topicPrefix").hasMessageContaining("at most 32 characters");
    }
}
