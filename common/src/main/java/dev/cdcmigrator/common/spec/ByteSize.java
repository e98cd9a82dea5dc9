package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An amount of bytes as the spec writes it: a whole number and a unit, {@code B}, {@code kB}, {@code MB}, {@code GB}
 * or {@code TB} (1024-based and case-insensitive, as PostgreSQL reads {@code max_slot_wal_keep_size}), e.g.
 * {@code 50GB}.
 *
 * @param bytes the amount; at least 1
 */
public record ByteSize(long bytes) {

    private static final Pattern FORM = Pattern.compile("(\\d{1,15})\\s*(B|kB|MB|GB|TB)", Pattern.CASE_INSENSITIVE);
    private static final String[] UNITS = {"B", "kB", "MB", "GB", "TB"};
    /** What a size looks like, for error messages. */
    static final String EXPECTED = "a size such as 50GB (a whole number and B, kB, MB, GB or TB; 1024-based)";

    public ByteSize {
        if (bytes < 1) {
            throw new IllegalArgumentException("a size must be at least 1B, was " + bytes + " bytes");
        }
    }

    /** Reads {@code 50GB}, {@code 512 MB}, {@code 1tb}. */
    @JsonCreator
    public static ByteSize parse(String text) {
        Matcher m = FORM.matcher(text == null ? "" : text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("expected " + EXPECTED + ", got '" + text + "'");
        }
        int unit = 0;
        while (!UNITS[unit].equalsIgnoreCase(m.group(2))) {
            unit++;
        }
        long number = Long.parseLong(m.group(1));
        if (number > Long.MAX_VALUE >> (10 * unit)) {
            throw new IllegalArgumentException("size '" + text + "' is too large");
        }
        return new ByteSize(number << (10 * unit));
    }

    /** The largest unit that writes it exactly, e.g. {@code 50GB}; what {@link #parse} reads back. */
    @JsonValue
    @Override
    public String toString() {
        int unit = 0;
        long value = bytes;
        while (unit < UNITS.length - 1 && value % 1024 == 0) {
            value /= 1024;
            unit++;
        }
        return value + UNITS[unit];
    }
}
