package dev.cdcmigrator.cutover.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cdcmigrator.cutover.internal.TypeRules.Misfit;
import dev.cdcmigrator.transform.ValueKind;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TypeRulesTest {

    private static Optional<Misfit> misfit(ValueKind kind, String type, char category) {
        return TypeRules.misfit(kind, new TypeRules.Type(type, -1, type), category, false);
    }

    @Test
    void aKindNoValueOfTheTypeCanComeFromIsNever() {
        assertThat(misfit(ValueKind.BOOL, "int4", 'N')).hasValueSatisfying(m -> assertThat(m.never()).isTrue());
        assertThat(misfit(ValueKind.DOUBLE, "int8", 'N')).hasValueSatisfying(m -> assertThat(m.never()).isTrue());
        assertThat(misfit(ValueKind.MAP, "timestamptz", 'D')).hasValueSatisfying(m -> assertThat(m.never()).isTrue());
        assertThat(misfit(ValueKind.LIST, "bool", 'B')).hasValueSatisfying(m -> assertThat(m.never()).isTrue());
        assertThat(TypeRules.misfit(ValueKind.INT, new TypeRules.Type("int4", -1, "integer[]"), 'A', true))
                .hasValueSatisfying(m -> assertThat(m.never()).isTrue());
    }

    @Test
    void aKindOnlySomeValuesOfWhichFitIsARisk() {
        assertThat(misfit(ValueKind.INT, "bool", 'B')).hasValueSatisfying(m -> assertThat(m.never()).isFalse());
        assertThat(misfit(ValueKind.STRING, "jsonb", 'U')).hasValueSatisfying(m -> assertThat(m.never()).isFalse());
        assertThat(misfit(ValueKind.BOOL, "mood", 'E')).hasValueSatisfying(m -> assertThat(m.never()).isFalse());
        assertThat(misfit(ValueKind.INT, "date", 'D')).hasValueSatisfying(m -> assertThat(m.never()).isFalse());
    }

    @Test
    void whatTheInputFunctionAlwaysTakesFits() {
        assertThat(misfit(ValueKind.INT, "int2", 'N')).isEmpty();
        assertThat(misfit(ValueKind.DOUBLE, "numeric", 'N')).isEmpty();
        assertThat(misfit(ValueKind.MAP, "jsonb", 'U')).isEmpty();
        assertThat(misfit(ValueKind.LIST, "json", 'U')).isEmpty();
        assertThat(misfit(ValueKind.BOOL, "text", 'S')).isEmpty();
        assertThat(misfit(ValueKind.MAP, "varchar", 'S')).isEmpty();
        assertThat(misfit(ValueKind.STRING, "uuid", 'U')).isEmpty();
        assertThat(misfit(ValueKind.STRING, "mood", 'E')).isEmpty();
        assertThat(misfit(ValueKind.ANY, "int4", 'N')).isEmpty();
        assertThat(TypeRules.misfit(ValueKind.LIST, new TypeRules.Type("_text", -1, "text[]"), 'A', true)).isEmpty();
    }
}
