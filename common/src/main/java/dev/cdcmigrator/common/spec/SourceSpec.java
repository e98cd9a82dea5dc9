package dev.cdcmigrator.common.spec;

/**
 * The v1 database that capture reads from.
 *
 * @param url JDBC URL, {@code jdbc:postgresql://host:port/database}
 * @param user a user with the REPLICATION attribute and SELECT on the mapped tables
 * @param password its password (may be empty)
 * @param schema the schema holding the mapped tables; default {@code public}
 */
public record SourceSpec(String url, String user, String password, String schema) {

    public SourceSpec {
        JdbcUrl.parse(url);
        user = Identifiers.requireText(user, "user");
        password = password == null ? "" : password;
        schema = schema == null ? "public" : Identifiers.requireValid(schema, "a schema name");
    }

    /** The parsed {@link #url()}. */
    public JdbcUrl jdbcUrl() {
        return JdbcUrl.parse(url);
    }
}
