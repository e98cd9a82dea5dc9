package dev.cdcmigrator.cutover.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.KeyRanges;
import dev.cdcmigrator.pg.KeyRanges.Range;
import dev.cdcmigrator.pg.LookupRows;
import dev.cdcmigrator.pg.WireRows;
import dev.cdcmigrator.transform.RowMapper;
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * One v2 table compared with what the spec makes of the v1 tables that feed it, in key-range chunks.
 *
 * <p>Per chunk, the v1 rows are read in the transform's wire form ({@link WireRows}) and mapped by the transform's own
 * code ({@link RowMapper}). The mapped values go to v2 as text, where PostgreSQL parses each with the v2 column's
 * type, as it does for the sink's writes, and prints it again; v2's stored values are printed the same way, in the same
 * session. Both sides reduce to a row count and an order-independent checksum (the sum of a 64-bit hash of each
 * row's text), so a matching chunk costs one query on v2 and sends nothing back. Only a chunk whose count or checksum
 * differs is compared row by row (a full join on the key), naming the keys and the columns.
 *
 * <p>A v2 table fed by a v1 table without a primary key has no key either: it is one chunk, compared as a multiset
 * (the checksum is a sum, so it counts duplicate rows), and a differing chunk lists each distinct row whose number of
 * copies differs, with both numbers.
 *
 * <p>Chunks are ranges of the v2 key when every source copies it from its v1 primary key, column for column, into
 * types that sort the same way, and it cannot be null in v2: then a range on the v1 key selects exactly the v1 rows
 * whose v2 rows fall in the same range on v2, and both sides use their key indexes. Otherwise the table is one chunk.
 */
public final class ChunkedTable {

    private static final int FETCH_ROWS = 1_000;
    private static final Set<String> INTEGERS = Set.of("int2", "int4", "int8");
    private static final Found NONE = new Found(0, List.of());

    /**
     * A v1 table feeding this v2 table through one of its mappings.
     *
     * @param v1Table the v1 table
     * @param qualified its quoted, schema-qualified name
     * @param wire how its rows are read
     * @param mapper its compiled mapping
     * @param primaryKey its primary key columns (empty when it has none)
     * @param rangeColumns the v1 columns the v2 key copies, in v2 key order; empty when the table is one chunk
     * @param rangeTypes their types, for casting range bounds
     */
    private record Source(String v1Table, String qualified, WireRows wire, RowMapper mapper, List<String> primaryKey,
                          List<String> rangeColumns, List<String> rangeTypes) {

        /** Names a v1 row for an operator: the table and its primary key (the whole row without one). */
        String label(ObjectNode row) {
            if (primaryKey.isEmpty()) {
                return v1Table + " " + row;
            }
            return v1Table + " " + primaryKey.stream().map(c -> c + "=" + V2Change.inputText(row.get(c)))
                    .collect(Collectors.joining(","));
        }
    }

    /**
     * Keys found in one chunk: how many, and the first few in key order.
     *
     * @param count how many
     * @param listed the first of them, at most the table's listing limit
     */
    public record Found(long count, List<String> listed) {
    }

    /**
     * How one chunk compares.
     *
     * @param v1Rows v1 rows read
     * @param mappedRows v2 rows the spec makes of them
     * @param v2Rows v2 rows in the range
     * @param differs whether the count or the checksum differed
     * @param missing keys of mapped rows that v2 lacks
     * @param extra keys of v2 rows that no v1 row produces
     * @param different keys of rows whose compared columns differ, each with the columns
     * @param rejected v1 rows that cannot become v2 rows, each with the reason
     */
    public record Outcome(long v1Rows, long mappedRows, long v2Rows, boolean differs, Found missing, Found extra,
                          Found different, Found rejected) {
    }

    /** Row count and checksum (a sum of 64-bit hashes, so exact as a decimal) of the mapped rows and of v2's. */
    private record Checksums(long mappedRows, BigDecimal mappedSum, long v2Rows, BigDecimal v2Sum) {

        boolean matches() {
            return mappedRows == v2Rows && mappedSum.compareTo(v2Sum) == 0;
        }
    }

    /** A mapped row: the compared columns' input texts, and the v1 row it came from. */
    private record Mapped(String[] values, String v1Row) {
    }

    private final String v2Table;
    private final String qualified;
    private final List<Source> sources;
    private final List<String> columns;
    private final List<String> types;
    /** Per compared column, whether it is of an array type (a domain over one too), as the sink decides it. */
    private final List<Boolean> arrays;
    private final List<Integer> key;
    private final List<String> keyColumns;
    private final List<Boolean> keyCollatable;
    private final List<String> notCompared;
    private final List<Range> ranges;
    private final int listed;

    private ChunkedTable(String v2Table, String qualified, List<Source> sources, List<String> columns, List<String> types,
                         List<Boolean> arrays, List<String> keyColumns, List<Boolean> keyCollatable, List<String> notCompared,
                         List<Range> ranges, int listed) {
        this.v2Table = v2Table;
        this.qualified = qualified;
        this.sources = sources;
        this.columns = columns;
        this.types = types;
        this.arrays = arrays;
        this.keyColumns = keyColumns;
        this.key = keyColumns.stream().map(columns::indexOf).toList();
        this.keyCollatable = keyCollatable;
        this.notCompared = notCompared;
        this.ranges = ranges;
        this.listed = listed;
    }

    /**
     * Plans the comparison of {@code v2Table}: reads both catalogs, compiles the mappings and cuts the key ranges, in
     * the snapshots the chunks will read.
     *
     * @param feeds the v1 tables that feed it, each with the index of its mapping into it
     * @param chunkRows about how many v1 rows a chunk holds
     * @param listed how many keys a chunk lists per kind of difference
     * @throws IllegalStateException naming the table, column or key when the databases do not fit the spec
     */
    public static ChunkedTable plan(Spec spec, String v2Table, List<Map.Entry<String, Integer>> feeds, Connection v1,
                                    Connection v2, int chunkRows, int listed) throws SQLException {
        String v2Schema = spec.target().schema();
        Map<String, Catalog.Column> v2Columns = Catalog.tableColumns(v2, v2Schema, v2Table, "v2");
        List<MappingSpec> mappings = feeds.stream()
                .map(f -> spec.tables().get(f.getKey()).mappings().get(f.getValue())).toList();
        // The v2 columns each feed writes: its mapped columns, then its dimension columns.
        List<Set<String>> written = new ArrayList<>();
        for (int i = 0; i < feeds.size(); i++) {
            written.add(spec.tables().get(feeds.get(i).getKey()).writtenColumns(mappings.get(i)));
        }

        List<String> mappedEverywhere = new ArrayList<>(written.get(0));
        Set<String> mappedAnywhere = new LinkedHashSet<>();
        Set<String> nonDeterministic = new HashSet<>();
        for (int i = 0; i < mappings.size(); i++) {
            MappingSpec mapping = mappings.get(i);
            mappedEverywhere.retainAll(written.get(i));
            mappedAnywhere.addAll(written.get(i));
            mapping.columns().forEach((column, c) -> {
                if (c.nonDeterministic()) {
                    nonDeterministic.add(column);
                }
            });
        }
        for (String column : mappedAnywhere) {
            if (!v2Columns.containsKey(column)) {
                throw new IllegalStateException("v2 table " + v2Schema + "." + v2Table + " has no column " + column + " that the spec maps");
            }
        }

        // One source per v1 table: its rows are read once, and every v2 row they give this table is compared.
        Map<String, Source> sources = new LinkedHashMap<>();
        List<String> keyColumns = null;
        for (int i = 0; i < feeds.size(); i++) {
            String v1Table = feeds.get(i).getKey();
            String v1Schema = spec.source().schema();
            Map<String, Catalog.Column> v1Columns = Catalog.tableColumns(v1, v1Schema, v1Table, "v1");
            List<String> primaryKey = Catalog.primaryKey(v1, v1Schema, v1Table);
            MappingSpec mapping = mappings.get(i);
            WireRows wire = WireRows.of(v1Columns);
            LookupRows lookupRows = new LookupRows();
            RowMapper mapper = new RowMapper(spec, v1Table, primaryKey, wire.jsonColumns(), lookupRows::row);
            lookupRows.load(v1, v1Schema, mapper.lookupColumns());
            List<String> mappingKey = mapper.keyColumns().get(feeds.get(i).getValue());
            if (keyColumns == null) {
                keyColumns = mappingKey;
            } else if (!keyColumns.equals(mappingKey)) {
                throw new IllegalStateException("the v1 tables feeding " + v2Table + " give it different keys: "
                        + keyColumns + " and " + mappingKey + " (from " + v1Table + "); name the same key in every mapping");
            }
            List<String> rangeColumns = rangeColumns(mapping, mappingKey, primaryKey, v1Columns, v2Columns);
            Source earlier = sources.get(v1Table);
            if (earlier != null && !earlier.rangeColumns().equals(rangeColumns)) {
                rangeColumns = List.of();
            }
            sources.put(v1Table, new Source(v1Table, quoted(v1Schema, v1Table), wire, mapper, primaryKey, rangeColumns,
                    rangeColumns.stream().map(c -> v1Columns.get(c).type()).toList()));
        }
        for (String column : keyColumns) {
            if (nonDeterministic.contains(column)) {
                throw new IllegalStateException("v2 key column " + v2Table + "." + column
                        + " is marked nonDeterministic; rows can only be compared by a deterministic key");
            }
        }
        List<String> compared = mappedEverywhere.stream().filter(c -> !nonDeterministic.contains(c)).toList();
        List<String> notCompared = mappedAnywhere.stream().filter(c -> !compared.contains(c)).toList();
        boolean chunked = sources.values().stream().noneMatch(s -> s.rangeColumns().isEmpty())
                && keyColumns.stream().allMatch(c -> v2Columns.get(c).notNull());
        List<Range> ranges = chunked ? ranges(v1, sources.values().iterator().next(), chunkRows) : KeyRanges.between(List.of());
        return new ChunkedTable(v2Table, quoted(v2Schema, v2Table), List.copyOf(sources.values()), compared,
                compared.stream().map(c -> v2Columns.get(c).type()).toList(),
                compared.stream().map(c -> v2Columns.get(c).isArray()).toList(), keyColumns,
                keyColumns.stream().map(c -> v2Columns.get(c).collation() != null).toList(), notCompared, ranges, listed);
    }

    /**
     * The v1 columns whose ranges select a v2 key range: the primary key, when the v2 key copies it column for column
     * into types that sort alike. Empty otherwise.
     */
    private static List<String> rangeColumns(MappingSpec mapping, List<String> v2Key, List<String> primaryKey,
                                             Map<String, Catalog.Column> v1Columns, Map<String, Catalog.Column> v2Columns) {
        List<String> copied = new ArrayList<>();
        for (String column : v2Key) {
            ColumnSpec spec = mapping.columns().get(column);
            // A dimension column (not a mapped one) in the key is no copy of a v1 key column.
            if (spec == null || spec.from() == null || spec.map() != null || !v1Columns.containsKey(spec.from())
                    || !sortAlike(v1Columns.get(spec.from()), v2Columns.get(column))) {
                return List.of();
            }
            copied.add(spec.from());
        }
        return copied.equals(primaryKey) ? copied : List.of();
    }

    private static boolean sortAlike(Catalog.Column v1, Catalog.Column v2) {
        boolean sameType = v1.baseType().equals(v2.baseType())
                || INTEGERS.contains(v1.baseType()) && INTEGERS.contains(v2.baseType());
        return sameType && Objects.equals(v1.collation(), v2.collation());
    }

    /** Cuts the source's key into ranges of about {@code chunkRows} rows, the last one open. */
    private static List<Range> ranges(Connection v1, Source source, int chunkRows) throws SQLException {
        return KeyRanges.between(KeyRanges.sample(v1, source.qualified(),
                source.rangeColumns().stream().map(SqlText::quote).toList(), chunkRows));
    }

    public String v2Table() {
        return v2Table;
    }

    /** The v1 tables feeding it, in spec order of v1 table names. */
    public List<String> v1Tables() {
        return sources.stream().map(Source::v1Table).toList();
    }

    /** The key ranges, each {@code [from, to)} of the v2 key, in key order; one open range when the table is not chunked. */
    public List<Range> ranges() {
        return ranges;
    }

    /** The mapped v2 columns that are not compared: non-deterministic ones, and those not every source writes. */
    public List<String> notCompared() {
        return notCompared;
    }

    /**
     * Compares one range, reading v1 on {@code v1} and v2 on {@code v2} (each inside its snapshot).
     *
     * @throws IllegalStateException when two v1 rows map to one v2 key
     */
    public Outcome compare(Range range, Connection v1, Connection v2) throws SQLException {
        Listing rejected = new Listing();
        List<Mapped> mapped = new ArrayList<>();
        long v1Rows = 0;
        Set<List<String>> keys = new HashSet<>();
        for (Source source : sources) {
            String sql = "SELECT " + source.wire().selectList() + " FROM " + source.qualified()
                    + where(source.rangeColumns().stream().map(SqlText::quote).toList(), source.rangeTypes(), range)
                    + (source.primaryKey().isEmpty() ? "" : " ORDER BY "
                    + source.primaryKey().stream().map(SqlText::quote).collect(Collectors.joining(", ")));
            try (PreparedStatement ps = v1.prepareStatement(sql)) {
                ps.setFetchSize(FETCH_ROWS);
                bindRange(ps, 1, range);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        v1Rows++;
                        ObjectNode row = source.wire().read(rs);
                        List<RowMapper.V2Row> rows;
                        try {
                            rows = source.mapper().map(row);
                        } catch (RowMapper.UnmappableRowException e) {
                            rejected.add(source.label(row) + ": " + e.getMessage());
                            continue;
                        }
                        for (RowMapper.V2Row v2Row : rows) {
                            if (v2Row.table().equals(v2Table)) {
                                String[] values = IntStream.range(0, columns.size())
                                        .mapToObj(i -> V2Change.inputText(v2Row.values().get(columns.get(i)), arrays.get(i)))
                                        .toArray(String[]::new);
                                List<String> keyValues = key.stream().map(i -> values[i]).toList();
                                if (!key.isEmpty() && !keys.add(keyValues)) {
                                    throw new IllegalStateException("two v1 rows map to one row of " + v2Table + ", key "
                                            + keyText(keyValues) + " (the second is " + source.label(row) + "); the v2 key "
                                            + keyColumns + " must identify one row");
                                }
                                mapped.add(new Mapped(values, source.label(row)));
                            }
                        }
                    }
                }
            }
        }
        Checksums sums = checksums(v2, mapped, range, rejected);
        long mappedRows = mapped.size();
        long v2Rows = sums.v2Rows();
        if (sums.matches()) {
            return new Outcome(v1Rows, mappedRows, v2Rows, false, NONE, NONE, NONE, rejected.found());
        }
        Listing missing = new Listing();
        Listing extra = new Listing();
        Listing different = new Listing();
        if (key.isEmpty()) {
            multisetDiff(v2, mapped, range, missing, extra, different);
            return new Outcome(v1Rows, mappedRows, v2Rows, true, missing.found(), extra.found(), different.found(), rejected.found());
        }
        try (PreparedStatement ps = v2.prepareStatement(diffSql(range))) {
            int next = bindMapped(ps, 1, v2, mapped);
            bindRange(ps, next, range);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    List<String> keyValues = new ArrayList<>();
                    for (int i = 0; i < keyColumns.size(); i++) {
                        keyValues.add(rs.getString(3 + i));
                    }
                    String keyText = keyText(keyValues);
                    if (rs.getObject(2) == null) {
                        missing.add(keyText);
                    } else if (rs.getObject(1) == null) {
                        extra.add(keyText);
                    } else {
                        List<String> differing = new ArrayList<>();
                        int flag = 3 + keyColumns.size();
                        for (int i = 0; i < columns.size(); i++) {
                            if (!key.contains(i) && rs.getBoolean(flag++)) {
                                differing.add(columns.get(i));
                            }
                        }
                        different.add(keyText + " " + differing);
                    }
                }
            }
        }
        return new Outcome(v1Rows, mappedRows, v2Rows, true, missing.found(), extra.found(), different.found(), rejected.found());
    }

    /**
     * Count and checksum of the mapped rows, then of v2's rows in the range. Mapped rows that v2 refuses (a value its
     * column type does not accept) move to {@code rejected} first, as the sink would dead-letter them.
     */
    private Checksums checksums(Connection v2, List<Mapped> mapped, Range range, Listing rejected) throws SQLException {
        String sql = "SELECT * FROM (" + checksumSql("(" + mappedSql(false) + ") m", "m") + ") a, ("
                + checksumSql("(" + actualSql(range) + ") t", "t") + ") b";
        Savepoint savepoint = v2.setSavepoint();
        try (PreparedStatement ps = v2.prepareStatement(sql)) {
            int next = bindMapped(ps, 1, v2, mapped);
            bindRange(ps, next, range);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new Checksums(rs.getLong(1), rs.getBigDecimal(2), rs.getLong(3), rs.getBigDecimal(4));
            }
        } catch (SQLException e) {
            if (!refused(e)) {
                throw e;
            }
            v2.rollback(savepoint);
            List<Mapped> refused = new ArrayList<>();
            findRefused(v2, mapped, refused);
            if (refused.isEmpty()) {
                throw e;
            }
            for (Mapped row : refused) {
                rejected.add(row.v1Row() + ": " + refusal(v2, row));
            }
            mapped.removeAll(refused);
            return checksums(v2, mapped, range, rejected);
        } finally {
            releaseQuietly(v2, savepoint);
        }
    }

    /** Bisects {@code rows} down to those v2 refuses; few bad rows cost few queries. */
    private void findRefused(Connection v2, List<Mapped> rows, List<Mapped> refused) throws SQLException {
        String sql = checksumSql("(" + mappedSql(false) + ") m", "m");
        if (rows.isEmpty() || accepts(v2, sql, ps -> bindMapped(ps, 1, v2, rows)) == null) {
            return;
        }
        if (rows.size() == 1) {
            refused.add(rows.get(0));
            return;
        }
        findRefused(v2, rows.subList(0, rows.size() / 2), refused);
        findRefused(v2, rows.subList(rows.size() / 2, rows.size()), refused);
    }

    /** Why v2 refuses a row: the first column whose value its type does not accept. */
    private String refusal(Connection v2, Mapped row) throws SQLException {
        for (int i = 0; i < columns.size(); i++) {
            String value = row.values()[i];
            String message = accepts(v2, "SELECT CAST(CAST(? AS text) AS " + types.get(i) + ")::text", ps -> ps.setString(1, value));
            if (message != null) {
                return "v2 refuses " + v2Table + "." + columns.get(i) + ": " + message;
            }
        }
        return "v2 refuses the row";
    }

    private interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    /** Runs {@code sql} under a savepoint; null if v2 accepts every value, else its message. */
    private static String accepts(Connection v2, String sql, Binder binder) throws SQLException {
        Savepoint savepoint = v2.setSavepoint();
        try (PreparedStatement ps = v2.prepareStatement(sql)) {
            binder.bind(ps);
            ps.executeQuery().close();
            return null;
        } catch (SQLException e) {
            if (!refused(e)) {
                throw e;
            }
            v2.rollback(savepoint);
            return Connections.describe(e);
        } finally {
            releaseQuietly(v2, savepoint);
        }
    }

    /** A data exception (22) or an integrity violation (23, a domain's constraint): the value, not the database. */
    private static boolean refused(SQLException e) {
        String state = e.getSQLState();
        return state != null && (state.startsWith("22") || state.startsWith("23"));
    }

    private static void releaseQuietly(Connection c, Savepoint savepoint) {
        try {
            c.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            // Already gone with a rollback to it: nothing to release.
        }
    }

    /**
     * The mapped rows as v2 parses and prints them ({@code c0...}); with {@code ordering} also a presence marker
     * ({@code p}) and the typed key columns ({@code o0...}). An explicit cast truncates an overlong varchar where the
     * sink's write fails; such a row is missing in v2, and reported so.
     */
    private String mappedSql(boolean ordering) {
        String aliases = IntStream.range(0, columns.size()).mapToObj(i -> "c" + i).collect(Collectors.joining(", "));
        String unnested = columns.stream().map(c -> "CAST(? AS text[])").collect(Collectors.joining(", "));
        List<String> select = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            select.add("CAST(u.c" + i + " AS " + types.get(i) + ")::text AS c" + i);
        }
        if (ordering) {
            select.add("true AS p");
            for (int k = 0; k < key.size(); k++) {
                select.add(collated("CAST(u.c" + key.get(k) + " AS " + types.get(key.get(k)) + ")", k) + " AS o" + k);
            }
        }
        return "SELECT " + String.join(", ", select) + " FROM unnest(" + unnested + ") AS u(" + aliases + ")";
    }

    /** v2's rows in {@code range}, printed ({@code c0...}), with a presence marker and the typed key columns. */
    private String actualSql(Range range) {
        List<String> select = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            select.add("t." + SqlText.quote(columns.get(i)) + "::text AS c" + i);
        }
        select.add("true AS p");
        for (int k = 0; k < key.size(); k++) {
            select.add(collated("t." + SqlText.quote(keyColumns.get(k)), k) + " AS o" + k);
        }
        return "SELECT " + String.join(", ", select) + " FROM " + qualified + " t"
                + where(keyColumns.stream().map(c -> "t." + SqlText.quote(c)).toList(),
                key.stream().map(types::get).toList(), range);
    }

    /** Both sides order keys alike; "C" only for display, as rows are matched by their text. */
    private String collated(String expression, int keyIndex) {
        return keyCollatable.get(keyIndex) ? expression + " COLLATE \"C\"" : expression;
    }

    private String checksumSql(String from, String alias) {
        String row = IntStream.range(0, columns.size()).mapToObj(i -> alias + ".c" + i).collect(Collectors.joining(", "));
        return "SELECT count(*), coalesce(sum(hashtextextended(ROW(" + row + ")::text, 0)), 0) FROM " + from;
    }

    /**
     * The rows that differ, in key order: whether each side has the row, the key, then per non-key column whether it
     * differs. Rows are matched by the key's text, as the checksums see it.
     */
    private String diffSql(Range range) {
        List<Integer> values = IntStream.range(0, columns.size()).filter(i -> !key.contains(i)).boxed().toList();
        List<String> select = new ArrayList<>(List.of("m.p", "t.p"));
        key.forEach(i -> select.add("coalesce(m.c" + i + ", t.c" + i + ")"));
        values.forEach(i -> select.add("m.c" + i + " IS DISTINCT FROM t.c" + i));
        String on = key.stream().map(i -> "m.c" + i + " = t.c" + i).collect(Collectors.joining(" AND "));
        String differs = values.isEmpty() ? "" : " OR ROW(" + values.stream().map(i -> "m.c" + i).collect(Collectors.joining(", "))
                + ") IS DISTINCT FROM ROW(" + values.stream().map(i -> "t.c" + i).collect(Collectors.joining(", ")) + ")";
        String order = IntStream.range(0, key.size()).mapToObj(k -> "coalesce(m.o" + k + ", t.o" + k + ")")
                .collect(Collectors.joining(", "));
        return "WITH m AS (" + mappedSql(true) + "), t AS (" + actualSql(range) + ") SELECT " + String.join(", ", select)
                + " FROM m FULL JOIN t ON " + on + " WHERE m.p IS NULL OR t.p IS NULL" + differs + " ORDER BY " + order;
    }

    /**
     * The rows of a table without a key that differ, compared as multisets: each distinct row with how many copies
     * each side holds. A row only v1 gives is missing, one only v2 holds extra, and one both hold a different number
     * of times is listed as different with both counts.
     */
    private void multisetDiff(Connection v2, List<Mapped> mapped, Range range, Listing missing, Listing extra,
                              Listing different) throws SQLException {
        String row = "ROW(" + IntStream.range(0, columns.size()).mapToObj(i -> "c" + i).collect(Collectors.joining(", ")) + ")::text";
        String sql = "WITH m AS (SELECT " + row + " AS r, count(*) AS n FROM (" + mappedSql(false) + ") x GROUP BY 1),"
                + " t AS (SELECT " + row + " AS r, count(*) AS n FROM (" + actualSql(range) + ") y GROUP BY 1)"
                + " SELECT coalesce(m.r, t.r), coalesce(m.n, 0), coalesce(t.n, 0) FROM m FULL JOIN t ON m.r = t.r"
                + " WHERE m.n IS DISTINCT FROM t.n ORDER BY 1";
        try (PreparedStatement ps = v2.prepareStatement(sql)) {
            int next = bindMapped(ps, 1, v2, mapped);
            bindRange(ps, next, range);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long inV1 = rs.getLong(2);
                    long inV2 = rs.getLong(3);
                    String described = "row " + columns + "=" + rs.getString(1) + " (" + copies(inV1) + " from v1, "
                            + copies(inV2) + " in v2)";
                    (inV2 == 0 ? missing : inV1 == 0 ? extra : different).add(described);
                }
            }
        }
    }

    private static String copies(long n) {
        return n + (n == 1 ? " copy" : " copies");
    }

    private String where(List<String> rangeColumns, List<String> rangeTypes, Range range) {
        if (rangeColumns.isEmpty()) {
            return "";
        }
        List<String> conditions = new ArrayList<>();
        if (range.from() != null) {
            conditions.add(KeyRanges.compare(rangeColumns, rangeTypes, ">="));
        }
        if (range.to() != null) {
            conditions.add(KeyRanges.compare(rangeColumns, rangeTypes, "<"));
        }
        return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
    }

    private static int bindRange(PreparedStatement ps, int index, Range range) throws SQLException {
        for (List<String> bound : java.util.Arrays.asList(range.from(), range.to())) {
            if (bound != null) {
                index = KeyRanges.bind(ps, index, bound);
            }
        }
        return index;
    }

    private int bindMapped(PreparedStatement ps, int index, Connection v2, List<Mapped> rows) throws SQLException {
        for (int i = 0; i < columns.size(); i++) {
            String[] values = new String[rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                values[r] = rows.get(r).values()[i];
            }
            Array array = v2.createArrayOf("text", values);
            ps.setArray(index++, array);
        }
        return index;
    }

    private String keyText(List<String> values) {
        return IntStream.range(0, keyColumns.size()).mapToObj(i -> keyColumns.get(i) + "=" + values.get(i))
                .collect(Collectors.joining(","));
    }

    private static String quoted(String schema, String table) {
        return SqlText.quote(schema) + "." + SqlText.quote(table);
    }

    /** Counts keys and keeps the first few. */
    private final class Listing {

        private long count;
        private final List<String> first = new ArrayList<>();

        void add(String entry) {
            count++;
            if (first.size() < listed) {
                first.add(entry);
            }
        }

        Found found() {
            return new Found(count, List.copyOf(first));
        }
    }
}
