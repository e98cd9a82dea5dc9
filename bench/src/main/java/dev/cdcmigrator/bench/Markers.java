package dev.cdcmigrator.bench;

import dev.cdcmigrator.embedded.LocalPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Inserts a marker row stamped with clock_timestamp() into v1 at a fixed interval, on its own connection and thread;
 * the target's trigger records when each one was applied, so latency = applied_at - at (one machine, one clock).
 */
final class Markers implements AutoCloseable {

    private final Connection connection;
    private final long intervalNanos;
    private final List<Integer> ids = Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;
    private volatile boolean stopped;
    private volatile SQLException failure;

    private Markers(Connection connection, long intervalMillis) {
        this.connection = connection;
        this.intervalNanos = intervalMillis * 1_000_000L;
        this.thread = new Thread(this::run, "harness-markers");
    }

    static Markers start(LocalPostgres source, long intervalMillis) throws SQLException {
        Markers m = new Markers(Db.connect(source), intervalMillis);
        m.thread.start();
        return m;
    }

    /** One marker, now, on a connection of its own; returns its id and stamp. */
    static Stamp insertOne(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("INSERT INTO markers (at) VALUES (clock_timestamp()) RETURNING id, at");
             ResultSet rs = st.executeQuery()) {
            rs.next();
            return new Stamp(rs.getInt(1), rs.getTimestamp(2));
        }
    }

    record Stamp(int id, Timestamp at) {
    }

    private void run() {
        long next = System.nanoTime();
        try {
            while (!stopped) {
                ids.add(insertOne(connection).id());
                next += intervalNanos;
                LockSupport.parkNanos(next - System.nanoTime());
            }
        } catch (SQLException e) {
            failure = e;
        }
    }

    /** The markers inserted so far. */
    List<Integer> ids() {
        synchronized (ids) {
            return List.copyOf(ids);
        }
    }

    @Override
    public void close() throws SQLException {
        stopped = true;
        LockSupport.unpark(thread);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        connection.close();
        if (failure != null) {
            throw failure;
        }
    }

    /** Latencies in ms of the given markers as the target recorded them, ascending; markers not (yet) applied are left out. */
    static List<Double> latenciesMillis(Connection target, List<Integer> markerIds) throws SQLException {
        return latenciesMillis(target, markerIds, "1");
    }

    /** The same in the order the markers were written, to see when in a phase the slow ones were. */
    static List<Double> latenciesInOrder(Connection target, List<Integer> markerIds) throws SQLException {
        return latenciesMillis(target, markerIds, "id");
    }

    private static List<Double> latenciesMillis(Connection target, List<Integer> markerIds, String order) throws SQLException {
        List<Double> out = new ArrayList<>();
        if (markerIds.isEmpty()) {
            return out;
        }
        try (PreparedStatement st = target.prepareStatement(
                "SELECT extract(epoch FROM applied_at - at) * 1000 FROM marker_applied WHERE id = ANY (?) ORDER BY " + order)) {
            st.setArray(1, target.createArrayOf("int4", markerIds.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getDouble(1));
                }
            }
        }
        return out;
    }

    /** When the target applied marker {@code id}, or null if it has not. */
    static Timestamp appliedAt(Connection target, int id) throws SQLException {
        try (PreparedStatement st = target.prepareStatement("SELECT applied_at FROM marker_applied WHERE id = ?")) {
            st.setInt(1, id);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getTimestamp(1) : null;
            }
        }
    }

    /** Nearest-rank percentile of sorted values; NaN when empty. */
    static double percentile(List<Double> sorted, double p) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }
}
