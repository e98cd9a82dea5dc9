package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.common.event.SchemaReferences;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Debezium schemas one task's raw partition has carried inline, by id, so that the records naming them can be read
 * ({@link SchemaReferences}). Kept in a state store: under exactly-once the store and the task's committed offset move
 * together, so a task restarted or moved past the record that carried a schema inline still reads the records that
 * name it. Memory holds the schemas this task has already read or stored, so a record costs one map lookup.
 */
final class RawSchemas {

    private final KeyValueStore<Bytes, byte[]> store;
    private final String v1Table;
    private final Map<String, Envelopes.KnownSchema> known = new HashMap<>();

    RawSchemas(KeyValueStore<Bytes, byte[]> store, String v1Table) {
        this.store = store;
        this.v1Table = v1Table;
    }

    /**
     * Parses a raw record, reading a key or value its header says carries its payload alone with the schema it names.
     *
     * @throws MappingException when it is not a change, or names a schema this partition never carried
     */
    List<RawChange.Keyed> parse(Record<byte[], byte[]> record) {
        String keyRef = SchemaReferences.referenced(record.headers(), SchemaReferences.KEY_HEADER);
        String valueRef = SchemaReferences.referenced(record.headers(), SchemaReferences.VALUE_HEADER);
        byte[] key = record.key();
        return RawChange.parse(key == null ? null : () -> read(key, keyRef), read(record.value(), valueRef));
    }

    /**
     * The key or value with its schema inline, as a dead letter keeps it so that a replay reads it on its own; as it
     * is when it carries the schema already, or names one this partition never carried.
     */
    byte[] inline(byte[] bytes, String ref) {
        Envelopes.KnownSchema schema = ref == null || bytes == null ? null : resolve(ref);
        return schema == null ? bytes : SchemaReferences.inline(schema.bytes(), bytes);
    }

    private Envelopes.Envelope read(byte[] bytes, String ref) {
        if (ref == null) {
            Envelopes.Envelope envelope = Envelopes.read(bytes);
            if (envelope.known() != null && !known.containsKey(envelope.known().id())) {
                store.put(storeKey(envelope.known().id()), envelope.known().bytes());
                known.put(envelope.known().id(), envelope.known());
            }
            return envelope;
        }
        Envelopes.KnownSchema schema = resolve(ref);
        if (schema == null) {
            throw new MappingException(null, "the record names Debezium schema " + ref + ", which no earlier record of"
                    + " its partition of " + v1Table + "'s raw topic carried (was the topic truncated, or written by"
                    + " something other than capture?)");
        }
        return Envelopes.readPayload(bytes, schema);
    }

    private Envelopes.KnownSchema resolve(String id) {
        Envelopes.KnownSchema schema = known.get(id);
        if (schema == null) {
            byte[] stored = store.get(storeKey(id));
            if (stored != null) {
                schema = Envelopes.known(stored);
                known.put(id, schema);
            }
        }
        return schema;
    }

    private static Bytes storeKey(String id) {
        return Bytes.wrap(id.getBytes(StandardCharsets.UTF_8));
    }
}
