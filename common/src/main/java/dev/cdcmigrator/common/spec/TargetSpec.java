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
            int dot = trigger == null ? -1 : trigger.indexOf('.');
            if (dot < 0) {
                throw new IllegalArgumentException("triggers: " + trigger + " is not table.trigger");
            }
            Identifiers.requireValid(trigger.substring(0, dot), "a table name");
            Identifiers.requireValid(trigger.substring(dot + 1), "a trigger name");
        }
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
