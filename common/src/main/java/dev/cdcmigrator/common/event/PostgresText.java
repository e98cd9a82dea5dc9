package dev.cdcmigrator.common.event;

/** Text the way PostgreSQL reads and prints it, where Java's ISO-8601 forms differ. */
public final class PostgresText {

    private PostgresText() {
    }

    /**
     * A date or timestamp in ISO-8601 form ({@code 2024-03-01}, {@code -0043-03-15T12:00:00}) as PostgreSQL writes it:
     * ISO counts 1 BC as year 0 and 44 BC as {@code -0043}, PostgreSQL counts years from 1 and appends {@code BC}
     * ({@code 0044-03-15 BC}).
     */
    public static String era(String iso) {
        if (!iso.startsWith("-") && !iso.startsWith("0000")) {
            return iso;
        }
        int dash = iso.indexOf('-', 1);
        long isoYear = Long.parseLong(iso.substring(0, dash));
        return String.format("%04d", 1 - isoYear) + iso.substring(dash) + " BC";
    }
}
