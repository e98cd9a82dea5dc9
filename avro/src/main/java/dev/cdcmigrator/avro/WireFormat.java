package dev.cdcmigrator.avro;

import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.SerializationException;

/**
 * Confluent's wire format of a Kafka record key or value: the magic byte {@code 0}, the schema id as a 4-byte
 * big-endian int, then the Avro binary encoding of the datum (no Avro container header, no fingerprint).
 */
public final class WireFormat {

    /** The first byte of every record in the format. */
    public static final byte MAGIC_BYTE = 0;
    /** Magic byte and schema id. */
    public static final int HEADER_SIZE = 5;

    private WireFormat() {
    }

    /** {@code avroBinary} framed with the magic byte and {@code schemaId}. */
    public static byte[] frame(int schemaId, byte[] avroBinary) {
        return ByteBuffer.allocate(HEADER_SIZE + avroBinary.length).put(MAGIC_BYTE).putInt(schemaId).put(avroBinary).array();
    }

    /**
     * The schema id of a framed record.
     *
     * @throws SerializationException if the bytes are shorter than the header or do not start with the magic byte
     */
    public static int schemaId(byte[] framed) {
        if (framed.length < HEADER_SIZE) {
            throw new SerializationException("a record of " + framed.length + " bytes is not in the Confluent wire format"
                    + " (needs a magic byte and a 4-byte schema id)");
        }
        if (framed[0] != MAGIC_BYTE) {
            throw new SerializationException("unknown magic byte " + framed[0] + ": the record is not in the Confluent wire"
                    + " format (Avro with a schema registry), e.g. it is JSON written by a serializer without a registry");
        }
        return ByteBuffer.wrap(framed, 1, 4).getInt();
    }

    /** The Avro binary part of a framed record (after {@link #schemaId(byte[])} checked the header). */
    public static ByteBuffer payload(byte[] framed) {
        schemaId(framed);
        return ByteBuffer.wrap(framed, HEADER_SIZE, framed.length - HEADER_SIZE).slice();
    }
}
