package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** How the transform writes the v2 topics ({@code kafka.v2Format}); the raw topics are Debezium JSON either way. */
public enum V2Format {

    /** {@code V2Change} as JSON, no registry needed: the default. */
    JSON,
    /**
     * Avro in Confluent's wire format (magic byte, schema id, Avro binary), the schemas derived from the v2 tables and
     * registered in {@code kafka.schemaRegistry} under {@code <topic>-key} and {@code <topic>-value}.
     */
    AVRO;

    /** The spelling in the spec: {@code json} or {@code avro}. */
    @JsonValue
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Reads the spec's spelling exactly (lower case), so that a typo is an error rather than a guess. */
    @JsonCreator
    public static V2Format of(String text) {
        for (V2Format format : values()) {
            if (format.text().equals(text)) {
                return format;
            }
        }
        throw new IllegalArgumentException("v2Format must be json or avro, was '" + text + "'");
    }
}
