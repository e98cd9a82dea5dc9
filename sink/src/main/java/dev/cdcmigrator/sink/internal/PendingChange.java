package dev.cdcmigrator.sink.internal;

import dev.cdcmigrator.common.event.V2Change;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * A v2 change waiting to be applied, with the record it came from (kept whole so a rejected row can be
 * dead-lettered as it arrived).
 *
 * @param position its place in its row's order: the record's offset, or for a replayed dead letter its original's
 * @param merged whether {@code change} is the record's partial update on top of an earlier change of the row in the
 *               same batch ({@link V2Change#onTopOf}), so that the record alone no longer holds what it writes
 */
public record PendingChange(V2Change change, ConsumerRecord<byte[], byte[]> record, long position, boolean merged) {
}
