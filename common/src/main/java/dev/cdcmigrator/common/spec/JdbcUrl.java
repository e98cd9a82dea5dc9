package dev.cdcmigrator.common.spec;

import java.util.Collections;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * A PostgreSQL JDBC URL as PgJDBC itself reads it ({@code org.postgresql.Driver.parseURL}): the server, the database
 * and every connection property the URL carries ({@code sslmode}, {@code sslrootcert}, {@code sslcert},
 * {@code targetServerType}, ...). Connections opened from the URL get them all from PgJDBC; Debezium, which builds its
 * own URL from separate settings, gets them from {@link #properties()}.
 *
 * @param host the host name or address; for a multi-host URL the hosts, comma-separated
 * @param port the (first host's) port, 5432 when the URL has none
 * @param database the database name
 * @param properties the URL's connection properties (decoded), by name
 */
public record JdbcUrl(String host, int port, String database, Map<String, String> properties) {

    private static final String PREFIX = "jdbc:postgresql://";
    private static final Set<String> LOCATION = Set.of("PGHOST", "PGPORT", "PGDBNAME");
    /** The TLS modes under which the client checks the server's certificate. */
    private static final Set<String> VERIFYING = Set.of("verify-ca", "verify-full");

    public JdbcUrl {
        properties = Collections.unmodifiableMap(new TreeMap<>(properties));
    }

    /**
     * Parses {@code jdbc:postgresql://host[:port][,host2[:port2]...]/database[?property=value&...]}.
     *
     * @throws IllegalArgumentException if PgJDBC would not take it, it names no database, or it carries the user or
     *                                  password (the spec's {@code user} and {@code password} are what every connection
     *                                  uses; a second, different one in the URL would win in some and not in others)
     */
    public static JdbcUrl parse(String url) {
        if (url == null || !url.startsWith(PREFIX)) {
            throw new IllegalArgumentException("url must look like " + PREFIX + "host:port/database, was " + shown(url));
        }
        Properties parsed = org.postgresql.Driver.parseURL(url, null);
        if (parsed == null) {
            throw new IllegalArgumentException("url is not a valid PostgreSQL JDBC URL: " + shown(url));
        }
        String database = parsed.getProperty("PGDBNAME", "");
        if (database.isEmpty()) {
            throw new IllegalArgumentException("url must name a database: " + shown(url));
        }
        Map<String, String> properties = new TreeMap<>();
        for (String name : parsed.stringPropertyNames()) {
            if (!LOCATION.contains(name)) {
                properties.put(name, parsed.getProperty(name));
            }
        }
        for (String credential : new String[] {"user", "password"}) {
            if (properties.containsKey(credential)) {
                throw new IllegalArgumentException("url carries the " + credential + ": give it as the spec's "
                        + credential + " instead, which every connection of the migrator uses");
            }
        }
        String port = parsed.getProperty("PGPORT", "5432").split(",")[0];
        return new JdbcUrl(parsed.getProperty("PGHOST"), Integer.parseInt(port), database, properties);
    }

    /** Whether the URL names more than one server (PgJDBC tries them in turn). */
    public boolean multiHost() {
        return host.contains(",");
    }

    /** Whether the connection checks the server's certificate ({@code sslmode} verify-ca or verify-full). */
    public boolean verifiesServer() {
        return VERIFYING.contains(properties.getOrDefault("sslmode", ""));
    }

    /** The URL as printed: without its properties, which may carry secrets ({@code sslpassword}). */
    public static String shown(String url) {
        if (url == null) {
            return null;
        }
        int query = url.indexOf('?');
        return query < 0 ? url : url.substring(0, query);
    }
}
