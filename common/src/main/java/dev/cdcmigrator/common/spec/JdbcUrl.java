package dev.cdcmigrator.common.spec;

import java.net.URI;

/**
 * The parts of a PostgreSQL JDBC URL that Debezium needs as separate settings.
 *
 * @param host host name or address
 * @param port port, 5432 when the URL has none
 * @param database database name
 */
public record JdbcUrl(String host, int port, String database) {

    private static final String PREFIX = "jdbc:postgresql://";

    /** Parses {@code jdbc:postgresql://host[:port]/database[?params]}. */
    public static JdbcUrl parse(String url) {
        if (url == null || !url.startsWith(PREFIX)) {
            throw new IllegalArgumentException("url must look like " + PREFIX + "host:port/database, was " + url);
        }
        URI uri;
        try {
            uri = URI.create(url.substring("jdbc:".length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("url is not a valid URL: " + url, e);
        }
        String path = uri.getPath();
        if (uri.getHost() == null || path == null || path.length() < 2) {
            throw new IllegalArgumentException("url must name a host and a database: " + url);
        }
        return new JdbcUrl(uri.getHost(), uri.getPort() == -1 ? 5432 : uri.getPort(), path.substring(1));
    }
}
