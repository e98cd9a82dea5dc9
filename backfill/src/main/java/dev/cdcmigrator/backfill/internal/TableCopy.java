package dev.cdcmigrator.backfill.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.BackfilledRow;
import dev.cdcmigrator.common.event.DeadLetter;
import dev.cdcmigrator.common.event.RawPartitions;
import dev.cdcmigrator.common.event.SnapshotCompleted;
import dev.cdcmigrator.common.serde.Json;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.KeyRanges;
import dev.cdcmigrator.pg.LookupRows;
import dev.cdcmigrator.pg.WireRows;
import dev.cdcmigrator.transform.ColumnReads;
import dev.cdcmigrator.transform.RowMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.postgresql.PGConnection;

/**
 * The copy of one v1 table: how its rows are read (in the transform's wire form), mapped (the transform's own code),
 * written to v2 (COPY) and announced to the transform (a {@link BackfilledRow} per row, in batches per raw partition).
 * A table without a primary key is read in ranges of physical blocks (ctid) rather than of keys, and none of its rows
 * is announced: the transform keeps no image of such a row (its changes are applied by their values alone).
 */
public final class TableCopy {

    /**
     * A batch record is sent once it holds this many bytes of rows: per-record costs (the broker, Kafka Streams'
     * processing and commits) were most of the transform's work on the backfill when every row was its own record,
     * and a quarter of the broker's default maximum leaves room for a large row.
     */
    private static final int BATCH_BYTES = 256 * 1024;

    private static final Set<String> INTEGER_KEYS = Set.of("int2", "int4", "int8");

    private final Spec spec;
    private final String table;
    private final String qualified;
    private final String rawTopic;
    private final int partitions;
    private final List<String> primaryKey;
    private final List<String> keyTypes;
    private final boolean integerKey;
    private final boolean keyless;
    private final WireRows wire;
    private final RowMapper mapper;
    private final Map<String, Set<String>> arrayColumns;

    private TableCopy(Spec spec, String table, String rawTopic, int partitions, List<String> primaryKey, List<String> keyTypes,
                      boolean integerKey, WireRows wire, RowMapper mapper, Map<String, Set<String>> arrayColumns) {
        this.spec = spec;
        this.table = table;
        this.qualified = SqlText.quote(spec.source().schema()) + "." + SqlText.quote(table);
        this.rawTopic = rawTopic;
        this.partitions = partitions;
        this.primaryKey = primaryKey;
        this.keyTypes = keyTypes;
        this.integerKey = integerKey;
        this.keyless = primaryKey.isEmpty();
        this.wire = wire;
        this.mapper = mapper;
        this.arrayColumns = arrayColumns;
    }

    /**
     * Plans the copy of {@code table} from what {@code v1} (inside the copy's snapshot) and {@code v2} show.
     *
     * @param partitions the raw topic's partition count
     * @throws IllegalStateException naming the table and column when the copy cannot take it
     */
    public static TableCopy plan(Spec spec, String table, Connection v1, Connection v2, int partitions) throws SQLException {
        String schema = spec.source().schema();
        Map<String, Catalog.Column> columns = Catalog.tableColumns(v1, schema, table, "v1");
        List<String> primaryKey = Catalog.primaryKey(v1, schema, table);
        boolean integerKey = primaryKey.size() == 1 && INTEGER_KEYS.contains(columns.get(primaryKey.get(0)).baseType());
        WireRows wire = WireRows.of(ColumnReads.captured(spec).of(table).retain(columns, CapturedColumns.identityColumns(v1, schema, table)));
        RowMapper mapper = null;
        Map<String, Set<String>> arrays = new HashMap<>();
        if (spec.tables().containsKey(table)) {
            LookupRows lookupRows = new LookupRows();
            mapper = new RowMapper(spec, table, primaryKey, wire.jsonColumns(), lookupRows::row);
            lookupRows.load(v1, schema, mapper.lookupColumns());
            for (var mapping : spec.tables().get(table).mappings()) {
                arrays.computeIfAbsent(mapping.v2Table(table), t -> arrayColumnsOf(v2, spec.target().schema(), t));
            }
        }
        return new TableCopy(spec, table, new Topics(spec).raw(table), partitions, primaryKey,
                primaryKey.stream().map(column -> columns.get(column).type()).toList(), integerKey, wire, mapper, arrays);
    }

    private static Set<String> arrayColumnsOf(Connection v2, String schema, String table) {
        try {
            Set<String> arrays = new HashSet<>();
            for (Catalog.Column column : Catalog.tableColumns(v2, schema, table, "v2").values()) {
                if (column.isArray()) {
                    arrays.add(column.name());
                }
            }
            return arrays;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the columns of v2 table " + schema + "." + table + ": " + e.getMessage(), e);
        }
    }

    public String table() {
        return table;
    }

    /**
     * Whether each of its chunks commits on its own. The transform skips the streamed changes a chunk copied by a
     * resumed backfill already holds by the chunk's key range ({@link SnapshotCompleted.Recopied}), which it can tell
     * only for a one-integer-column key; the chunks of any other key, or of a table without one, commit together, so
     * that a resumed backfill copies such a table again as a whole or not at all.
     */
    public boolean chunksCommitAlone() {
        return integerKey;
    }

    /** Whether the table has no primary key: it is copied by block ranges, and the transform gets none of its rows. */
    public boolean keyless() {
        return keyless;
    }

    /**
     * Cuts the table into chunks of about {@code chunkRows} rows: ranges of its primary key in the key's order
     * ({@link KeyRanges}), whatever its columns and types; for a table without one, ranges of blocks
     * ({@link #blockBounds}).
     */
    public List<Progress.Chunk> chunks(Connection v1, int chunkRows) throws SQLException {
        List<List<String>> bounds = keyless
                ? blockBounds(v1, chunkRows).stream().map(block -> List.of(Long.toString(block))).toList()
                : KeyRanges.sample(v1, qualified, primaryKey.stream().map(SqlText::quote).toList(), chunkRows);
        return KeyRanges.between(bounds).stream()
                .map(range -> new Progress.Chunk(table, range.index(), range.from(), range.to(), false)).toList();
    }

    /**
     * The first block of every chunk but the first, for chunks of about {@code chunkRows} rows: from the blocks of
     * the table's largest leaf partition (the table itself unless it is partitioned; a block range applies to each
     * leaf) and its rows, counted when PostgreSQL has no estimate yet (a table never vacuumed or analyzed).
     */
    private List<Long> blockBounds(Connection v1, int chunkRows) throws SQLException {
        long blocks;
        long rows;
        try (PreparedStatement ps = v1.prepareStatement("SELECT max(pg_relation_size(c.oid)) / current_setting('block_size')::bigint,"
                + " sum(greatest(c.reltuples, 0))::bigint, bool_or(c.reltuples < 0)"
                // pg_partition_tree lists nothing for a table that is not partitioned.
                + " FROM pg_class c WHERE c.oid = CAST(? AS regclass) AND c.relkind <> 'p'"
                + " OR c.oid IN (SELECT relid FROM pg_partition_tree(CAST(? AS regclass)) WHERE isleaf)")) {
            ps.setString(1, qualified);
            ps.setString(2, qualified);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                blocks = rs.getLong(1);
                rows = rs.getLong(2);
                if (rs.getBoolean(3)) {
                    rows = -1;
                }
            }
        }
        if (rows < 0) {
            try (PreparedStatement ps = v1.prepareStatement("SELECT count(*) FROM " + qualified); ResultSet rs = ps.executeQuery()) {
                rs.next();
                rows = rs.getLong(1);
            }
        }
        return blockBounds(blocks, rows, chunkRows);
    }

    /**
     * The first block of every chunk but the first: the table's {@code blocks} cut into ranges of equally many
     * blocks, each holding about {@code chunkRows} of its {@code rows} (at least one block). The first chunk starts
     * at block 0 and the last has no end, so rows in blocks added after the count are copied too.
     */
    static List<Long> blockBounds(long blocks, long rows, int chunkRows) {
        if (blocks <= 1 || rows <= chunkRows) {
            return List.of();
        }
        long perChunk = Math.max(1, (long) ((double) blocks * chunkRows / rows));
        List<Long> bounds = new ArrayList<>();
        for (long block = perChunk; block < blocks; block += perChunk) {
            bounds.add(block);
        }
        return bounds;
    }

    /**
     * The condition selecting a chunk's rows, then the key order, so that PostgreSQL reads the range from the key's
     * index; for a table without a key, its blocks' rows in physical order (a TID range scan, PostgreSQL 14 on). Its
     * parameters are {@link #bindRange}'s.
     */
    String rangeSql(Progress.Chunk chunk) {
        if (keyless) {
            List<String> ctid = List.of("ctid");
            List<String> tid = List.of("tid");
            return (chunk.after() == null ? "" : " AND " + KeyRanges.compare(ctid, tid, ">="))
                    + (chunk.upTo() == null ? "" : " AND " + KeyRanges.compare(ctid, tid, "<"));
        }
        List<String> key = primaryKey.stream().map(SqlText::quote).toList();
        return (chunk.after() == null ? "" : " AND " + KeyRanges.compare(key, keyTypes, ">"))
                + (chunk.upTo() == null ? "" : " AND " + KeyRanges.compare(key, keyTypes, "<="))
                + " ORDER BY " + String.join(", ", key);
    }

    void bindRange(PreparedStatement ps, Progress.Chunk chunk) throws SQLException {
        int next = 1;
        if (chunk.after() != null) {
            next = KeyRanges.bind(ps, next, bound(chunk.after()));
        }
        if (chunk.upTo() != null) {
            KeyRanges.bind(ps, next, bound(chunk.upTo()));
        }
    }

    /** A chunk bound as its comparison takes it: a block number as the block's first tuple id. */
    private List<String> bound(List<String> stored) {
        return keyless ? List.of("(" + Long.parseLong(stored.get(0)) + ",0)") : stored;
    }

    /** What copying a chunk did. */
    public record Copied(long rows, long deadLettered) {
    }

    /**
     * Reads one chunk from {@code v1} (inside the snapshot), maps its rows, sends their {@link BackfilledRow}s and the
     * dead letters of rows the spec cannot map, and waits until Kafka holds them; its v2 rows are written by
     * {@link Read#write}.
     *
     * @param slotLsn the slot's consistent point
     * @param copiedLsn the consistent point of the snapshot {@code v1} reads: the slot's, or a resumed copy's newer one
     */
    public Read read(Progress.Chunk chunk, Connection v1, Producer<byte[], byte[]> producer, long slotLsn, long copiedLsn)
            throws SQLException, IOException, InterruptedException {
        Map<String, CopyText> copies = new LinkedHashMap<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        String deadLetters = new Topics(spec).deadLetters();
        String source = spec.source().schema() + "." + table;
        List<String> jsonColumns = List.copyOf(wire.jsonColumns());
        Map<Integer, Batch> batches = new HashMap<>();
        long rows = 0;
        long dead = 0;
        // The key range and the key order (see rangeSql), after the select list.
        String where = rangeSql(chunk);
        try (PreparedStatement ps = v1.prepareStatement("SELECT " + wire.selectList() + " FROM " + qualified + " WHERE true" + where)) {
            ps.setFetchSize(10_000);
            bindRange(ps, chunk);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ObjectNode row = wire.read(rs);
                    ObjectNode key = Json.MAPPER.createObjectNode();
                    primaryKey.forEach(column -> key.set(column, row.get(column)));
                    int partition = keyless ? RawPartitions.KEYLESS : RawPartitions.of(key, partitions);
                    BackfilledRow seed = new BackfilledRow(source, slotLsn, copiedLsn, true, jsonColumns, key, row);
                    try {
                        if (mapper != null) {
                            RowMapper.Mapped mapped = mapper.mapped(row);
                            for (RowMapper.V2Row v2Row : mapped.rows()) {
                                copies.computeIfAbsent(v2Row.table(), t -> new CopyText(fieldNames(v2Row.values()),
                                        arrayColumns.getOrDefault(t, Set.of()))).add(v2Row.values());
                            }
                            seed = seed.withDimensions(mapped.dimensions());
                        }
                        // The transform applies a keyless row's changes by their values and keeps no image to seed.
                        if (!keyless) {
                            Batch batch = batches.computeIfAbsent(partition, p -> new Batch());
                            if (batch.add(Json.MAPPER.writeValueAsBytes(seed)) >= BATCH_BYTES) {
                                acks.add(producer.send(new ProducerRecord<>(rawTopic, partition, null, batches.remove(partition).value())));
                            }
                        }
                        rows++;
                    } catch (RowMapper.UnmappableRowException e) {
                        byte[] keyBytes = Json.MAPPER.writeValueAsBytes(Map.of("payload", key));
                        DeadLetter letter = DeadLetter.of("backfill", rawTopic, partition, -1, table, keyBytes, e.column(),
                                e.getMessage(), BackfilledRow.recordValue(List.of(seed.unapplied())));
                        acks.add(producer.send(new ProducerRecord<>(deadLetters, keyBytes, Json.MAPPER.writeValueAsBytes(letter))));
                        dead++;
                    }
                }
            }
        }
        batches.forEach((partition, batch) -> acks.add(producer.send(new ProducerRecord<>(rawTopic, partition, null, batch.value()))));
        producer.flush();
        for (Future<RecordMetadata> ack : acks) {
            try {
                ack.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("Kafka refused a backfilled row of " + source + ": " + e.getCause().getMessage(), e.getCause());
            }
        }
        return new Read(chunk, copies, rows, dead);
    }

    /** A chunk read, mapped and announced to the transform: its v2 rows, to be written. */
    public final class Read {

        private final Progress.Chunk chunk;
        private final Map<String, CopyText> copies;
        private final long rows;
        private final long deadLettered;

        private Read(Progress.Chunk chunk, Map<String, CopyText> copies, long rows, long deadLettered) {
            this.chunk = chunk;
            this.copies = copies;
            this.rows = rows;
            this.deadLettered = deadLettered;
        }

        /**
         * Writes the chunk's v2 rows with COPY and marks it copied in {@code v2}'s transaction, which the caller commits.
         *
         * @param recopied the snapshot it was read from when newer than the slot's, else null
         */
        public Copied write(Connection v2, Progress progress, String slot, SnapshotCompleted.Recopied recopied)
                throws SQLException, IOException {
            String source = spec.source().schema() + "." + table;
            PGConnection pg = v2.unwrap(PGConnection.class);
            for (Map.Entry<String, CopyText> copy : copies.entrySet()) {
                String target = SqlText.quote(spec.target().schema()) + "." + SqlText.quote(copy.getKey());
                String columns = String.join(", ", copy.getValue().columns().stream().map(SqlText::quote).toList());
                try {
                    pg.getCopyAPI().copyIn("COPY " + target + " (" + columns + ") FROM STDIN", new ByteArrayInputStream(copy.getValue().bytes()));
                } catch (SQLException e) {
                    throw new SQLException("copying chunk " + chunk.index() + " of v1 table " + source + " (" + range(chunk)
                            + ") into v2 table " + target + " failed: " + e.getMessage(), e.getSQLState(), e);
                }
            }
            progress.copied(v2, slot, chunk, rows, recopied);
            return new Copied(rows, deadLettered);
        }
    }

    private String range(Progress.Chunk chunk) {
        if (keyless) {
            return "blocks [" + (chunk.after() == null ? "0" : chunk.after().get(0)) + ", " + (chunk.upTo() == null ? "end" : chunk.upTo().get(0)) + ")";
        }
        return "keys " + (chunk.after() == null ? "(" : "(" + shown(chunk.after())) + ", " + (chunk.upTo() == null ? ")" : shown(chunk.upTo()) + "]");
    }

    private static String shown(List<String> values) {
        return values.size() == 1 ? values.get(0) : "(" + String.join(", ", values) + ")";
    }

    private static List<String> fieldNames(ObjectNode values) {
        List<String> names = new ArrayList<>();
        values.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** The serialized rows of one batch record ({@code {"backfill": [...]}}), written as they come. */
    private static final class Batch {

        private static final byte[] HEAD = ("{\"" + BackfilledRow.FIELD + "\":[").getBytes(StandardCharsets.UTF_8);

        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(BATCH_BYTES / 4);

        Batch() {
            bytes.writeBytes(HEAD);
        }

        /** Adds a serialized row; returns the batch's size. */
        int add(byte[] row) {
            if (bytes.size() > HEAD.length) {
                bytes.write(',');
            }
            bytes.writeBytes(row);
            return bytes.size();
        }

        byte[] value() {
            bytes.writeBytes("]}".getBytes(StandardCharsets.UTF_8));
            return bytes.toByteArray();
        }
    }
}
