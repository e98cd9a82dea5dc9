package dev.cdcmigrator.transform.internal.expr;

import dev.cel.common.types.CelType;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.common.values.CelValue;
import dev.cel.common.values.SelectableValue;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A JSON object (the row, or a jsonb value in it) as CEL sees it: a map from string to values already in CEL's value
 * model (see {@link CelValues#toCel}), read-only.
 *
 * <p>Why not a plain {@link Map}: cel-java's planner runtime normalizes a plain map on every attribute access, walking
 * it and every map nested in it (16 walks of the row for {@code row.params.?urgent.orValue(false) == true ? ... :
 * row.params.?background...}), which made CEL more than half of the copy backfill's CPU. Being a {@link CelValue}
 * ends that walk: the runtime takes a CelValue as already normalized, selects fields through {@link SelectableValue},
 * and hands functions ({@code size}, {@code in}, comprehensions, equality) the {@link Map} itself.
 */
final class CelMap extends CelValue implements SelectableValue<String>, Map<String, Object> {

    private static final MapType TYPE = MapType.create(SimpleType.STRING, SimpleType.DYN);

    private final Map<String, Object> values;

    /**
     * @param values column or key to CEL value, in the order to keep; neither copied nor wrapped (the runtime iterates
     *     {@link #value()}, and an unmodifiable view allocates a wrapper per entry on every pass), so not to be changed
     *     after
     */
    CelMap(Map<String, Object> values) {
        this.values = values;
    }

    @Override
    public Map<String, Object> value() {
        return values;
    }

    @Override
    public boolean isZeroValue() {
        return values.isEmpty();
    }

    @Override
    public CelType celType() {
        return TYPE;
    }

    @Override
    public Object select(String field) {
        Object value = values.get(field);
        if (value == null) {
            // The message cel-java gives for a missing key of a plain map, which ExpressionException turns into text.
            throw dev.cel.common.exceptions.CelAttributeNotFoundException.forMissingMapKey(field);
        }
        return value;
    }

    @Override
    public Optional<Object> find(String field) {
        return Optional.ofNullable(values.get(field));
    }

    @Override
    public int size() {
        return values.size();
    }

    @Override
    public boolean isEmpty() {
        return values.isEmpty();
    }

    @Override
    public boolean containsKey(Object key) {
        return values.containsKey(key);
    }

    @Override
    public boolean containsValue(Object value) {
        return values.containsValue(value);
    }

    @Override
    public Object get(Object key) {
        return values.get(key);
    }

    @Override
    public Object put(String key, Object value) {
        throw new UnsupportedOperationException("a row is read-only in an expression");
    }

    @Override
    public Object remove(Object key) {
        throw new UnsupportedOperationException("a row is read-only in an expression");
    }

    @Override
    public void putAll(Map<? extends String, ?> m) {
        throw new UnsupportedOperationException("a row is read-only in an expression");
    }

    @Override
    public void clear() {
        throw new UnsupportedOperationException("a row is read-only in an expression");
    }

    @Override
    public Set<String> keySet() {
        return values.keySet();
    }

    @Override
    public Collection<Object> values() {
        return values.values();
    }

    @Override
    public Set<Entry<String, Object>> entrySet() {
        return values.entrySet();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Map<?, ?> other && values.equals(other instanceof CelMap m ? m.values : other);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
