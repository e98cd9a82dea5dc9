package dev.cdcmigrator.capture.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.CapturedColumns;
import io.debezium.relational.ColumnFilterMode;
import io.debezium.relational.Tables;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The include list as Debezium itself reads it (its own filter factory, as the connector builds it). */
class ColumnFilterTest {

    private static Tables.ColumnNameFilter filter(CapturedColumns columns, Map<String, Set<String>> identity) {
        return Tables.ColumnNameFilterFactory.createIncludeListFilter(
                ColumnFilter.includeList("app", "app_heartbeat", columns, identity), ColumnFilterMode.SCHEMA);
    }

    @Test
    void matchesExactlyTheReadAndIdentityColumnsWhateverTheirNames() {
        Tables.ColumnNameFilter filter = filter(new CapturedColumns(Map.of("people", new CapturedColumns.Table(
                new TreeSet<>(Set.of("Name", "a,b", "x.y", "名前", "back\\slash", "(?i)")), null))), Map.of("people", Set.of("id")));

        for (String carried : new String[] {"id", "Name", "a,b", "x.y", "名前", "back\\slash", "(?i)"}) {
            assertThat(filter.matches(null, "app", "people", carried)).as(carried).isTrue();
        }
        for (String left : new String[] {"ssn", "name", "ID", "a", "b", "xzy", "x", "back", "slash", "added_later", "Name2"}) {
            assertThat(filter.matches(null, "app", "people", left)).as(left).isFalse();
        }
        assertThat(filter.matches(null, "app", "other", "Name")).as("a table capture does not read").isFalse();
        assertThat(filter.matches(null, "other", "people", "Name")).as("another schema").isFalse();
        assertThat(filter.matches(null, "app", "app_heartbeat", "nonce")).as("the heartbeat table, whole").isTrue();
    }

    @Test
    void aTableReadWholeCarriesEveryColumn() {
        Tables.ColumnNameFilter filter = filter(new CapturedColumns(Map.of("agents", new CapturedColumns.Table(
                new TreeSet<>(), "tables.agents.columns.c.java is a Java function"))), Map.of());

        assertThat(filter.matches(null, "app", "agents", "anything")).isTrue();
        assertThat(filter.matches(null, "app", "agentsx", "anything")).isFalse();
    }
}
