package dev.cdcmigrator.avro;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.V2Change;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Writes v2 changes as the records of the v2 topics in Avro, Confluent's wire format: the message key a {@code Key}
 * record of the v2 key columns (subject {@code <topic>-key}), the value an {@code Envelope} (subject
 * {@code <topic>-value}); see {@link V2TableSchema}. Schemas are registered (or looked up, per
 * {@code auto.register.schemas}) on the first record that needs them.
 *
 * <p>The {@code Value} record of a change has exactly the columns the change carries, typed from the v2 table's
 * catalog ({@link V2Catalog}): Avro cannot tell a column left out from a NULL, and the sink, which reads each record
 * with the schema it was written with, writes exactly the columns the record has. So columns the migration does not
 * write (filled by their defaults, or by the application) stay out of the schema and are never overwritten, and v1
 * tables merged into one v2 table with different columns each get their own schema version. A delete carries no row
 * image; its {@code Value} record type has the columns the spec writes to the table ({@code deleteColumns}), so that
 * deletes do not add schema versions of their own.
 *
 * <p>A change with a column the catalog does not know reads the catalog again (a v2 column added during the
 * migration): the next record then registers a new version of the subject, which the registry accepts when it is
 * compatible (at the default BACKWARD level: the new column is nullable or has a constant default) and refuses with an
 * {@link IncompatibleSchemaException} naming the subject otherwise. Thread-safe.
 */
public final class V2AvroWriter {

    private record Shape(String table, List<String> key, Set<String> columns) {
    }

    private final ConfluentAvroSerializer keys;
    private final ConfluentAvroSerializer values;
    private final V2Catalog catalog;
    private final String namespace;
    private final Map<String, Set<String>> deleteColumns;
    private final Map<Shape, V2AvroConverter> converters = new ConcurrentHashMap<>();

    /**
     * @param client the registry
     * @param catalog the v2 tables' columns
     * @param deleteColumns per v2 table, the columns the spec writes to it (the {@code Value} record type of deletes)
     */
    public V2AvroWriter(SchemaRegistryClient client, V2Catalog catalog, Map<String, ? extends Collection<String>> deleteColumns) {
        this.keys = new ConfluentAvroSerializer(client, true);
        this.values = new ConfluentAvroSerializer(client, false);
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.namespace = V2TableSchema.DEFAULT_NAMESPACE;
        this.deleteColumns = deleteColumns.entrySet().stream()
                .collect(Collectors.toUnmodifiableMap(Map.Entry::getKey, e -> new LinkedHashSet<>(e.getValue())));
    }

    /**
     * The message key of a change of {@code table}: a framed {@code Key} record.
     *
     * @throws AvroConversionException if a key value does not convert exactly or a key column is not in the table
     * @throws SchemaRegistryException if the registry refuses the key schema or cannot be reached
     */
    public byte[] key(String topic, String table, ObjectNode key) {
        List<String> keyColumns = names(key);
        return keys.serialize(topic, converter(table, keyColumns, new LinkedHashSet<>(keyColumns)).keyToAvro(key));
    }

    /**
     * The message value of a change: a framed {@code Envelope} record.
     *
     * @throws AvroConversionException if the change leaves columns unchanged ({@link V2Change#partial()}), which the
     *     Envelope cannot say, or a value does not convert exactly (more digits than the column keeps, NULL in a NOT
     *     NULL column, text that is not of the column's type) or a column is not in the v2 table
     * @throws SchemaRegistryException if the registry refuses the schema (an {@link IncompatibleSchemaException} when
     *     incompatible) or cannot be reached
     */
    public byte[] value(String topic, V2Change change) {
        if (change.partial()) {
            // The Envelope has no field for it, and a column left out of the Value is one the migration does not write.
            throw new AvroConversionException(change.unchanged().get(0), "v2 table " + change.table() + " key "
                    + change.key() + ": columns " + change.unchanged() + " are to keep the values v2 holds (unchanged"
                    + " TOASTed values the change does not carry, and no earlier image of the row is known), which an"
                    + " Avro v2 record cannot say; use JSON v2 topics, or REPLICA IDENTITY FULL on the source table");
        }
        List<String> key = names(change.key());
        Set<String> columns;
        if (change.after() != null) {
            columns = new LinkedHashSet<>(names(change.after()));
        } else {
            columns = new LinkedHashSet<>(key);
            columns.addAll(deleteColumns.getOrDefault(change.table(), Set.of()));
        }
        return values.serialize(topic, converter(change.table(), key, columns).toAvro(change));
    }

    private V2AvroConverter converter(String table, List<String> key, Set<String> columns) {
        return converters.computeIfAbsent(new Shape(table, key, columns), this::converter);
    }

    private V2AvroConverter converter(Shape shape) {
        List<V2Column> all = catalog.columns(shape.table());
        if (!hasAll(all, shape.columns())) {
            all = catalog.reread(shape.table());
        }
        List<V2Column> selected = new ArrayList<>();
        for (V2Column column : all) {
            if (shape.columns().contains(column.name())) {
                selected.add(column);
            }
        }
        if (selected.size() < shape.columns().size()) {
            Set<String> missing = new LinkedHashSet<>(shape.columns());
            selected.forEach(c -> missing.remove(c.name()));
            String first = missing.iterator().next();
            throw new AvroConversionException(first, "v2 table " + shape.table() + " has no column" + (missing.size() > 1 ? "s " : " ")
                    + String.join(", ", missing) + " (its columns: " + all.stream().map(V2Column::name).collect(Collectors.joining(", "))
                    + "); add it to the v2 table or take it out of the spec");
        }
        return new V2AvroConverter(V2TableSchema.of(namespace, shape.table(), selected, shape.key()));
    }

    private static boolean hasAll(List<V2Column> columns, Set<String> names) {
        Set<String> known = columns.stream().map(V2Column::name).collect(Collectors.toSet());
        return known.containsAll(names);
    }

    private static List<String> names(ObjectNode node) {
        List<String> names = new ArrayList<>(node.size());
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
