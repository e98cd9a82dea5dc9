package dev.cdcmigrator.transform.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.Op;
import dev.cdcmigrator.common.event.SourcePosition;

/**
 * A v1 change waiting for a lookup row its dimensions need: the newest change of the row not yet applied, with what
 * a dead letter needs should the wait run out.
 *
 * @param op the change kind
 * @param image the full row image after it (unchanged TOASTed values filled where an earlier image knew them)
 * @param source where it happened on v1
 * @param position its place in capture's order
 * @param sinceMs when the row started waiting (wall clock), kept across later changes of the row
 * @param topic the raw record's topic
 * @param partition its partition
 * @param offset its offset
 * @param key the raw record's key
 * @param value the raw record's value
 */
record HeldRow(Op op, ObjectNode image, SourcePosition source, StreamPosition position, long sinceMs,
               String topic, int partition, long offset, byte[] key, byte[] value) {
}
