package dev.cdcmigrator.cutover;

import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.cutover.internal.ChunkedTable;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.KeyRanges;
import dev.cdcmigrator.pg.Snapshot;
import dev.cdcmigrator.pg.UnreachableException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Compares v2 with what the spec makes of v1: the v1 rows go through the transform's own mapping code, as a snapshot
 * of them would in the pipeline, and every v2 table is compared in key-range chunks, by row count and an
 * order-independent checksum, row by row only inside a chunk that differs (naming the keys that are missing, extra
 * or different, and the columns). Columns the spec marks non-deterministic are left out.
 *
 * <p>All reads of v1 see one snapshot, and all reads of v2 another ({@code pg_export_snapshot}), however many
 * connections read in parallel; on a v1 that still takes writes the two snapshots are of different moments, so a row
 * changed in between can differ (verify after {@code cutover wait}, or with writes frozen). Each worker holds one
 * connection to each database, plus one each that holds the snapshots.
 */
public final class Verifier {

    /** How many keys a comparison lists per kind of difference. */
    public static final int MAX_KEYS_LISTED = 10;

    private static final String APPLICATION = "cdc-migrator-verify";

    private Verifier() {
    }

    /**
     * What to verify, and how.
     *
     * @param tables v1 or v2 table names: the v2 tables named, and those the named v1 tables feed; empty for all
     * @param parallelism chunks compared at once, each worker on its own v1 and v2 connection
     * @param chunkRows about how many v1 rows a chunk holds
     */
    public record Options(Set<String> tables, int parallelism, int chunkRows) {

        /** Workers when not told otherwise: enough to keep both databases busy, few enough to go unnoticed. */
        public static final int DEFAULT_PARALLELISM = 4;
        /** Rows per chunk when not told otherwise: a differing chunk is compared row by row in one query. */
        public static final int DEFAULT_CHUNK_ROWS = 10_000;

        public Options {
            tables = Set.copyOf(tables);
            if (parallelism < 1) {
                throw new IllegalArgumentException("parallelism must be at least 1, not " + parallelism);
            }
            if (chunkRows < 1) {
                throw new IllegalArgumentException("chunk rows must be at least 1, not " + chunkRows);
            }
        }

        /** Every table, with the default parallelism and chunk size. */
        public static Options defaults() {
            return new Options(Set.of(), DEFAULT_PARALLELISM, DEFAULT_CHUNK_ROWS);
        }
    }

    /**
     * Compares the selected v2 tables, in v2 table name order.
     *
     * @throws IllegalArgumentException if {@code options} names a table the spec does not map
     * @throws IllegalStateException naming the table and column when the databases do not fit the spec
     * @throws UnreachableException if a database cannot be reached
     */
    public static List<TableComparison> verify(Spec given, Options options) throws SQLException, InterruptedException {
        Spec spec = CopiedColumns.resolve(given).spec();
        Map<String, List<Map.Entry<String, Integer>>> feeds = selected(spec, options.tables());
        try (Snapshot v1 = Snapshot.export(open(spec, UnreachableException.What.SOURCE));
             Snapshot v2 = Snapshot.export(open(spec, UnreachableException.What.TARGET))) {
            List<ChunkedTable> tables = new ArrayList<>();
            for (Map.Entry<String, List<Map.Entry<String, Integer>>> table : feeds.entrySet()) {
                tables.add(ChunkedTable.plan(spec, table.getKey(), table.getValue(), v1.connection(), v2.connection(),
                        options.chunkRows(), MAX_KEYS_LISTED));
            }
            List<List<ChunkedTable.Outcome>> outcomes = compareChunks(spec, tables, v1, v2, options.parallelism());
            List<TableComparison> results = new ArrayList<>();
            for (int t = 0; t < tables.size(); t++) {
                results.add(summary(tables.get(t), outcomes.get(t)));
            }
            return results;
        }
    }

    /** The v2 tables to verify, each with the v1 tables feeding it and the index of the mapping that does. */
    private static Map<String, List<Map.Entry<String, Integer>>> selected(Spec spec, Set<String> names) {
        Map<String, List<Map.Entry<String, Integer>>> all = new TreeMap<>();
        new TreeMap<>(spec.tables()).forEach((v1, table) -> {
            List<MappingSpec> mappings = table.mappings();
            for (int i = 0; i < mappings.size(); i++) {
                all.computeIfAbsent(mappings.get(i).v2Table(v1), k -> new ArrayList<>()).add(Map.entry(v1, i));
            }
        });
        if (names.isEmpty()) {
            return all;
        }
        Set<String> unknown = new TreeSet<>(names);
        unknown.removeAll(spec.tables().keySet());
        unknown.removeAll(all.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("the spec maps no table " + String.join(", ", unknown) + " (v1 tables: "
                    + String.join(", ", new TreeSet<>(spec.tables().keySet())) + "; v2 tables: " + String.join(", ", all.keySet()) + ")");
        }
        Map<String, List<Map.Entry<String, Integer>>> chosen = new TreeMap<>(all);
        chosen.entrySet().removeIf(e -> !names.contains(e.getKey())
                && e.getValue().stream().noneMatch(feed -> names.contains(feed.getKey())));
        return chosen;
    }

    /** Every chunk of every table, by a bounded pool of workers sharing the snapshots; outcomes by table and range. */
    private static List<List<ChunkedTable.Outcome>> compareChunks(Spec spec, List<ChunkedTable> tables, Snapshot v1,
                                                                   Snapshot v2, int parallelism)
            throws SQLException, InterruptedException {
        record Chunk(int table, KeyRanges.Range range) {
        }
        ConcurrentLinkedQueue<Chunk> queue = new ConcurrentLinkedQueue<>();
        List<ChunkedTable.Outcome[]> outcomes = new ArrayList<>();
        for (int t = 0; t < tables.size(); t++) {
            int table = t;
            tables.get(t).ranges().forEach(range -> queue.add(new Chunk(table, range)));
            outcomes.add(new ChunkedTable.Outcome[tables.get(t).ranges().size()]);
        }
        int workers = Math.max(1, Math.min(parallelism, queue.size()));
        AtomicBoolean failed = new AtomicBoolean();
        AtomicInteger threads = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "verify-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<Void>> running = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                running.add(pool.submit(() -> {
                    try (Connection a = v1.share(open(spec, UnreachableException.What.SOURCE));
                         Connection b = v2.share(open(spec, UnreachableException.What.TARGET))) {
                        Chunk chunk;
                        while (!failed.get() && (chunk = queue.poll()) != null) {
                            outcomes.get(chunk.table())[chunk.range().index()] = tables.get(chunk.table()).compare(chunk.range(), a, b);
                        }
                    } catch (Exception e) {
                        failed.set(true);
                        throw e;
                    }
                    return null;
                }));
            }
            for (Future<Void> worker : running) {
                try {
                    worker.get();
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof SQLException sql) {
                        throw sql;
                    }
                    if (e.getCause() instanceof RuntimeException runtime) {
                        throw runtime;
                    }
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return outcomes.stream().map(List::of).toList();
    }

    private static TableComparison summary(ChunkedTable table, List<ChunkedTable.Outcome> chunks) {
        long v1Rows = 0;
        long mappedRows = 0;
        long v2Rows = 0;
        int differing = 0;
        for (ChunkedTable.Outcome chunk : chunks) {
            v1Rows += chunk.v1Rows();
            mappedRows += chunk.mappedRows();
            v2Rows += chunk.v2Rows();
            differing += chunk.differs() ? 1 : 0;
        }
        return new TableComparison(table.v2Table(), table.v1Tables(), v1Rows, mappedRows, v2Rows, chunks.size(), differing,
                count(chunks, ChunkedTable.Outcome::missing), count(chunks, ChunkedTable.Outcome::extra),
                count(chunks, ChunkedTable.Outcome::different), count(chunks, ChunkedTable.Outcome::rejected),
                listed(chunks, ChunkedTable.Outcome::missing), listed(chunks, ChunkedTable.Outcome::extra),
                listed(chunks, ChunkedTable.Outcome::different), listed(chunks, ChunkedTable.Outcome::rejected),
                table.notCompared());
    }

    private static long count(List<ChunkedTable.Outcome> chunks, Function<ChunkedTable.Outcome, ChunkedTable.Found> kind) {
        return chunks.stream().mapToLong(chunk -> kind.apply(chunk).count()).sum();
    }

    /** The first keys in key order: chunks are key ranges in order, each listing its first. */
    private static List<String> listed(List<ChunkedTable.Outcome> chunks, Function<ChunkedTable.Outcome, ChunkedTable.Found> kind) {
        return chunks.stream().flatMap(chunk -> kind.apply(chunk).listed().stream()).limit(MAX_KEYS_LISTED).toList();
    }

    private static Connection open(Spec spec, UnreachableException.What what) {
        return what == UnreachableException.What.SOURCE
                ? Connections.open(what, spec.source().url(), spec.source().user(), spec.source().password(), APPLICATION)
                : Connections.open(what, spec.target().url(), spec.target().user(), spec.target().password(), APPLICATION);
    }
}
