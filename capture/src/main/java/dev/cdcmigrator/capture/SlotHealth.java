package dev.cdcmigrator.capture;

import dev.cdcmigrator.common.spec.SourceSpec;
import dev.cdcmigrator.pg.Connections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.Properties;

/**
 * How a replication slot on v1 stands. A slot that nothing reads keeps every WAL segment from its restart position
 * on, so a slot left behind fills v1's disk: {@link #retainedWalBytes()} is what it holds back.
 *
 * @param name the slot name
 * @param type {@code logical} or {@code physical}
 * @param plugin the output plugin of a logical slot ({@code pgoutput} for capture); null for a physical one
 * @param database the database of a logical slot; null for a physical one
 * @param active whether a replication connection reads it now
 * @param activePid the server process of that connection; null when inactive
 * @param retainedWalBytes {@code pg_current_wal_lsn() - restart_lsn}: the WAL it keeps; null when it has no restart
 *     position (invalidated)
 * @param walStatus {@code wal_status} (PostgreSQL 13+): reserved, extended, unreserved or lost; null before 13
 * @param safeWalBytes {@code safe_wal_size} (PostgreSQL 13+): how much more WAL can be written before the slot is in
 *     danger of being invalidated by {@code max_slot_wal_keep_size}; null when that is unlimited (-1), the slot is
 *     lost, or before 13
 * @param confirmedFlushLsn {@code confirmed_flush_lsn} as PostgreSQL prints it ({@code 0/16B3748}): what capture has
 *     confirmed; null for a physical slot
 * @param inactiveSince when it was last released (PostgreSQL 17+); null when active or unknown
 */
public record SlotHealth(String name, String type, String plugin, String database, boolean active, Integer activePid,
                         Long retainedWalBytes, String walStatus, Long safeWalBytes, String confirmedFlushLsn,
                         OffsetDateTime inactiveSince) {

    /** The values of {@link #walStatus()}, from safe to invalidated. */
    public static final List<String> WAL_STATUSES = List.of("reserved", "extended", "unreserved", "lost");

    /**
     * The slot {@code name} on the server of {@code c}, if it exists. Reads {@code pg_replication_slots} only, which
     * every user may.
     */
    public static Optional<SlotHealth> query(Connection c, String name) throws SQLException {
        // to_jsonb(s) reads columns that older servers lack (wal_status and safe_wal_size 13+, inactive_since 17+)
        // as null. A standby (logical slots on standbys: 16+) has no current WAL position, only its replay position.
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT slot_name, slot_type, plugin, database, active, active_pid,
                       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                            ELSE pg_current_wal_lsn() END, restart_lsn)::bigint,
                       to_jsonb(s) ->> 'wal_status', (to_jsonb(s) ->> 'safe_wal_size')::bigint,
                       confirmed_flush_lsn::text, (to_jsonb(s) ->> 'inactive_since')::timestamptz
                FROM pg_replication_slots s WHERE slot_name = ?""")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new SlotHealth(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        rs.getBoolean(5), rs.getObject(6, Integer.class), rs.getObject(7, Long.class), rs.getString(8),
                        rs.getObject(9, Long.class), rs.getString(10), rs.getObject(11, OffsetDateTime.class)));
            }
        }
    }

    /** Whether it is a logical slot of the pgoutput plugin on {@code database}, as capture creates it. */
    public boolean isCaptureSlotOn(String database) {
        return "logical".equals(type) && "pgoutput".equals(plugin) && database.equals(this.database);
    }

    /** The retained WAL in words, e.g. {@code 24 MB (25165824 bytes)}. */
    public String retainedWal() {
        return retainedWalBytes == null ? "an unknown amount" : size(retainedWalBytes) + " (" + retainedWalBytes + " bytes)";
    }

    /** One line: whether it is read, and what it retains. */
    public String describe() {
        StringBuilder s = new StringBuilder(active ? "active (PID " + activePid + ")" : "inactive");
        if (!active && inactiveSince != null) {
            s.append(" since ").append(inactiveSince.truncatedTo(ChronoUnit.SECONDS));
        }
        s.append(", retaining ").append(retainedWal()).append(" of WAL");
        if (walStatus != null && !"reserved".equals(walStatus)) {
            s.append(" (wal_status ").append(walStatus).append(")");
        }
        return s.toString();
    }

    /**
     * A connection to v1 for watching a slot from a background thread: it gives up within {@code timeout} (connect,
     * log in) or twice that (a statement), so that a v1 that does not answer only delays the next look.
     */
    public static Connection connect(SourceSpec source, String applicationName, Duration timeout) throws SQLException {
        Properties props = Connections.settings(source.user(), source.password(), applicationName);
        props.setProperty("connectTimeout", String.valueOf(timeout.toSeconds()));
        props.setProperty("loginTimeout", String.valueOf(timeout.toSeconds()));
        props.setProperty("socketTimeout", String.valueOf(timeout.toSeconds() * 2));
        Connection c = Connections.connect(source.url(), props);
        c.setAutoCommit(true);
        return c;
    }

    /** Whether PostgreSQL has invalidated it ({@code wal_status lost}): it can no longer be read. */
    public boolean lost() {
        return "lost".equals(walStatus);
    }

    /** A byte count the way pg_size_pretty prints it (bytes, kB, MB, GB, TB; 1024-based, rounded). */
    public static String size(long bytes) {
        String[] units = {"bytes", "kB", "MB", "GB", "TB", "PB"};
        double value = bytes;
        int unit = 0;
        // pg_size_pretty switches unit once the value reaches 10240 of the smaller one.
        while (Math.abs(value) >= 10 * 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return Math.round(value) + " " + units[unit];
    }
}
