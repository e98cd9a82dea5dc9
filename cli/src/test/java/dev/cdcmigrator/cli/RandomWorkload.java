package dev.cdcmigrator.cli;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A seeded random workload on the v1 table {@code docs(id bigint PRIMARY KEY, version bigint NOT NULL, title text,
 * body text, tags jsonb)}: inserts (some re-using a deleted id), updates that always increment {@code version} and
 * mostly leave {@code body} unchanged (so an out-of-line TOASTed body is sent as Debezium's unavailable-value
 * placeholder), deletes, multi-row transactions and rolled-back transactions, on its own thread and connection.
 *
 * <p>{@code version} only ever grows per id, also across a delete and a re-insert of the same id, so that a v2 row
 * whose version goes down is a regression whatever the cause.
 *
 * <p>In the same transactions it writes the range-partitioned table {@link #CREATE_EVENTS}, keyed by {@code (id,
 * year)} since a partitioned table's key holds its partition key: inserts, updates in place, deletes, and updates
 * that move a row to another partition (another year), which PostgreSQL decodes as a delete and an insert under a
 * new key. (A {@code timestamptz} partition key would keep {@code backfill.mode: copy} out of the test.)
 */
final class RandomWorkload implements AutoCloseable {

    static final String CREATE_TABLE =
            "CREATE TABLE docs (id bigint PRIMARY KEY, version bigint NOT NULL, title text, body text, tags jsonb)";

    static final String CREATE_EVENTS = """
            CREATE TABLE events (id bigint, year int, happened_at timestamptz NOT NULL, kind text NOT NULL,
                                 PRIMARY KEY (id, year)) PARTITION BY RANGE (year);
            CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM (2025) TO (2026);
            CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM (2026) TO (2027);
            CREATE TABLE events_later PARTITION OF events DEFAULT;
            """;
    private static final int[] EVENT_YEARS = {2025, 2026, 2027};
    private static final int EVENTS = 300;

    /** Large bodies are stored out of line (TOAST) whatever their compression: random text compresses poorly. */
    static final int LARGE = 8 * 1024;

    private static final String ALPHABET =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.;:-_!?'\"\\/\n\täöüéß€日本語";
    private static final String[] LABELS = {"red", "green", "blue", "draft", "final", "ünïcödé", "q\"uote", "back\\slash"};

    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final long seed;
    private final Random random;
    private final long pauseMicros;
    private final Consumer<String> log;
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong committedOps = new AtomicLong();
    private final Map<String, AtomicLong> counts = new java.util.concurrent.ConcurrentHashMap<>();
    private Thread thread;

    // The committed state as far as the workload knows it (only its own thread writes docs).
    private final List<Long> live = new ArrayList<>();
    private final Map<Long, Integer> liveIndex = new HashMap<>();
    private final Set<Long> large = new HashSet<>();
    private final Map<Long, Long> deletedVersions = new HashMap<>();
    private long nextId;
    private final Map<String, Integer> inFlight = new HashMap<>();
    private List<long[]> touched = new ArrayList<>();
    /** Per id, what committed transactions did to it (for the diagnosis of a divergence). */
    private final Map<Long, List<String>> history = new java.util.concurrent.ConcurrentHashMap<>();
    /** The events that exist on v1 (committed), each with the year it is in. */
    private final Map<Long, Integer> eventYears = new HashMap<>();
    private long nextEventId;

    /**
     * @param pauseMicros the mean pause between two transactions (paces the load; a random 0-2x of it)
     */
    RandomWorkload(String jdbcUrl, String user, String password, long seed, long pauseMicros, Consumer<String> log) {
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.seed = seed;
        this.random = new Random(seed);
        this.pauseMicros = pauseMicros;
        this.log = log;
    }

    long seed() {
        return seed;
    }

    /**
     * Creates the table and loads {@code rows} rows, {@code largeRows} of them (spread over the ids) with a body of
     * 100 kB to {@code maxLargeBytes} (log-uniform; the first one gets the maximum), the rest small.
     */
    void createAndLoad(int rows, int largeRows, int maxLargeBytes) throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute(CREATE_TABLE);
            st.execute(CREATE_EVENTS);
            c.setAutoCommit(false);
            Pending loading = new Pending();
            for (int i = 0; i < EVENTS; i++) {
                insertEvent(c, loading);
            }
            eventYears.putAll(loading.events);
            Set<Integer> largeAt = new HashSet<>();
            while (largeAt.size() < largeRows) {
                largeAt.add(1 + random.nextInt(rows));
            }
            boolean first = true;
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO docs VALUES (?, ?, ?, ?, ?::jsonb)")) {
                int batched = 0;
                for (int i = 1; i <= rows; i++) {
                    long id = i * 10L; // gaps, so that inserts and re-inserts interleave with loaded ids
                    String body;
                    if (largeAt.contains(i)) {
                        body = text(first ? maxLargeBytes : logUniform(100 * 1024, maxLargeBytes));
                        first = false;
                    } else {
                        body = smallBody();
                    }
                    bindRow(insert, id, 1 + random.nextInt(5), title(), body, tags());
                    insert.addBatch();
                    remember(id, body);
                    if (++batched == 200 || body != null && body.length() >= LARGE) {
                        insert.executeBatch();
                        batched = 0;
                    }
                }
                insert.executeBatch();
            }
            c.commit();
            nextId = rows * 10L + 1;
        }
        log.accept("workload seed " + seed + ": loaded " + rows + " rows, " + large.size() + " with a body of 100 kB to "
                + maxLargeBytes / 1024 + " kB");
    }

    /** Starts writing on its own thread until {@link #stop()}. */
    void start() {
        thread = new Thread(this::run, "random-workload-" + seed);
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops writing after the transaction in flight, waits for it, and rethrows what failed the workload. */
    void stop() throws InterruptedException {
        stopRequested.set(true);
        if (thread != null) {
            thread.join(TimeUnit.MINUTES.toMillis(1));
            if (thread.isAlive()) {
                throw new IllegalStateException("the workload did not stop within a minute");
            }
        }
        if (failure.get() != null) {
            throw new IllegalStateException("the workload failed (seed " + seed + ")", failure.get());
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    /** Committed transactions so far. */
    long committed() {
        return committedOps.get();
    }

    /** How many operations of a kind committed or rolled back so far (see {@link #summary()} for the kinds). */
    long counted(String what) {
        AtomicLong n = counts.get(what);
        return n == null ? 0 : n.get();
    }

    /** What committed transactions did to these ids, when, and an upper bound of their commit LSN. */
    String history(java.util.Collection<Long> ids) {
        StringBuilder text = new StringBuilder();
        for (long id : ids) {
            text.append("id ").append(id).append(" on v1:");
            List<String> h = history.get(id);
            if (h == null) {
                text.append(" (no change after the initial load)\n");
            } else {
                synchronized (h) {
                    h.forEach(line -> text.append("\n  ").append(line));
                }
                text.append('\n');
            }
        }
        return text.toString();
    }

    String summary() {
        return "seed " + seed + ": " + committedOps.get() + " transactions committed, " + new java.util.TreeMap<>(counts)
                + ", " + live.size() + " rows live, " + large.size() + " large";
    }

    private void run() {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            while (!stopRequested.get()) {
                int kind = random.nextInt(100);
                if (kind < 8) {
                    transaction(c, 2 + random.nextInt(9), false);
                } else if (kind < 11) {
                    transaction(c, 1 + random.nextInt(6), true);
                } else {
                    transaction(c, 1, false);
                }
                long pause = pauseMicros == 0 ? 0 : (long) (random.nextDouble() * 2 * pauseMicros);
                if (pause > 0) {
                    TimeUnit.MICROSECONDS.sleep(pause);
                }
            }
        } catch (Throwable e) {
            failure.set(e);
            log.accept("workload seed " + seed + " failed: " + e);
        }
    }

    /** What a transaction did, applied to the known state once it committed. */
    private final class Pending {
        final List<Long> inserted = new ArrayList<>();
        final Map<Long, String> bodies = new HashMap<>();
        final Map<Long, Long> deleted = new HashMap<>();
        /** Events this transaction wrote: their year, or null once deleted. */
        final Map<Long, Integer> events = new HashMap<>();

        boolean touchedForDelete(long id) {
            return deleted.containsKey(id) || inserted.contains(id);
        }
    }

    private void transaction(Connection c, int operations, boolean rollback) throws SQLException {
        Pending pending = new Pending();
        inFlight.clear();
        List<long[]> touched = new ArrayList<>(); // id, kind (0 insert, 1 update, 2 delete, 3 body update), version
        this.touched = touched;
        try {
            for (int i = 0; i < operations; i++) {
                int kind = random.nextInt(100);
                if (random.nextInt(5) == 0) {
                    event(c, pending);
                } else if (kind < 20 || live.size() < 50) {
                    insert(c, pending);
                } else if (kind < 88) {
                    update(c, pending);
                } else {
                    delete(c, pending);
                }
            }
            if (rollback) {
                c.rollback();
                countCommitted("rolled back transactions", 1);
                countCommitted("rolled back operations", operations);
                return;
            }
            c.commit();
            String commitLsn;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_current_wal_insert_lsn()")) {
                rs.next();
                commitLsn = rs.getString(1);
            }
            c.commit();
            String when = java.time.LocalTime.now() + " lsn<=" + commitLsn + (operations > 1 ? " (tx of " + operations + ")" : "");
            for (long[] t : touched) {
                history.computeIfAbsent(t[0], k -> java.util.Collections.synchronizedList(new ArrayList<>()))
                        .add(when + " " + new String[] {"insert", "update", "delete", "update with body"}[(int) t[1]] + " -> version " + t[2]);
            }
        } catch (SQLException e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        committedOps.incrementAndGet();
        inFlight.forEach(this::countCommitted);
        if (operations > 1) {
            countCommitted("multi-row transactions", 1);
        }
        pending.events.forEach((id, year) -> {
            if (year == null) {
                eventYears.remove(id);
            } else {
                eventYears.put(id, year);
            }
        });
        for (Map.Entry<Long, Long> d : pending.deleted.entrySet()) {
            forget(d.getKey());
            deletedVersions.put(d.getKey(), d.getValue());
        }
        for (long id : pending.inserted) {
            deletedVersions.remove(id);
            remember(id, pending.bodies.get(id));
        }
        pending.bodies.forEach((id, body) -> {
            if (liveIndex.containsKey(id)) {
                if (body != null && body.length() >= LARGE) {
                    large.add(id);
                } else {
                    large.remove(id);
                }
            }
        });
    }

    private void insert(Connection c, Pending pending) throws SQLException {
        long id;
        long version;
        List<Long> reusable = deletedVersions.keySet().stream().filter(k -> !pending.inserted.contains(k)).sorted().toList();
        if (!reusable.isEmpty() && random.nextInt(10) == 0) {
            id = reusable.get(random.nextInt(reusable.size()));
            version = deletedVersions.get(id) + 1; // never lower than what v2 saw before the delete
            count("re-inserts");
        } else {
            id = nextId++;
            version = 1;
            count("inserts");
        }
        int size = random.nextInt(100);
        String body = size < 2 ? null : size < 5 ? text(logUniform(100 * 1024, 600 * 1024)) : smallBody();
        try (PreparedStatement st = c.prepareStatement("INSERT INTO docs VALUES (?, ?, ?, ?, ?::jsonb)")) {
            bindRow(st, id, version, title(), body, tags());
            st.executeUpdate();
        }
        touched.add(new long[] {id, 0, version});
        pending.inserted.add(id);
        pending.bodies.put(id, body);
    }

    private void update(Connection c, Pending pending) throws SQLException {
        Long id = pick(pending, random.nextInt(100) < 15);
        if (id == null) {
            return;
        }
        int what = random.nextInt(100);
        String sql;
        String body = null;
        if (what < 15) {
            // A new body: small, or (for a large row, sometimes) large again.
            body = large.contains(id) && random.nextInt(10) < 8 ? text(logUniform(20 * 1024, 200 * 1024)) : smallBody();
            sql = "UPDATE docs SET version = version + 1, body = ?, title = ? WHERE id = ? RETURNING version";
            count("updates of body");
        } else if (what < 55) {
            sql = "UPDATE docs SET version = version + 1, title = ?, tags = ?::jsonb WHERE id = ? RETURNING version";
            count("updates of title and tags");
        } else if (what < 90) {
            sql = "UPDATE docs SET version = version + 1, title = ? WHERE id = ? RETURNING version";
            count("updates of title");
        } else {
            sql = "UPDATE docs SET version = version + 1 WHERE id = ? RETURNING version";
            count("updates of version only");
        }
        try (PreparedStatement st = c.prepareStatement(sql)) {
            int p = 1;
            if (what < 15) {
                st.setString(p++, body);
                st.setString(p++, title());
            } else if (what < 55) {
                st.setString(p++, title());
                st.setString(p++, tags());
            } else if (what < 90) {
                st.setString(p++, title());
            }
            st.setLong(p, id);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("the workload's model is wrong: no row " + id);
                }
                touched.add(new long[] {id, what < 15 ? 3 : 1, rs.getLong(1)});
            }
        }
        if (what < 15) {
            pending.bodies.put(id, body);
        } else if (large.contains(id)) {
            count("updates keeping a large body");
        }
    }

    private void delete(Connection c, Pending pending) throws SQLException {
        Long id = pick(pending, random.nextInt(100) < 5);
        if (id == null) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement("DELETE FROM docs WHERE id = ? RETURNING version")) {
            st.setLong(1, id);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("the workload's model is wrong: no row " + id);
                }
                pending.deleted.put(id, rs.getLong(1));
                touched.add(new long[] {id, 2, rs.getLong(1)});
            }
        }
        pending.bodies.remove(id);
        count("deletes");
    }

    /** A committed live row not deleted in this transaction, preferably a large one when asked. */
    private Long pick(Pending pending, boolean preferLarge) {
        for (int attempt = 0; attempt < 10; attempt++) {
            long id;
            if (preferLarge && !large.isEmpty()) {
                List<Long> ids = large.stream().sorted().toList();
                id = ids.get(random.nextInt(ids.size()));
            } else if (!live.isEmpty()) {
                id = live.get(random.nextInt(live.size()));
            } else {
                return null;
            }
            if (!pending.touchedForDelete(id)) {
                return id;
            }
        }
        return null;
    }

    /** One write of the partitioned table: an insert, a move to another partition, an update in place or a delete. */
    private void event(Connection c, Pending pending) throws SQLException {
        List<Long> untouched = eventYears.keySet().stream().filter(id -> !pending.events.containsKey(id)).sorted().toList();
        int kind = random.nextInt(100);
        if (kind < 25 || untouched.size() < 20) {
            insertEvent(c, pending);
            return;
        }
        long id = untouched.get(random.nextInt(untouched.size()));
        if (kind < 60) {
            int year = eventYears.get(id);
            int to = EVENT_YEARS[(indexOf(year) + 1 + random.nextInt(EVENT_YEARS.length - 1)) % EVENT_YEARS.length];
            try (PreparedStatement st = c.prepareStatement("UPDATE events SET year = " + to + ", happened_at = "
                    + timestamp(to) + ", kind = ? WHERE id = ?")) {
                st.setString(1, "moved from " + year + " to " + to);
                st.setLong(2, id);
                st.executeUpdate();
            }
            pending.events.put(id, to);
            count("events moved between partitions");
        } else if (kind < 85) {
            try (PreparedStatement st = c.prepareStatement("UPDATE events SET kind = ? WHERE id = ?")) {
                st.setString(1, "updated " + random.nextInt(1000));
                st.setLong(2, id);
                st.executeUpdate();
            }
            pending.events.put(id, eventYears.get(id));
            count("event updates");
        } else {
            try (PreparedStatement st = c.prepareStatement("DELETE FROM events WHERE id = ?")) {
                st.setLong(1, id);
                st.executeUpdate();
            }
            pending.events.put(id, null);
            count("event deletes");
        }
    }

    private void insertEvent(Connection c, Pending pending) throws SQLException {
        long id = ++nextEventId;
        int year = EVENT_YEARS[random.nextInt(EVENT_YEARS.length)];
        try (PreparedStatement st = c.prepareStatement("INSERT INTO events VALUES (?, " + year + ", " + timestamp(year) + ", ?)")) {
            st.setLong(1, id);
            st.setString(2, "inserted in " + year);
            st.executeUpdate();
        }
        pending.events.put(id, year);
        count("event inserts");
    }

    /** A random moment of {@code year}, as SQL. */
    private String timestamp(int year) {
        return "make_timestamptz(" + year + ", " + (1 + random.nextInt(12)) + ", " + (1 + random.nextInt(28)) + ", "
                + random.nextInt(24) + ", " + random.nextInt(60) + ", " + random.nextInt(60_000_000) / 1e6 + ", 'UTC')";
    }

    private static int indexOf(int year) {
        for (int i = 0; i < EVENT_YEARS.length; i++) {
            if (EVENT_YEARS[i] == year) {
                return i;
            }
        }
        throw new IllegalArgumentException("not an event year: " + year);
    }

    private void remember(long id, String body) {
        if (!liveIndex.containsKey(id)) {
            liveIndex.put(id, live.size());
            live.add(id);
        }
        if (body != null && body.length() >= LARGE) {
            large.add(id);
        } else {
            large.remove(id);
        }
    }

    private void forget(long id) {
        Integer index = liveIndex.remove(id);
        if (index == null) {
            return;
        }
        long last = live.remove(live.size() - 1);
        if (last != id) {
            live.set(index, last);
            liveIndex.put(last, index);
        }
        large.remove(id);
    }

    /** Counts an operation of the transaction in flight; it counts once the transaction committed. */
    private void count(String what) {
        inFlight.merge(what, 1, Integer::sum);
    }

    private void countCommitted(String what, int n) {
        counts.computeIfAbsent(what, k -> new AtomicLong()).addAndGet(n);
    }

    private static void bindRow(PreparedStatement st, long id, long version, String title, String body, String tags)
            throws SQLException {
        st.setLong(1, id);
        st.setLong(2, version);
        st.setString(3, title);
        if (body == null) {
            st.setNull(4, Types.VARCHAR);
        } else {
            st.setString(4, body);
        }
        if (tags == null) {
            st.setNull(5, Types.VARCHAR);
        } else {
            st.setString(5, tags);
        }
    }

    private String title() {
        return random.nextInt(20) == 0 ? null : "title " + text(5 + random.nextInt(40)).replace('\n', ' ');
    }

    private String smallBody() {
        return random.nextInt(30) == 0 ? null : text(20 + random.nextInt(1500));
    }

    private String tags() {
        int r = random.nextInt(10);
        if (r == 0) {
            return null;
        }
        StringBuilder labels = new StringBuilder();
        for (int i = random.nextInt(4); i > 0; i--) {
            if (labels.length() > 0) {
                labels.append(", ");
            }
            labels.append('"').append(LABELS[random.nextInt(LABELS.length)].replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return "{\"labels\": [" + labels + "], \"score\": " + random.nextInt(1000) / 8.0 + ", \"draft\": " + random.nextBoolean()
                + (r == 1 ? ", \"nested\": {\"a\": null, \"b\": [1, 2.5, \"x\"]}" : "") + "}";
    }

    private int logUniform(int min, int max) {
        return (int) Math.round(Math.exp(Math.log(min) + random.nextDouble() * (Math.log(max) - Math.log(min))));
    }

    private String text(int length) {
        char[] chars = new char[length];
        for (int i = 0; i < length; i++) {
            chars[i] = ALPHABET.charAt(random.nextInt(ALPHABET.length()));
        }
        return new String(chars);
    }

    private Connection connect() throws SQLException {
        return java.sql.DriverManager.getConnection(jdbcUrl, user, password);
    }
}
