package dev.cdcmigrator.capture.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.Topics;
import io.debezium.relational.ColumnFilterMode;
import io.debezium.relational.Selectors;
import io.debezium.relational.TableId;
import io.debezium.relational.Tables;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
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

    @Test
    void theTableListNamesExactlyTheTablesWhateverTheirNames() {
        List<String> tables = List.of("Order Lines", "a,b", "x.y", "x\"; DROP TABLE y; --", "Größe");
        Predicate<TableId> selected = Selectors.tableSelector()
                .includeTables(ColumnFilter.tableList("Shop Data", tables)).build();

        for (String table : tables) {
            assertThat(selected.test(new TableId(null, "Shop Data", table))).as(table).isTrue();
        }
        for (String other : new String[] {"order lines", "a", "b", "xzy", "Order_Lines", "Größe2"}) {
            assertThat(selected.test(new TableId(null, "Shop Data", other))).as(other).isFalse();
        }
        assertThat(selected.test(new TableId(null, "shop data", "Order Lines"))).isFalse();
    }

    @Test
    void debeziumNamesTheTopicOfATableAsTheTransformExpectsIt() {
        Properties props = new Properties();
        props.setProperty("topic.prefix", "app.raw");
        RawTopicNaming naming = new RawTopicNaming(props);

        assertThat(naming.dataChangeTopic(new TableId(null, "Shop Data", "Order Lines")))
                .isEqualTo(Topics.raw("app.raw", "Shop Data", "Order Lines"))
                .isEqualTo("app.raw.Shop_Data-73680656.Order_Lines-d02b9b46");
        assertThat(naming.dataChangeTopic(new TableId(null, "public", "orders")))
                .isEqualTo("app.raw.public.orders");
    }
}
