package dev.cdcmigrator.transform.internal.expr;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TypedRowTest {

    private final TypedRow row = TypedRow.of(Map.of("id", "int8", "name", "varchar", "price", "float8", "active", "bool",
            "params", "jsonb", "created", "timestamptz"));

    @Test
    void aColumnThatDoesNotExistIsNamed() {
        assertThat(row.problem("row.nmae.trim()")).hasValueSatisfying(p -> assertThat(p).contains("nmae"));
    }

    @Test
    void arithmeticOnTextIsATypeError() {
        assertThat(row.problem("row.name + 1")).hasValueSatisfying(p -> assertThat(p).contains("_+_").contains("string"));
    }

    @Test
    void whatIsRightForTheTypesPasses() {
        assertThat(row.problem("row.name.trim().lowerAscii()")).isEmpty();
        assertThat(row.problem("row.id + 1")).isEmpty();
        assertThat(row.problem("row.price * 2.0")).isEmpty();
        assertThat(row.problem("row.active ? 'yes' : 'no'")).isEmpty();
        assertThat(row.problem("row.name == null ? 'unknown' : row.name")).isEmpty();
        assertThat(row.problem("has(row.name) && row.name != ''")).isEmpty();
        assertThat(row.problem("row.?name.orValue('none')")).isEmpty();
        assertThat(row.problem("row.params.urgent == true ? 'high' : 'normal'")).isEmpty();
        assertThat(row.problem("row.created")).isEmpty();
        assertThat(row.problem("{'n': row.name, 'id': row.id}")).isEmpty();
    }

    @Test
    void indexingTheRowIsLeftToRunTime() {
        assertThat(row.problem("row['nmae']")).isEmpty();
        assertThat(row.problem("'name' in row")).isEmpty();
    }
}
