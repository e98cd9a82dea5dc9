package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.common.event.SourcePosition;

/**
 * A change's place in the order capture delivers changes. Every initial snapshot, including one capture takes again
 * after a crash, starts an epoch named by the snapshot's LSN: it supersedes everything published before it. Within an
 * epoch, the snapshot's reads come first, then streamed changes in commit order (the last commit LSN before the
 * change's transaction), then by LSN within the transaction.
 *
 * @param epoch the LSN of the snapshot this change belongs to or follows (0 before any snapshot)
 * @param lastCommitLsn commit order; -1 for snapshot reads
 * @param lsn order within a transaction
 */
record StreamPosition(long epoch, long lastCommitLsn, long lsn) implements Comparable<StreamPosition> {

    /**
     * @param source where the change happened on v1
     * @param epoch the epoch of the raw partition it arrived on; a snapshot read names its own
     */
    static StreamPosition of(SourcePosition source, long epoch) {
        if (source.snapshot()) {
            // A row read again by a resumed copy supersedes its earlier read, within the same epoch.
            long read = source.lastCommitLsn() == null ? source.lsn() : Math.max(source.lsn(), source.lastCommitLsn());
            return new StreamPosition(source.lsn(), -1, read);
        }
        return new StreamPosition(epoch, source.lastCommitLsn() == null ? 0 : source.lastCommitLsn(), source.lsn());
    }

    /** The position of the reads of the snapshot taken at {@code snapshotLsn}. */
    static StreamPosition snapshotAt(long snapshotLsn) {
        return new StreamPosition(snapshotLsn, -1, snapshotLsn);
    }

    boolean snapshot() {
        return lastCommitLsn == -1;
    }

    /**
     * Whether a change at {@code this} position was already applied when {@code applied} was the last one applied for
     * the same row. A snapshot read equal to the last one is the same snapshot taken again with no WAL written in
     * between; its values are as new as any, so it is applied.
     */
    boolean replayOf(StreamPosition applied) {
        int order = compareTo(applied);
        return order < 0 || order == 0 && !snapshot();
    }

    @Override
    public int compareTo(StreamPosition other) {
        int byEpoch = Long.compare(epoch, other.epoch);
        if (byEpoch != 0) {
            return byEpoch;
        }
        int byCommit = Long.compare(lastCommitLsn, other.lastCommitLsn);
        return byCommit != 0 ? byCommit : Long.compare(lsn, other.lsn);
    }
}
