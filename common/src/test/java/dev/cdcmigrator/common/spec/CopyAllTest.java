package dev.cdcmigrator.common.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@code copy: all}: the columns a mapping copies without naming them, resolved against v1's columns. */
class CopyAllTest {

    private static final String SPEC = """
            version: 1
            source: { url: "jdbc:postgresql://db1/shop", user: migrator }
            target: { url: "jdbc:postgresql://db2/shop_v2", user: migrator }
            tables:
            %s""";

    private final SpecParser parser = new SpecParser(name -> null);

    private Spec parse(String tables) {
        return parser.parse(SPEC.formatted(tables.indent(2)), "spec.yaml");
    }

    @Test
    void copiesEveryV1ColumnNotNamedDroppedGeneratedOrFilledByADimension() {
        Spec spec = parse("""
                orders:
                  copy: all
                  columns:
                    total: { expr: "row.total * 100" }
                    source: { value: "v1" }
                  drop: [legacy]
                  dimensions:
                    tenant: { value: acme, column: tenant_id }
                customers: { copy: all }
                tags: { columns: { id: { from: id } } }
                """);
        assertThat(spec.copyingTables()).containsExactly("customers", "orders");
        assertThatThrownBy(() -> spec.tables().get("orders").mappings().get(0).columns())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("copy: all");

        Spec resolved = spec.withCopiedColumns(Map.of(
                "orders", List.of("id", "tenant_id", "total", "legacy", "placed_at", "total_cents"),
                "customers", List.of("id", "name")), Map.of("orders", Set.of("total_cents")));

        assertThat(resolved.copyingTables()).isEmpty();
        var orders = resolved.tables().get("orders").mappings().get(0).columns();
        assertThat(orders.keySet()).as("v1's order, then the new columns").containsExactly("id", "total", "placed_at", "source");
        assertThat(orders.get("id")).isEqualTo(ColumnSpec.from("id"));
        assertThat(orders.get("total").expr()).isEqualTo("row.total * 100");
        assertThat(resolved.tables().get("orders").drop()).containsExactly("legacy");
        assertThat(resolved.v2Columns().get("orders")).containsExactlyInAnyOrder("id", "total", "placed_at", "source", "tenant_id");
        assertThat(resolved.tables().get("customers").mappings().get(0).columns().keySet()).containsExactly("id", "name");
        assertThat(resolved.tables().get("tags")).isSameAs(spec.tables().get("tags"));
    }

    @Test
    void eachMappingOfASplitCopiesOnItsOwn() {
        Spec spec = parse("""
                users:
                  split:
                    - { into: accounts, copy: all, columns: { email: { expr: "row.email.lowerAscii()" } } }
                    - { into: profiles, key: [user_id], columns: { user_id: { from: id }, bio: { from: bio } } }
                """);
        Spec resolved = spec.withCopiedColumns(Map.of("users", List.of("id", "email", "bio")), Map.of());
        var mappings = resolved.tables().get("users").mappings();
        assertThat(mappings.get(0).columns().keySet()).containsExactly("id", "email", "bio");
        assertThat(mappings.get(0).columns().get("email").expr()).isEqualTo("row.email.lowerAscii()");
        assertThat(mappings.get(1).columns().keySet()).containsExactly("user_id", "bio");
    }

    @Test
    void copyTakesOnlyAllAndATableWithoutItNeedsColumns() {
        assertThatThrownBy(() -> parse("orders: { copy: some }")).isInstanceOf(SpecException.class)
                .hasMessageContaining("tables.orders.copy").hasMessageContaining("copy must be all");
        assertThatThrownBy(() -> parse("orders: { into: o }")).isInstanceOf(SpecException.class)
                .hasMessageContaining("columns is required and must name at least one v2 column (or copy: all)");
        assertThatThrownBy(() -> parse("orders: { copy: all, split: [ { copy: all } ] }")).isInstanceOf(SpecException.class)
                .hasMessageContaining("use either split or into/key/where/columns/copy, not both");
    }
}
