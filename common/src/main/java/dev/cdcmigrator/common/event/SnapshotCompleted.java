package dev.cdcmigrator.common.event;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The control record capture writes to every partition of every raw topic once an initial snapshot is complete, after
 * the snapshot's last read and before the first streamed change. A snapshot taken again after a crash supersedes
 * everything published before it; this marker lets the transform (one task per raw partition, some of which may have
 * received no read) see where the new snapshot ends, so that it can delete the v2 rows of v1 rows the new snapshot no
 * longer contains. The record has no key; its value is this record as JSON and it carries {@link #HEADER}.
 *
 * @param snapshotLsn the WAL position the snapshot was taken at (the {@code lsn} of its reads)
 * @param tsMs when capture saw the snapshot end (ms since the epoch)
 */
public record SnapshotCompleted(long snapshotLsn, long tsMs) {

    /** The header naming a raw topic record as a control record rather than a Debezium change. */
    public static final String HEADER = "cdc-migrator.control";

    /** The value of {@link #HEADER} on this marker. */
    public static final byte[] TYPE = "snapshot-completed".getBytes(StandardCharsets.UTF_8);

    /** Whether a record with these headers is this marker. */
    public static boolean isMarker(Headers headers) {
        Header header = headers == null ? null : headers.lastHeader(HEADER);
        return header != null && java.util.Arrays.equals(header.value(), TYPE);
    }
}
