package dev.cdcmigrator.common.spec;

/**
 * The v2 database that the sink writes to.
 *
 * @param url JDBC URL, {@code jdbc:postgresql://host:port/database[?property=value&...]}, used as it is
 * @param user a user that may write the v2 tables and create the migrator's state schema
 * @param password its password (may be empty)
 * @param schema the schema holding the v2 tables; default {@code public}
 * @param stateSchema the schema where the sink keeps its consumed offsets; default {@code migrator_state}
 * @param triggers the v2 triggers ({@code table.trigger}) that fire on the rows the migrator applies; every other
 *                 trigger of a mapped v2 table is suspended until {@code migrator cutover enforce}
 */
public record TargetSpec(String url, String user, String password, String schema, String stateSchema,
                         java.util.List<String> triggers) {

    public TargetSpec {
        JdbcUrl.parse(url);
        user = Identifiers.requireText(user, "user");
        password = password == null ? "" : password;
        schema = schema == null ? "public" : Identifiers.requireValid(schema, "a schema name");
        stateSchema = stateSchema == null ? "migrator_state" : Identifiers.requireValid(stateSchema, "a schema name");
        triggers = triggers == null ? java.util.List.of() : java.util.List.copyOf(triggers);
        for (String trigger : triggers) {
            requireTrigger(trigger);
        }
    }

    // Compared as written with "table.trigger" of v2's catalog; either name may hold dots, so any split will do.
    private static void requireTrigger(String trigger) {
        IllegalArgumentException first = null;
        for (int dot = trigger == null ? -1 : trigger.indexOf('.'); dot >= 0; dot = trigger.indexOf('.', dot + 1)) {
            try {
                Identifiers.requireValid(trigger.substring(0, dot), "a table name");
                Identifiers.requireValid(trigger.substring(dot + 1), "a trigger name");
                return;
            } catch (IllegalArgumentException e) {
                first = first == null ? e : first;
            }
        }
        throw first != null ? first : new IllegalArgumentException("triggers: " + trigger + " is not table.trigger");
    }

    /** A target whose triggers are all suspended while the migrator applies. */
    public TargetSpec(String url, String user, String password, String schema, String stateSchema) {
        this(url, user, password, schema, stateSchema, null);
    }

    /** The parsed {@link #url()}. */
    public JdbcUrl jdbcUrl() {
        return JdbcUrl.parse(url);
    }
}
