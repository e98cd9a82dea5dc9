package dev.cdcmigrator.common.event;

/**
 * Where a change came from on v1.
 *
 * @param table the v1 table, schema-qualified
 * @param lsn the WAL position of the change
 * @param lastCommitLsn the commit LSN of the last transaction before this change's one (Debezium's
 *                      {@code sequence[0]}); with {@code lsn} it orders changes in commit order, which {@code lsn}
 *                      alone does not (transactions interleave in the WAL); for a snapshot read null, or for a row the
 *                      copy backfill read again from a newer snapshot after a crash, that snapshot's consistent point
 * @param txId the v1 transaction id, null for snapshot reads
 * @param tsMs when the change was committed on v1 (ms since the epoch)
 * @param snapshot whether the change was read by the initial snapshot
 */
public record SourcePosition(String table, long lsn, Long lastCommitLsn, Long txId, long tsMs, boolean snapshot) {

    /**
     * The v1 table without its schema {@code schema} (a name may hold dots, so the schema is cut off, not split at
     * a dot); the qualified name when it is another schema's.
     */
    public String table(String schema) {
        return table != null && table.startsWith(schema + ".") ? table.substring(schema.length() + 1) : table;
    }
}
