package dev.cdcmigrator.transform.internal.expr;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.transform.ValueKind;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TypedRowTest {

    private final TypedRow row = TypedRow.of(Map.of("id", "int8", "name", "varchar", "price", "float8", "active", "bool",
            "params", "jsonb", "created", "timestamptz"));

    @Test
    void aColumnThatDoesNotExistIsNamed() {
        assertThat(row.check("row.nmae.trim()").problem()).hasValueSatisfying(p -> assertThat(p).contains("nmae"));
    }

    @Test
    void arithmeticOnTextIsATypeError() {
        assertThat(row.check("row.name + 1").problem()).hasValueSatisfying(p -> assertThat(p).contains("_+_").contains("string"));
    }

    @Test
    void whatIsRightForTheTypesPasses() {
        assertThat(row.check("row.name.trim().lowerAscii()").problem()).isEmpty();
        assertThat(row.check("row.id + 1").problem()).isEmpty();
        assertThat(row.check("row.price * 2.0").problem()).isEmpty();
        assertThat(row.check("row.active ? 'yes' : 'no'").problem()).isEmpty();
        assertThat(row.check("row.name == null ? 'unknown' : row.name").problem()).isEmpty();
        assertThat(row.check("has(row.name) && row.name != ''").problem()).isEmpty();
        assertThat(row.check("row.?name.orValue('none')").problem()).isEmpty();
        assertThat(row.check("row.params.urgent == true ? 'high' : 'normal'").problem()).isEmpty();
        assertThat(row.check("row.created").problem()).isEmpty();
        assertThat(row.check("{'n': row.name, 'id': row.id}").problem()).isEmpty();
    }

    @Test
    void theResultKindIsWhatTheCheckerInfers() {
        assertThat(row.check("row.id + 1").result()).isEqualTo(ValueKind.INT);
        assertThat(row.check("row.price * 2.0").result()).isEqualTo(ValueKind.DOUBLE);
        assertThat(row.check("row.active").result()).as("a nullable column: its type").isEqualTo(ValueKind.BOOL);
        assertThat(row.check("row.name.trim()").result()).isEqualTo(ValueKind.STRING);
        assertThat(row.check("[row.name]").result()).isEqualTo(ValueKind.LIST);
        assertThat(row.check("{'n': row.name}").result()).isEqualTo(ValueKind.MAP);
        assertThat(row.check("row.params").result()).as("jsonb is dyn").isEqualTo(ValueKind.ANY);
        assertThat(row.check("row['id'] > 1").result()).as("an indexed row still has a typed result").isEqualTo(ValueKind.BOOL);
        assertThat(row.check("row.name + 1").result()).as("a problem has no kind").isEqualTo(ValueKind.ANY);
    }

    @Test
    void indexingTheRowIsLeftToRunTime() {
        assertThat(row.check("row['nmae']").problem()).isEmpty();
        assertThat(row.check("'name' in row").problem()).isEmpty();
    }

    @Test
    void aColumnThatIsNoCelIdentifierIsCheckedWhereTheRowIsIndexedByItsName() {
        TypedRow odd = TypedRow.of(Map.of("Order Lines", "int4", "a\"b", "text", "in", "bool", "Größe", "float8",
                "_0", "text"));

        assertThat(odd.check("row['Order Lines'] + 1").result()).isEqualTo(ValueKind.INT);
        assertThat(odd.check("row[\"a\\\"b\"] + '!'").problem()).isEmpty();
        assertThat(odd.check("row['in'] ? row['Größe'] * 2.0 : 0.0").result()).isEqualTo(ValueKind.DOUBLE);
        assertThat(odd.check("row._0 + row['a\"b']").result()).as("a column named like a stand-in").isEqualTo(ValueKind.STRING);
        assertThat(odd.check("has(row['Order Lines'])").problem()).isEmpty();
        assertThat(odd.check("row['Order Lines'] + 'x'").problem()).as("shown as written")
                .hasValueSatisfying(p -> assertThat(p).contains("_+_").contains("row['Order Lines'] + 'x'"));
        assertThat(odd.check("row['Order Lines'] + 'row[\"in\"]'").problem()).as("a literal that looks like an index")
                .hasValueSatisfying(p -> assertThat(p).contains("_+_").contains("row['Order Lines'] + 'row[\"in\"]'"));
    }
}
