package dev.cdcmigrator.common.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code otherTables: copy}: every v1 table the spec does not list that v2 also has, mapped as {@code copy: all}. */
class OtherTablesTest {

    private static final String SPEC = """
            version: 1
            source: { url: "jdbc:postgresql://db1/shop", user: migrator }
            target: { url: "jdbc:postgresql://db2/shop_v2", user: migrator }
            """;

    private final SpecParser parser = new SpecParser(name -> null);

    private Spec parse(String rest) {
        return parser.parse(SPEC + rest, "spec.yaml");
    }

    @Test
    void withoutTablesTheSpecMapsOnlyTheOthersOnceResolved() {
        Spec spec = parse("otherTables: copy\n");
        assertThat(spec.otherTables()).isEqualTo(OtherTables.COPY);
        assertThat(spec.listedTables()).isEmpty();
        assertThatThrownBy(spec::tables).as("a stage must not see the listed tables only")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("otherTables");
        assertThat(parse("otherTables: copy\ntables: {}\n").listedTables()).isEmpty();

        Spec resolved = spec.withOtherTables(List.of("customers", "orders"));
        assertThat(resolved.otherTables()).isNull();
        assertThat(resolved.tables()).containsOnlyKeys("customers", "orders");
        assertThat(resolved.copyingTables()).containsExactly("customers", "orders");
        assertThat(resolved.tables().get("orders").v2Tables("orders")).containsExactly("orders");
    }

    @Test
    void listedTablesKeepTheirMappingAndTheOthersCopyAll() {
        Spec spec = parse("""
                otherTables: copy
                tables:
                  users: { into: accounts, columns: { id: { from: id }, email: { from: mail } } }
                """);
        Spec resolved = spec.withOtherTables(List.of("tags"))
                .withCopiedColumns(Map.of("tags", List.of("id", "label")), Map.of());
        assertThat(resolved.tables().get("users")).isSameAs(spec.listedTables().get("users"));
        assertThat(resolved.tables().get("tags").mappings().get(0).columns().keySet()).containsExactly("id", "label");
        assertThat(resolved.v2Columns()).containsOnlyKeys("accounts", "tags");
        assertThatThrownBy(() -> spec.withOtherTables(List.of("users"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("users is listed");
    }

    @Test
    void copiedColumnsLeaveOtherTablesUnresolved() {
        Spec spec = parse("otherTables: copy\ntables: { tags: { copy: all } }\n");
        Spec copied = spec.withCopiedColumns(Map.of("tags", List.of("id")), Map.of());
        assertThat(copied.otherTables()).as("only withOtherTables resolves it").isEqualTo(OtherTables.COPY);
    }

    @Test
    void takesOnlyCopyAndWithoutItTablesAreRequired() {
        assertThatThrownBy(() -> parse("otherTables: all\n")).isInstanceOf(SpecException.class)
                .hasMessageContaining("spec.yaml: otherTables: otherTables must be copy");
        assertThatThrownBy(() -> parse("otherTables: true\n")).isInstanceOf(SpecException.class)
                .hasMessageContaining("otherTables");
        assertThatThrownBy(() -> parse("otherTables: { copy: all }\n")).isInstanceOf(SpecException.class)
                .hasMessageContaining("spec.yaml: otherTables: expected one of copy");
        assertThatThrownBy(() -> parse("othertables: copy\n")).isInstanceOf(SpecException.class)
                .hasMessageContaining("unknown key 'othertables'").hasMessageContaining("otherTables");
        assertThatThrownBy(() -> parse("tables: {}\n")).isInstanceOf(SpecException.class)
                .hasMessageContaining("tables is required and must map at least one v1 table (or set otherTables: copy)");
    }
}
