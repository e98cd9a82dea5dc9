package dev.cdcmigrator.avro.internal;

import org.apache.avro.Conversions;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;

/** The two GenericData models of the serializers: plain, and with Avro's logical-type conversions. */
public final class AvroData {

    /** Plain Avro representations (ByteBuffer decimals, long timestamps, ...): what Confluent's deserializer returns by default. */
    public static final GenericData PLAIN = new GenericData();

    /**
     * With every logical-type conversion Avro has: the writer accepts both plain values and BigDecimal, UUID,
     * Instant, LocalDate, LocalTime, LocalDateTime; the reader returns the latter.
     */
    public static final GenericData WITH_CONVERSIONS = withConversions();

    private AvroData() {
    }

    private static GenericData withConversions() {
        GenericData data = new GenericData();
        data.addLogicalTypeConversion(new Conversions.DecimalConversion());
        data.addLogicalTypeConversion(new Conversions.UUIDConversion());
        data.addLogicalTypeConversion(new TimeConversions.DateConversion());
        data.addLogicalTypeConversion(new TimeConversions.TimeMillisConversion());
        data.addLogicalTypeConversion(new TimeConversions.TimeMicrosConversion());
        data.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());
        data.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());
        data.addLogicalTypeConversion(new TimeConversions.LocalTimestampMillisConversion());
        data.addLogicalTypeConversion(new TimeConversions.LocalTimestampMicrosConversion());
        return data;
    }
}
