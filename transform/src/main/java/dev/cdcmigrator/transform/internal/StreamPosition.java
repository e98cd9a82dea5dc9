package dev.cdcmigrator.transform.internal;

import dev.cdcmigrator.common.event.SourcePosition;

/**
 * A change's place in the order capture delivers changes: snapshot reads first, then streamed changes in commit order
 * (the last commit LSN before the change's transaction), then by LSN within the transaction.
 *
 * @param lastCommitLsn commit order; -1 for snapshot reads
 * @param lsn order within a transaction
 */
record StreamPosition(long lastCommitLsn, long lsn) implements Comparable<StreamPosition> {

    static StreamPosition of(SourcePosition source) {
        if (source.snapshot()) {
            return new StreamPosition(-1, source.lsn());
        }
        return new StreamPosition(source.lastCommitLsn() == null ? 0 : source.lastCommitLsn(), source.lsn());
    }

    boolean snapshot() {
        return lastCommitLsn == -1;
    }

    /**
     * Whether a change at {@code this} position was already applied when {@code applied} was the last one applied for
     * the same row. A snapshot read equal to the last one is not a replay but a snapshot taken again, whose values are
     * as new as any: it is applied.
     */
    boolean replayOf(StreamPosition applied) {
        int order = compareTo(applied);
        return order < 0 || order == 0 && !snapshot();
    }

    @Override
    public int compareTo(StreamPosition other) {
        int byCommit = Long.compare(lastCommitLsn, other.lastCommitLsn);
        return byCommit != 0 ? byCommit : Long.compare(lsn, other.lsn);
    }
}
