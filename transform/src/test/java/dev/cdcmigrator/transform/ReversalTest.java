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

    private static final String PETS = """
            cats:
              into: pets
              key: [kind, id]
              columns: { id: { from: id }, name: { from: name }, kind: { value: cat }, lives: { from: lives } }
            dogs:
              into: pets
              key: [kind, id]
              columns: { id: { from: id }, name: { from: title }, kind: { value: dog } }
            """;

    @Test
    void aMergedTableComesBackAsASplitByItsDiscriminator() {
        Spec back = Reversal.inverse(spec(PETS));
        TableSpec pets = back.tables().get("pets");
        assertThat(back.tables()).containsOnlyKeys("pets");
        assertThat(pets.split()).extracting(m -> m.into(), m -> m.where(), m -> m.key()).containsExactly(
                org.assertj.core.groups.Tuple.tuple("cats", "string(row['kind']) == 'cat'", List.of("id")),
                org.assertj.core.groups.Tuple.tuple("dogs", "string(row['kind']) == 'dog'", List.of("id")));
        assertThat(pets.split().get(0).columns().keySet()).containsExactly("id", "name", "lives");
        assertThat(pets.split().get(1).columns().get("title").from()).isEqualTo("name");
        assertThat(pets.drop()).as("the discriminator is read, by the parts' where").isEmpty();

        Map<String, Boolean> v1Columns = new LinkedHashMap<>();
        List.of("id", "name", "lives").forEach(column -> v1Columns.put(column, false));
        assertThat(Reversal.findings(spec(PETS), "cats", v1Columns)).singleElement().satisfies(f -> {
            assertThat(f.refused()).isFalse();
            assertThat(f.path()).isEqualTo("tables.cats.columns.kind.value");
            assertThat(f.message()).contains("sends each of its rows to the v1 table its kind names (cats for cat)")
                    .contains("does not come back");
        });
    }

    @Test
    void aMergeWithoutADiscriminatorInTheKeyIsRefusedOnEveryMergedTable() {
        String noKey = """
                cats: { into: pets, columns: { id: { from: id }, kind: { value: cat } } }
                dogs: { into: pets, columns: { id: { from: id }, kind: { value: dog } } }
                """;
        String sameValue = """
                cats: { into: pets, key: [kind, id], columns: { id: { from: id }, kind: { value: pet } } }
                dogs: { into: pets, key: [kind, id], columns: { id: { from: id }, kind: { value: pet } } }
                """;
        for (String tables : List.of(noKey, sameValue)) {
            assertThatThrownBy(() -> Reversal.inverse(spec(tables))).isInstanceOf(SpecException.class)
                    .hasMessageContaining("tables.cats").hasMessageContaining("tables.cats and tables.dogs are merged into"
                            + " v2 table pets without a discriminator");
            for (String v1 : List.of("cats", "dogs")) {
                assertThat(Reversal.findings(spec(tables), v1, Map.of("id", false))).singleElement().satisfies(f -> {
                    assertThat(f.refused()).isTrue();
                    assertThat(f.path()).isEqualTo("tables." + v1);
                    assertThat(f.fix()).startsWith("give each of tables.cats, tables.dogs a column such as kind: { value: cats }");
                });
            }
        }
    }

    private static final String REGIONS = """
            users:
              split:
                - { into: eu_users, key: [region, id], where: "row.region == 'eu'",
                    columns: { id: { from: id }, region: { from: region }, name: { from: name } } }
                - { into: us_users, key: [region, id], where: "row.region != 'eu'",
                    columns: { id: { from: id }, region: { from: region }, name: { from: name }, note: { from: note } } }
            """;

    @Test
    void aHorizontalSplitByKeyColumnsComesBackAsAMergeOfItsParts() {
        Spec back = Reversal.inverse(spec(REGIONS));
        assertThat(back.tables()).containsOnlyKeys("eu_users", "us_users");
        TableSpec eu = back.tables().get("eu_users");
        assertThat(eu.into()).isEqualTo("users");
        assertThat(eu.key()).containsExactly("region", "id");
        assertThat(eu.columns().keySet()).containsExactly("id", "region", "name");
        assertThat(back.tables().get("us_users").columns().keySet()).containsExactly("id", "region", "name", "note");

        Map<String, Boolean> v1Columns = new LinkedHashMap<>();
        List.of("id", "region", "name", "note").forEach(column -> v1Columns.put(column, false));
        assertThat(Reversal.findings(spec(REGIONS), "users", v1Columns)).singleElement().satisfies(f -> {
            assertThat(f.refused()).isFalse();
            assertThat(f.path()).isEqualTo("tables.users.split[0]");
            assertThat(f.message()).startsWith("v1 column note is not carried to v2");
        });
        v1Columns.put("note", true);
        assertThat(Reversal.findings(spec(REGIONS), "users", v1Columns)).singleElement()
                .satisfies(f -> assertThat(f.refused()).as("eu rows inserted on v2 have no note").isTrue());
    }

    @Test
    void everySplitThatCouldBringARowBackFromSeveralV2TablesIsRefusedNamingThePathAndWhy() {
        Map<String, String> refused = new LinkedHashMap<>();
        refused.put("""
                users:
                  split:
                    - { into: accounts, columns: { id: { from: id } } }
                    - { into: profiles, columns: { id: { from: id }, bio: { from: bio } } }
                """, "tables.users.split: is split vertically: tables.users.split[0] (into accounts) takes every v1 row");
        refused.put("""
                users:
                  split:
                    - { into: active, key: [id], where: "row.active", columns: { id: { from: id }, active: { from: active } } }
                    - { into: gone, key: [id], where: "!row.active", columns: { id: { from: id }, active: { from: active } } }
                """, "tables.users.split[0].where: is split horizontally by v1 column active, which is not in the key [id]");
        refused.put("""
                users:
                  split:
                    - { into: small, where: "row.id < 10", columns: { id: { from: id } } }
                    - { into: big, where: "row.id >= 10", columns: { id: { from: id } } }
                """, "tables.users.split[0].key: names no key made of v1 columns that come back");
        refused.put("""
                users:
                  split:
                    - { into: small, key: [id], where: "row.id < 10", columns: { id: { from: id } } }
                    - { into: big, key: [id, n], where: "row.id >= 10", columns: { id: { from: id }, n: { from: n } } }
                """, "tables.users.split[1].key: comes back as the v1 key [id, n], and tables.users.split[0].key as [id]");
        refused.put("""
                users:
                  split:
                    - { into: small, key: [id], where: "row.size() > 0", columns: { id: { from: id } } }
                    - { into: big, key: [id], where: "row.id >= 10", columns: { id: { from: id } } }
                """, "tables.users.split[0].where: is split horizontally, but tables.users.split[0].where uses the row as a whole");
        refused.put("""
                users:
                  split:
                    - { into: small, key: [id], where: "row.id < 10", columns: { id: { from: id } } }
                    - { into: small, key: [id], where: "row.id >= 10", columns: { id: { from: id } } }
                """, "tables.users.split[1].into: is a second part of tables.users.split into v2 table small");
        refused.forEach((tables, message) -> {
            assertThatThrownBy(() -> Reversal.inverse(spec(tables))).as(message).isInstanceOf(SpecException.class)
                    .hasMessageContaining(message);
            assertThat(Reversal.findings(spec(tables), "users", Map.of("id", false))).as(message).singleElement()
                    .satisfies(f -> {
                        assertThat(f.refused()).isTrue();
                        assertThat(f.path() + ": " + f.message()).startsWith(message);
                        assertThat(f.fix()).contains("give every part a key and a where that reads only columns of the key");
                    });
        });
    }

    @Test
    void aSplitOfOnePartComesBackAsTheDirectForm() {
        TableSpec accounts = Reversal.inverse(spec("""
                users:
                  split:
                    - { into: accounts, columns: { id: { from: id }, name: { from: name } } }
                """)).tables().get("accounts");
        assertThat(accounts.into()).isEqualTo("users");
        assertThat(accounts.columns().keySet()).containsExactly("id", "name");
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
