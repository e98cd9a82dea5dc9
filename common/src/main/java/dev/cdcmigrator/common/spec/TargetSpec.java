package dev.cdcmigrator.common.spec;

/**
 * The v2 database that the sink writes to.
 *
 * @param url JDBC URL, {@code jdbc:postgresql://host:port/database}
 * @param user a user that may write the v2 tables and create the migrator's state schema
 * @param password its password (may be empty)
 * @param schema the schema holding the v2 tables; default {@code public}
 * @param stateSchema the schema where the sink keeps its consumed offsets; default {@code migrator_state}
 */
public record TargetSpec(String url, String user, String password, String schema, String stateSchema) {

    public TargetSpec {
        JdbcUrl.parse(url);
        user = Identifiers.requireText(user, "user");
        password = password == null ? "" : password;
        schema = schema == null ? "public" : Identifiers.requireValid(schema, "a schema name");
        stateSchema = stateSchema == null ? "migrator_state" : Identifiers.requireValid(stateSchema, "a schema name");
    }

    /** The parsed {@link #url()}. */
    public JdbcUrl jdbcUrl() {
        return JdbcUrl.parse(url);
    }
}
