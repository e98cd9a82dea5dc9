package dev.cdcmigrator.transform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ColumnReadsTest {

    private static Spec spec(String tables) {
        return new SpecParser(n -> null).parse("""
                version: 1
                source: { url: "jdbc:postgresql://v1/app", user: u }
                target: { url: "jdbc:postgresql://v2/app", user: u }
                kafka: { topicPrefix: app }
                tables:
                """ + tables.indent(2), "t.yaml");
    }

    @Test
    void everyPartOfTheSpecThatReadsAColumnCountsAndNothingElseDoes() {
        Spec spec = spec("""
                tasks:
                  where: "row.state != 'draft' && has(row.flagged)"
                  key: [tenant_id, id]
                  columns:
                    id: { from: id }
                    title: { from: title, default: "row.fallback_title" }
                    urgency: { expr: "row.params.urgent == true ? row['level'] : row.?backup.orValue(0)" }
                    kind: { value: task }
                    status: { from: status, map: { a: b }, otherwise: c }
                  dimensions:
                    tenant: { lookup: { table: users, key: owner_id, column: org } }
                    platform: { expr: "row.platform", default: "row.source_platform" }
                users:
                  columns: { id: { from: id }, name: { from: name } }
                """);

        ColumnReads reads = ColumnReads.of(spec, "tasks");
        assertThat(reads.columns()).containsExactlyInAnyOrder("state", "flagged", "id", "title", "fallback_title",
                "params", "level", "backup", "status", "owner_id", "platform", "source_platform");
        assertThat(reads.wholeRow()).isEmpty();
        assertThat(reads.reads()).contains(
                new ColumnReads.Read("title", "tables.tasks.columns.title.from", true),
                new ColumnReads.Read("fallback_title", "tables.tasks.columns.title.default", false),
                new ColumnReads.Read("state", "tables.tasks.where", false),
                new ColumnReads.Read("owner_id", "tables.tasks.dimensions.tenant.lookup.key", true));

        CapturedColumns captured = ColumnReads.captured(spec);
        assertThat(captured.tables().keySet()).containsExactly("tasks", "users");
        assertThat(captured.of("tasks").read()).isEqualTo(new java.util.TreeSet<>(reads.columns()));
        // A lookup table carries what its own mapping reads and what the tables looking it up read of it.
        assertThat(captured.of("users").read()).containsExactly("id", "name", "org");
        assertThat(captured.of("users").everyColumn()).isFalse();
    }

    @Test
    void aJavaColumnOrAnExpressionUsingTheRowWholeCapturesEveryColumnAndSaysWhy() {
        Spec spec = spec("""
                a:
                  columns: { id: { from: id }, shout: { java: dev.cdcmigrator.transform.ShoutingName } }
                b:
                  columns: { id: { from: id }, n: { expr: "row.size()" } }
                c:
                  columns: { id: { from: id }, has_x: { expr: "'x' in row" } }
                d:
                  where: "row[row.which] != null"
                  columns: { id: { from: id } }
                e:
                  columns: { id: { from: id }, items: { expr: "row.items.map(row, row.sku)" } }
                """);
        CapturedColumns captured = ColumnReads.captured(spec);

        assertThat(captured.of("a").everyColumnBecause()).isEqualTo("tables.a.columns.shout.java is a Java function"
                + " (dev.cdcmigrator.transform.ShoutingName), which may read any column");
        assertThat(captured.of("b").everyColumnBecause()).isEqualTo("tables.b.columns.n.expr uses the row as a whole (`row.size()`)");
        assertThat(captured.of("c").everyColumnBecause()).startsWith("tables.c.columns.has_x.expr uses the row as a whole");
        assertThat(captured.of("d").everyColumnBecause()).startsWith("tables.d.where uses the row as a whole");
        // A comprehension variable named row is not the row: only the column it ranges over is read.
        assertThat(captured.of("e").everyColumn()).isFalse();
        assertThat(captured.of("e").read()).containsExactly("id", "items");
    }

    @Test
    void retainKeepsTheReadAndIdentityColumnsInTableOrder() {
        CapturedColumns.Table table = new CapturedColumns.Table(new java.util.TreeSet<>(Set.of("name", "email")), null);
        Map<String, Integer> columns = new java.util.LinkedHashMap<>();
        List.of("id", "name", "ssn", "email", "added_later").forEach(c -> columns.put(c, columns.size()));

        assertThat(table.retain(columns, Set.of("id")).keySet()).containsExactly("id", "name", "email");
        assertThat(new CapturedColumns.Table(new java.util.TreeSet<>(), "a java column").retain(columns, Set.of()))
                .isEqualTo(columns);
    }
}
