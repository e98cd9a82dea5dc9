package dev.cdcmigrator.common.spec;

/**
 * How the rows already in v1 when the migration starts reach v2.
 *
 * @param mode {@link Mode#COPY} (default): copied straight from the snapshot exported with the replication slot,
 *             mapped in-process by the same spec code and written with COPY, in parallel chunks that resume after a
 *             crash; it takes every table Debezium's snapshot takes; {@link Mode#DEBEZIUM}: Debezium's initial
 *             snapshot, every row through Kafka, the transform and the sink
 * @param parallelism copy mode: chunks copied at once; default 2
 * @param chunkRows copy mode: rows per chunk, a range of the table's primary key; default 10,000
 */
public record BackfillSpec(Mode mode, Integer parallelism, Integer chunkRows) {

    /** How the backfill runs. */
    public enum Mode {
        DEBEZIUM, COPY;

        @com.fasterxml.jackson.annotation.JsonCreator
        public static Mode of(String text) {
            for (Mode mode : values()) {
                if (mode.name().equalsIgnoreCase(text)) {
                    return mode;
                }
            }
            throw new IllegalArgumentException("mode must be debezium or copy, was '" + text + "'");
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public String text() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public static final BackfillSpec DEFAULT = new BackfillSpec(null, null, null);

    public BackfillSpec {
        mode = mode == null ? Mode.COPY : mode;
        parallelism = parallelism == null ? 2 : parallelism;
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be at least 1, was " + parallelism);
        }
        chunkRows = chunkRows == null ? 10_000 : chunkRows;
        if (chunkRows < 1) {
            throw new IllegalArgumentException("chunkRows must be at least 1, was " + chunkRows);
        }
    }
}
