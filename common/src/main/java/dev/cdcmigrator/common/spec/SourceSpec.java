package dev.cdcmigrator.common.spec;

/**
 * The v1 database that capture reads from.
 *
 * @param url JDBC URL, {@code jdbc:postgresql://host:port/database[?property=value&...]}; its properties (TLS:
 *            {@code sslmode}, {@code sslrootcert}, {@code sslcert}, {@code sslkey}, ...) reach every connection to v1,
 *            capture's included
 * @param user a user with the REPLICATION attribute and SELECT on the mapped tables
 * @param password its password (may be empty)
 * @param schema the schema holding the mapped tables; default {@code public}
 * @param slot what the replication slot may keep on v1; default no limit
 */
public record SourceSpec(String url, String user, String password, String schema, SlotSpec slot) {

    public SourceSpec {
        if (JdbcUrl.parse(url).multiHost()) {
            throw new IllegalArgumentException("url names several hosts, but capture streams from one server (its"
                    + " replication slot lives there): name the primary alone");
        }
        user = Identifiers.requireText(user, "user");
        password = password == null ? "" : password;
        schema = schema == null ? "public" : Identifiers.requireValid(schema, "a schema name");
        slot = slot == null ? SlotSpec.DEFAULT : slot;
    }

    /** The parsed {@link #url()}. */
    public JdbcUrl jdbcUrl() {
        return JdbcUrl.parse(url);
    }
}
