package dev.cdcmigrator.transform.internal.expr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.serde.Json;
import java.math.BigDecimal;
import java.math.BigInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExpressionTest {

    /** A v1 row as the transform sees it: parsed by Json.MAPPER, jsonb columns as nested objects/arrays. */
    private static ObjectNode row(String json) {
        try {
            return (ObjectNode) Json.MAPPER.readTree(json.replace('\'', '"'));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    private static JsonNode json(String json) {
        try {
            return Json.MAPPER.readTree(json.replace('\'', '"'));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    private static JsonNode eval(String source, String rowJson) {
        return Expression.compile(source).evaluate(row(rowJson));
    }

    @Nested
    class Examples {

        private final Expression priority = Expression.compile(
                "row.params.urgent == true ? 'high' : row.params.background == true ? 'low' : 'normal'");

        @Test
        void priorityFromJsonbFlags() {
            assertThat(priority.evaluate(row("{'id': 'qq_1', 'params': {'urgent': true, 'background': false}}")))
                    .isEqualTo(json("'high'"));
            assertThat(priority.evaluate(row("{'id': 'qq_2', 'params': {'urgent': false, 'background': true}}")))
                    .isEqualTo(json("'low'"));
            assertThat(priority.evaluate(row("{'id': 'qq_3', 'params': {'urgent': false, 'background': false}}")))
                    .isEqualTo(json("'normal'"));
            // A flag stored as null is not true.
            assertThat(priority.evaluate(row("{'id': 'qq_4', 'params': {'urgent': null, 'background': null}}")))
                    .isEqualTo(json("'normal'"));
        }

        @Test
        void priorityFailsOnAnAbsentFlagUnlessTheExpressionGivesADefault() {
            ObjectNode noUrgent = row("{'id': 'qq_5', 'params': {'background': true}}");
            assertThatThrownBy(() -> priority.evaluate(noUrgent))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("key 'urgent' is not present in map")
                    .hasMessageContaining("at 1:11");

            Expression withDefaults = Expression.compile(
                    "row.params.?urgent.orValue(false) == true ? 'high'"
                            + " : row.params.?background.orValue(false) == true ? 'low' : 'normal'");
            assertThat(withDefaults.evaluate(noUrgent)).isEqualTo(json("'low'"));
            assertThat(withDefaults.evaluate(row("{'params': {}}"))).isEqualTo(json("'normal'"));

            Expression withHas = Expression.compile(
                    "has(row.params.urgent) && row.params.urgent == true ? 'high' : 'normal'");
            assertThat(withHas.evaluate(noUrgent)).isEqualTo(json("'normal'"));
            assertThat(withHas.evaluate(row("{'params': {'urgent': true}}"))).isEqualTo(json("'high'"));
        }

        @Test
        void migrationMetadataMap() {
            Expression metadata = Expression.compile("{'migrated_from': 'v1.x', 'original_status': row.status}");
            JsonNode value = metadata.evaluate(row("{'id': 7, 'status': 'archived', 'params': {}}"));
            assertThat(value).isEqualTo(json("{'migrated_from': 'v1.x', 'original_status': 'archived'}"));
            assertThat(value.isObject()).isTrue();
            // Key order is the literal's.
            assertThat(value.fieldNames()).toIterable().containsExactly("migrated_from", "original_status");
            assertThat(metadata.evaluate(row("{'status': null}")))
                    .isEqualTo(json("{'migrated_from': 'v1.x', 'original_status': null}"));
        }

        @Test
        void capabilitiesFromConfigFlagsDeduplicated() {
            Expression capabilities = Expression.compile(
                    "((row.config.supports_text_processing == true ? ['text_processing'] : [])"
                            + " + (row.agent_type == 'text_processor' ? ['text_processing', 'summarization'] : []))"
                            + ".distinct()");
            assertThat(capabilities.resultType()).isEqualTo("list(string)");
            assertThat(capabilities.evaluate(row(
                    "{'agent_type': 'text_processor', 'config': {'supports_text_processing': true, 'max_tokens': 2048}}")))
                    .isEqualTo(json("['text_processing', 'summarization']"));
            assertThat(capabilities.evaluate(row(
                    "{'agent_type': 'router', 'config': {'supports_text_processing': true}}")))
                    .isEqualTo(json("['text_processing']"));
            assertThat(capabilities.evaluate(row(
                    "{'agent_type': 'text_processor', 'config': {'supports_text_processing': false}}")))
                    .isEqualTo(json("['text_processing', 'summarization']"));
            assertThat(capabilities.evaluate(row(
                    "{'agent_type': 'router', 'config': {'supports_text_processing': false}}")))
                    .isEqualTo(json("[]"));
        }

        @Test
        void distinctKeepsFirstOccurrenceOrderAndSetsExtensionCompares() {
            assertThat(eval("row.tags.distinct()", "{'tags': ['b', 'a', 'b', 'c', 'a']}"))
                    .isEqualTo(json("['b', 'a', 'c']"));
            assertThat(eval("sets.contains(row.tags, ['a', 'c'])", "{'tags': ['b', 'a', 'c']}"))
                    .isEqualTo(json("true"));
            assertThat(eval("sets.equivalent(row.tags, ['a', 'b'])", "{'tags': ['b', 'a', 'b']}"))
                    .isEqualTo(json("true"));
        }
    }

    @Nested
    class Building {

        @Test
        void nestedMapsAndListsFromColumns() {
            JsonNode value = eval(
                    "{'who': {'sender': row.sender, 'receiver': row.receiver}, 'tags': row.tags + ['migrated'],"
                            + " 'count': size(row.tags)}",
                    "{'sender': 'alice', 'receiver': 'bob', 'tags': ['x']}");
            assertThat(value).isEqualTo(json(
                    "{'who': {'sender': 'alice', 'receiver': 'bob'}, 'tags': ['x', 'migrated'], 'count': 1}"));
        }

        @Test
        void jsonbPassesThroughUnchanged() {
            String params = "{'b': 1, 'a': [1, 2.5, 'x', null, true, {'deep': {'er': 'est'}}], 'c': null}";
            JsonNode value = eval("row.params", "{'params': " + params + "}");
            assertThat(value).isEqualTo(json(params));
            assertThat(value.fieldNames()).toIterable().containsExactly("b", "a", "c");
        }

        @Test
        void wholeRow() {
            String json = "{'id': 1, 'name': 'n', 'ok': false, 'params': {'k': [1]}, 'gone': null}";
            Expression whole = Expression.compile("row");
            assertThat(whole.evaluate(row(json))).isEqualTo(json(json));
            assertThat(eval("row.size()", json)).isEqualTo(json("5"));
            assertThat(eval("'gone' in row", json)).isEqualTo(json("true"));
        }

        @Test
        void nonStringMapKeysBecomeText() {
            assertThat(eval("{1: 'one', true: 'yes'}", "{}")).isEqualTo(json("{'1': 'one', 'true': 'yes'}"));
        }

        @Test
        void comprehensionsOverJsonb() {
            String row = "{'items': [{'sku': 'a', 'qty': 2}, {'sku': 'b', 'qty': 0}, {'sku': 'c', 'qty': 5}]}";
            assertThat(eval("row.items.filter(i, i.qty > 0).map(i, i.sku)", row)).isEqualTo(json("['a', 'c']"));
            assertThat(eval("row.items.exists(i, i.qty == 0)", row)).isEqualTo(json("true"));
            assertThat(eval("row.items.all(i, i.qty >= 0)", row)).isEqualTo(json("true"));
            assertThat(eval("row.items.map(i, i.qty).sort()", row)).isEqualTo(json("[0, 2, 5]"));
            assertThat(eval("row.params.transformMap(k, v, v + 1)", "{'params': {'a': 1, 'b': 2}}"))
                    .isEqualTo(json("{'a': 2, 'b': 3}"));
            assertThat(eval("cel.bind(p, row.params, p.a + p.b)", "{'params': {'a': 1, 'b': 2}}"))
                    .isEqualTo(json("3"));
        }

        @Test
        void jsonbObjectsAreCelMapsInEveryUse() {
            // Rows and jsonb objects reach CEL as already-normalized values (CelMap); they must still be maps to
            // equality, type(), size(), `in`, keys and comprehensions, nested ones included.
            String row = "{'params': {'a': 1, 'b': 2.5, 'deep': {'x': [1, {'y': true}]}}}";
            assertThat(eval("row.params == {'a': 1, 'b': 2.5, 'deep': {'x': [1, {'y': true}]}}", row)).isEqualTo(json("true"));
            assertThat(eval("{'a': 1, 'b': 2.5, 'deep': {'x': [1, {'y': true}]}} == row.params", row)).isEqualTo(json("true"));
            assertThat(eval("row.params == {'a': 1}", row)).isEqualTo(json("false"));
            assertThat(eval("row.params.deep == {'x': [1.0, {'y': true}]}", row)).isEqualTo(json("true"));
            assertThat(eval("type(row.params) == map && type(row.params.deep.x[1]) == map", row)).isEqualTo(json("true"));
            assertThat(eval("size(row.params.deep) + size(row.params)", row)).isEqualTo(json("4"));
            assertThat(eval("'deep' in row.params && !('z' in row.params.deep)", row)).isEqualTo(json("true"));
            assertThat(eval("row.params.deep.x[1].y && row.params['a'] == 1", row)).isEqualTo(json("true"));
            assertThat(eval("row.params.map(k, k)", row)).isEqualTo(json("['a', 'b', 'deep']"));
            assertThat(eval("row.params.exists(k, row.params[k] == 2.5)", row)).isEqualTo(json("true"));
            assertThat(eval("[row.params.deep, row.params.deep.x[1]]", row)).isEqualTo(json("[{'x': [1, {'y': true}]}, {'y': true}]"));
            assertThat(eval("row.params.deep.?x.orValue([]).size() + (has(row.params.deep.z) ? 1 : 0)", row)).isEqualTo(json("2"));
            assertThatThrownBy(() -> eval("row.params.deep.z", row)).isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("'z'");
        }
    }

    @Nested
    class Ternaries {

        @ParameterizedTest
        @CsvSource({"0, none", "1, few", "9, few", "10, many", "-3, none"})
        void chained(long n, String expected) {
            Expression e = Expression.compile("row.n <= 0 ? 'none' : row.n < 10 ? 'few' : 'many'");
            assertThat(e.evaluate(row("{'n': " + n + "}"))).isEqualTo(json("'" + expected + "'"));
        }

        @Test
        void branchesOfDifferentTypes() {
            Expression e = Expression.compile("row.kind == 'count' ? row.n : row.kind == 'label' ? row.label : null");
            assertThat(e.resultType()).isEqualTo("dyn");
            assertThat(e.evaluate(row("{'kind': 'count', 'n': 3, 'label': 'x'}"))).isEqualTo(json("3"));
            assertThat(e.evaluate(row("{'kind': 'label', 'n': 3, 'label': 'x'}"))).isEqualTo(json("'x'"));
            assertThat(e.evaluate(row("{'kind': 'other', 'n': 3, 'label': 'x'}"))).isEqualTo(json("null"));
        }

        @Test
        void onlyTheTakenBranchIsEvaluated() {
            // The absent key in the other branch does not fail the row.
            Expression e = Expression.compile("has(row.legacy) ? row.legacy : row.current");
            assertThat(e.evaluate(row("{'current': 'c'}"))).isEqualTo(json("'c'"));
        }
    }

    @Nested
    class Strings {

        @Test
        void prefixAndConcatenation() {
            assertThat(eval("row.id.startsWith('qq_')", "{'id': 'qq_123'}")).isEqualTo(json("true"));
            assertThat(eval("row.id.startsWith('qq_')", "{'id': 'zz_123'}")).isEqualTo(json("false"));
            assertThat(eval("row.sender + ':' + row.receiver", "{'sender': 'alice', 'receiver': 'bob'}"))
                    .isEqualTo(json("'alice:bob'"));
        }

        @Test
        void standardAndExtensionFunctions() {
            String r = "{'name': '  Mixed Case  ', 'path': 'a/b/c', 'email': 'Bob@Example.COM', 'n': 42}";
            assertThat(eval("row.name.trim().lowerAscii()", r)).isEqualTo(json("'mixed case'"));
            assertThat(eval("row.path.split('/')", r)).isEqualTo(json("['a', 'b', 'c']"));
            assertThat(eval("row.path.split('/').join('.')", r)).isEqualTo(json("'a.b.c'"));
            assertThat(eval("row.path.replace('/', '-')", r)).isEqualTo(json("'a-b-c'"));
            assertThat(eval("row.email.lowerAscii().endsWith('@example.com')", r)).isEqualTo(json("true"));
            assertThat(eval("row.email.contains('@')", r)).isEqualTo(json("true"));
            assertThat(eval("row.email.substring(0, row.email.indexOf('@'))", r)).isEqualTo(json("'Bob'"));
            assertThat(eval("row.email.matches('^[A-Za-z]+@')", r)).isEqualTo(json("true"));
            assertThat(eval("'n=' + string(row.n)", r)).isEqualTo(json("'n=42'"));
            assertThat(eval("regex.replace(row.path, '[^a-z]', '')", r)).isEqualTo(json("'abc'"));
        }

        @Test
        void unicode() {
            String r = "{'name': 'Zoë 🚀 東京', '名前': 'はな'}";
            assertThat(eval("row.name", r)).isEqualTo(json("'Zoë 🚀 東京'"));
            // size() counts code points, not UTF-16 units.
            assertThat(eval("size(row.name)", r)).isEqualTo(json("8"));
            assertThat(eval("row.name.substring(4, 5)", r)).isEqualTo(json("'🚀'"));
            assertThat(eval("row['名前'] + '!'", r)).isEqualTo(json("'はな!'"));
            assertThat(eval("row.name.upperAscii()", r)).isEqualTo(json("'ZOë 🚀 東京'"));
            assertThat(Expression.compile("row['名前'] + row.name").referencedColumns()).containsExactly("名前", "name");
        }
    }

    @Nested
    class Filters {

        @Test
        void booleanResult() {
            Expression filter = Expression.compileFilter("row.status != 'deleted' && !row.id.startsWith('test_')");
            assertThat(filter.test(row("{'id': 'a1', 'status': 'active'}"))).isTrue();
            assertThat(filter.test(row("{'id': 'a2', 'status': 'deleted'}"))).isFalse();
            assertThat(filter.test(row("{'id': 'test_3', 'status': 'active'}"))).isFalse();
        }

        @Test
        void dynResultCheckedPerRow() {
            Expression filter = Expression.compileFilter("row.params.enabled");
            assertThat(filter.test(row("{'params': {'enabled': true}}"))).isTrue();
            assertThat(filter.test(row("{'params': {'enabled': false}}"))).isFalse();
            assertThatThrownBy(() -> filter.test(row("{'params': {'enabled': 'yes'}}")))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("expected a boolean, got string \"yes\" from expression `row.params.enabled`");
            assertThatThrownBy(() -> filter.test(row("{'params': {'enabled': null}}")))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("expected a boolean, got null from expression `row.params.enabled`");
        }

        @Test
        void nonBooleanRejectedByTestAndAtCompileTimeByCompileFilter() {
            Expression notAFilter = Expression.compile("row.status");
            assertThatThrownBy(() -> notAFilter.test(row("{'status': 'ok'}")))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageStartingWith("expected a boolean, got string \"ok\"");
            assertThatThrownBy(() -> Expression.compile("size(row.tags)").test(row("{'tags': [1, 2]}")))
                    .hasMessageStartingWith("expected a boolean, got int 2");
            assertThatThrownBy(() -> Expression.compileFilter("row.name + '!'"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("a filter must be a bool expression, `row.name + '!'` is of type string");
        }

        @Test
        void errorAbsorbingLogic() {
            // CEL's && / || ignore an error on one side when the other side decides the result.
            Expression filter = Expression.compileFilter("row.kind == 'a' && row.params.flag == true");
            assertThat(filter.test(row("{'kind': 'b', 'params': {}}"))).isFalse();
            assertThatThrownBy(() -> filter.test(row("{'kind': 'a', 'params': {}}")))
                    .hasMessageContaining("key 'flag' is not present in map");
        }
    }

    @Nested
    class CompileErrors {

        @Test
        void syntaxError() {
            assertThatThrownBy(() -> Expression.compile("row.n +"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageStartingWith("invalid expression: 1:8: mismatched input '<EOF>'")
                    .hasMessageContaining("\n | row.n +\n | .......^");
            assertThatThrownBy(() -> Expression.compile("row.status == 'a' ? 'x'"))
                    .hasMessageStartingWith("invalid expression: 1:24:");
            assertThatThrownBy(() -> Expression.compile(""))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageStartingWith("invalid expression: ");
        }

        @Test
        void errorOnASecondLineShowsThatLine() {
            assertThatThrownBy(() -> Expression.compile("row.a == 1\n  && nosuch(row.b)"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("invalid expression: 2:12: undeclared reference to 'nosuch' (in container '')\n"
                            + " |   && nosuch(row.b)\n"
                            + " | ...........^");
        }

        @Test
        void unknownFunction() {
            assertThatThrownBy(() -> Expression.compile("row.name.toUpperCase()"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageStartingWith("invalid expression: 1:21: undeclared reference to 'toUpperCase'");
        }

        @Test
        void unknownVariable() {
            assertThatThrownBy(() -> Expression.compile("rows.id == 1"))
                    .hasMessageStartingWith("invalid expression: 1:1: undeclared reference to 'rows'");
        }

        @Test
        void typeErrorEvenWithDynColumns() {
            // row.a is dyn, but `+ 1` makes the left side int, and int == string has no overload: caught at compile.
            ExpressionException e = (ExpressionException) org.assertj.core.api.Assertions.catchThrowable(
                    () -> Expression.compile("row.a + 1 == 'x'"));
            assertThat(e.getMessage()).startsWith(
                    "invalid expression: 1:11: found no matching overload for '_==_' applied to '(int, string)'");
            assertThat(e.expression()).isEqualTo("row.a + 1 == 'x'");
            assertThatThrownBy(() -> Expression.compile("row.tags.size() + 'x'"))
                    .hasMessageContaining("found no matching overload for '_+_' applied to '(int, string)'");
        }

        @Test
        void everyErrorIsReported() {
            assertThatThrownBy(() -> Expression.compile("foo(row.a) + bar(row.b)"))
                    .hasMessageContaining("1:4: undeclared reference to 'foo'")
                    .hasMessageContaining("1:17: undeclared reference to 'bar'");
        }
    }

    @Nested
    class RuntimeErrors {

        @Test
        void absentColumn() {
            Expression e = Expression.compile("row.staus == 'active'");
            assertThatThrownBy(() -> e.evaluate(row("{'status': 'active'}")))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("expression `row.staus == 'active'` failed at 1:4: key 'staus' is not present in map.");
            assertThatThrownBy(() -> Expression.compile("row['staus']").evaluate(row("{'status': 'active'}")))
                    .hasMessageContaining("failed at 1:4: staus");
        }

        @Test
        void absentNestedKeyAndSelectOnNull() {
            assertThatThrownBy(() -> eval("row.params.missing", "{'params': {'present': 1}}"))
                    .hasMessage("expression `row.params.missing` failed at 1:11: key 'missing' is not present in map.");
            // params is a SQL/JSON null: selecting from it is an error too, even with has() or ?.
            assertThatThrownBy(() -> eval("row.params.urgent", "{'params': null}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("failed at 1:11");
            assertThatThrownBy(() -> eval("has(row.params.urgent)", "{'params': null}"))
                    .isInstanceOf(ExpressionException.class);
            // ... which the expression can guard against.
            assertThat(eval("row.params != null && has(row.params.urgent)", "{'params': null}"))
                    .isEqualTo(json("false"));
        }

        @Test
        void divisionByZero() {
            assertThatThrownBy(() -> eval("row.total / row.count", "{'total': 10, 'count': 0}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("expression `row.total / row.count` failed at 1:11: / by zero");
            assertThatThrownBy(() -> eval("row.total % row.count", "{'total': 10, 'count': 0}"))
                    .hasMessageContaining("by zero");
            // Double division by zero is IEEE: Infinity, which comes out as text.
            assertThat(eval("row.total / row.count", "{'total': 1.5, 'count': 0.0}")).isEqualTo(json("'Infinity'"));
        }

        @Test
        void wrongTypeAtRunTime() {
            // Type-checks (row.status is dyn) but the row holds a string.
            assertThatThrownBy(() -> eval("row.status + 1", "{'status': 'ok'}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageStartingWith("expression `row.status + 1` failed at 1:12: No matching overload for function '_+_'");
            // A dyn operand takes its overload from the literal: `* 2` is int multiplication.
            assertThatThrownBy(() -> eval("row.price * 2", "{'price': 9.99}"))
                    .hasMessageContaining("No matching overload for function '_*_'");
            assertThat(eval("row.price * 2.0", "{'price': 9.99}")).isEqualTo(json("19.98"));
            assertThatThrownBy(() -> eval("row.flag ? 1 : 2", "{'flag': 'yes'}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("failed at 1:10");
        }

        @Test
        void intOverflowIsAnError() {
            assertThatThrownBy(() -> eval("row.n + 1", "{'n': 9223372036854775807}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("long overflow");
        }

        @Test
        void integerBeyondSixtyFourBitsFailsTheRowRatherThanLoseDigits() {
            assertThatThrownBy(() -> eval("row.n", "{'n': 123456789012345678901234567890}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessage("expression `row.n` cannot read the row: column 'n': integer "
                            + "123456789012345678901234567890 is outside the range of a CEL int (64-bit signed)");
            // Columns the expression does not read are not converted, so they cannot fail it.
            assertThat(eval("row.m", "{'n': 123456789012345678901234567890, 'm': 1}")).isEqualTo(json("1"));
        }

        @Test
        void theSameExpressionKeepsWorkingAfterAFailure() {
            Expression e = Expression.compile("row.a / row.b");
            assertThatThrownBy(() -> e.evaluate(row("{'a': 1, 'b': 0}"))).isInstanceOf(ExpressionException.class);
            assertThat(e.evaluate(row("{'a': 9, 'b': 3}"))).isEqualTo(json("3"));
        }
    }

    @Nested
    class ReferencedColumns {

        @Test
        void selectsAndIndexes() {
            assertThat(Expression.compile(
                    "row.params.urgent == true ? 'high' : row.params.background == true ? 'low' : 'normal'")
                    .referencedColumns()).containsExactly("params");
            assertThat(Expression.compile("row.sender + ':' + row['receiver'] + row[\"third\"]").referencedColumns())
                    .containsExactly("sender", "receiver", "third");
            assertThat(Expression.compile("{'migrated_from': 'v1.x', 'original_status': row.status}")
                    .referencedColumns()).containsExactly("status");
            assertThat(Expression.compile("'constant'").referencedColumns()).isEmpty();
        }

        @Test
        void presenceTestsAndOptionalsCount() {
            assertThat(Expression.compile(
                    "has(row.a) ? row.?b.orValue(1) : row[?'c'].orValue(2)").referencedColumns())
                    .containsExactly("a", "b", "c");
        }

        @Test
        void insideMacrosAndNestedStructures() {
            assertThat(Expression.compile(
                    "row.items.filter(i, i.qty > row.min_qty).map(i, {'sku': i.sku, 'by': [row.owner]})")
                    .referencedColumns()).containsExactly("items", "min_qty", "owner");
        }

        @Test
        void comprehensionVariableNamedRowShadowsTheRow() {
            assertThat(Expression.compile("row.items.map(row, row.sku)").referencedColumns())
                    .containsExactly("items");
        }

        @Test
        void computedKeysAndWholeRowUseStillEvaluateCorrectly() {
            Expression computed = Expression.compile("row[row.which]");
            assertThat(computed.referencedColumns()).containsExactly("which");
            assertThat(computed.evaluate(row("{'which': 'b', 'a': 1, 'b': 2}"))).isEqualTo(json("2"));

            Expression whole = Expression.compile("row.filter(k, k.startsWith('x_')).size()");
            assertThat(whole.referencedColumns()).isEmpty();
            assertThat(whole.evaluate(row("{'x_a': 1, 'x_b': 2, 'y': 3}"))).isEqualTo(json("2"));
        }
    }

    @Nested
    class Nulls {

        @Test
        void nullColumn() {
            assertThat(eval("row.x == null", "{'x': null}")).isEqualTo(json("true"));
            assertThat(eval("row.x == null", "{'x': 'v'}")).isEqualTo(json("false"));
            assertThat(eval("row.x != null ? row.x : 'default'", "{'x': null}")).isEqualTo(json("'default'"));
            assertThat(eval("row.x", "{'x': null}")).isEqualTo(json("null"));
            assertThat(eval("has(row.x)", "{'x': null}")).isEqualTo(json("true"));
            assertThat(eval("[row.x, row.params.y]", "{'x': null, 'params': {'y': null}}"))
                    .isEqualTo(json("[null, null]"));
        }

        @Test
        void nullIsNotFalseOrEmpty() {
            assertThatThrownBy(() -> eval("row.x + 'suffix'", "{'x': null}"))
                    .isInstanceOf(ExpressionException.class)
                    .hasMessageContaining("No matching overload");
            assertThat(eval("row.x == false", "{'x': null}")).isEqualTo(json("false"));
        }

        @Test
        void optionalResults() {
            assertThat(eval("row.?missing", "{}")).isEqualTo(json("null"));
            assertThat(eval("row.?present", "{'present': 3}")).isEqualTo(json("3"));
            assertThat(eval("row.?a.?b.orValue('none')", "{}")).isEqualTo(json("'none'"));
            assertThat(eval("row.?a.?b.orValue('none')", "{'a': {'b': 'deep'}}")).isEqualTo(json("'deep'"));
        }
    }

    @Nested
    class Numbers {

        @Test
        void intStaysIntAndDoubleStaysDouble() {
            JsonNode sum = eval("row.n + 1", "{'n': 41}");
            assertThat(sum.isIntegralNumber()).isTrue();
            assertThat(sum).isEqualTo(json("42"));

            JsonNode half = eval("row.n / 2", "{'n': 5}");
            assertThat(half).isEqualTo(json("2")); // integer division

            JsonNode exactHalf = eval("double(row.n) / 2.0", "{'n': 5}");
            assertThat(exactHalf.isIntegralNumber()).isFalse();
            assertThat(exactHalf.decimalValue()).isEqualByComparingTo("2.5");

            // Json.MAPPER reads 1.5 as BigDecimal; it goes in as a double and out as a DecimalNode.
            JsonNode d = eval("row.d * 2.0", "{'d': 1.5}");
            assertThat(d.isBigDecimal()).isTrue();
            assertThat(d.decimalValue()).isEqualByComparingTo("3.0");
            assertThat(eval("row.d", "{'d': 0.1}")).isEqualTo(json("0.1"));

            assertThat(eval("type(row.n) == int && type(row.d) == double", "{'n': 1, 'd': 1.0}"))
                    .isEqualTo(json("true"));
            assertThat(eval("type(row.n)", "{'n': 1}")).isEqualTo(json("'int'"));
            assertThat(eval("int(row.d)", "{'d': 2.9}")).isEqualTo(json("2"));
        }

        @Test
        void mixedComparisonsCompareByValue() {
            assertThat(eval("row.n == 5.0", "{'n': 5}")).isEqualTo(json("true"));
            assertThat(eval("row.n < 5.5 && row.d > 5", "{'n': 5, 'd': 5.25}")).isEqualTo(json("true"));
            assertThat(eval("row.params.level >= 2", "{'params': {'level': 2.0}}")).isEqualTo(json("true"));
        }

        @Test
        void largeIntsStayExact() {
            // Beyond 2^53, where a double would round.
            assertThat(eval("row.id", "{'id': 9007199254740993}").longValue()).isEqualTo(9007199254740993L);
            assertThat(eval("row.id + 2", "{'id': 9007199254740993}").longValue()).isEqualTo(9007199254740995L);
            assertThat(eval("row.id", "{'id': 9223372036854775807}").longValue()).isEqualTo(Long.MAX_VALUE);
            assertThat(eval("row.id", "{'id': -9223372036854775808}").longValue()).isEqualTo(Long.MIN_VALUE);
            assertThat(eval("row.id == 9007199254740992", "{'id': 9007199254740993}")).isEqualTo(json("false"));
            assertThat(eval("row.params.big", "{'params': {'big': 1234567890123456789}}").longValue())
                    .isEqualTo(1234567890123456789L);
        }

        @Test
        void nonFiniteDoublesBecomeText() {
            ObjectNode r = row("{}");
            r.put("nan", Double.NaN);
            r.put("inf", Double.NEGATIVE_INFINITY);
            Expression e = Expression.compile("[row.nan, row.inf, row.inf < 0.0]");
            assertThat(e.evaluate(r)).isEqualTo(json("['NaN', '-Infinity', true]"));
        }

        @Test
        void unsigned() {
            assertThat(eval("uint(row.n) + 1u", "{'n': 41}")).isEqualTo(json("42"));
            assertThat(eval("18446744073709551615u", "{}").bigIntegerValue())
                    .isEqualTo(new BigInteger("18446744073709551615"));
        }

        @Test
        void mathExtension() {
            assertThat(eval("math.greatest(row.a, row.b)", "{'a': 3, 'b': 7}")).isEqualTo(json("7"));
            assertThat(eval("math.round(row.d)", "{'d': 2.5}").decimalValue()).isEqualByComparingTo(BigDecimal.valueOf(3));
        }
    }

    @Nested
    class OtherResultTypes {

        @Test
        void timestampsAndDurationsAsIso8601Text() {
            assertThat(eval("timestamp(row.created)", "{'created': '2024-01-02T03:04:05.123Z'}"))
                    .isEqualTo(json("'2024-01-02T03:04:05.123Z'"));
            assertThat(eval("timestamp(row.created) + duration('1h')", "{'created': '2024-01-02T03:04:05Z'}"))
                    .isEqualTo(json("'2024-01-02T04:04:05Z'"));
            assertThat(eval("duration('90s')", "{}")).isEqualTo(json("'PT1M30S'"));
            assertThat(eval("timestamp(row.created).getFullYear()", "{'created': '2024-01-02T03:04:05Z'}"))
                    .isEqualTo(json("2024"));
        }

        @Test
        void bytesAsBase64Text() {
            assertThat(eval("bytes(row.s)", "{'s': 'hi'}")).isEqualTo(json("'aGk='"));
            assertThat(eval("base64.encode(bytes(row.s))", "{'s': 'hi'}")).isEqualTo(json("'aGk='"));
        }
    }

    @Test
    void sourceAndResultType() {
        Expression e = Expression.compile("row.a == 1");
        assertThat(e.source()).isEqualTo("row.a == 1");
        assertThat(e.toString()).isEqualTo("row.a == 1");
        assertThat(e.resultType()).isEqualTo("bool");
        assertThat(Expression.compile("{'a': row.a}").resultType()).isEqualTo("map(string, dyn)");
    }

    @Test
    void reusableAcrossRowsAndThreads() throws InterruptedException {
        Expression e = Expression.compile("row.a * 2 + size(row.tags)");
        Thread[] threads = new Thread[4];
        long[] sums = new long[threads.length];
        for (int t = 0; t < threads.length; t++) {
            int slot = t;
            threads[t] = new Thread(() -> {
                for (int i = 0; i < 2_000; i++) {
                    sums[slot] += e.evaluate(row("{'a': " + i + ", 'tags': [1, 2]}")).longValue();
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long expected = 2L * (1999L * 2000L / 2) + 2L * 2000L;
        assertThat(sums).containsOnly(expected);
    }
}
