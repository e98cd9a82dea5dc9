package dev.cdcmigrator.common.spec;

/**
 * What capture may cost v1 through its replication slot. A slot nobody reads (capture stopped or stuck) keeps every
 * WAL segment from its restart position on; without a limit that fills v1's disk.
 *
 * @param maxRetainedWal the most WAL the slot may keep ({@code pg_current_wal_lsn() - restart_lsn}): capture warns at
 *     {@link #WARNING_FRACTION} of it, and past it drops the slot and stops, so that v1 keeps no more; null: no
 *     limit (then only PostgreSQL's {@code max_slot_wal_keep_size} protects v1)
 */
public record SlotSpec(ByteSize maxRetainedWal) {

    /** The share of {@link #maxRetainedWal} at which capture warns. */
    public static final double WARNING_FRACTION = 0.8;

    public static final SlotSpec DEFAULT = new SlotSpec(null);
}
