package dev.cdcmigrator.capture.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Capture's publication on v1, which capture manages itself (Debezium's {@code publication.autocreate.mode} is
 * {@code disabled}): {@code FOR TABLE} exactly the tables capture reads, {@code WITH (publish_via_partition_root =
 * true)}, so that pgoutput reports a change of a partition under its partitioned table's name, for partitions that
 * exist now and those attached or created later.
 */
public final class Publication {

    private static final Logger LOGGER = LoggerFactory.getLogger(Publication.class);

    private Publication() {
    }

    /**
     * Creates the publication, or narrows an existing one to {@code tables} ({@code ALTER PUBLICATION ... SET TABLE});
     * refuses one {@code FOR ALL TABLES} and one that would report partitions under their own names.
     *
     * @param name the publication's name
     * @param schema the v1 schema of every table
     * @param tables the tables capture reads, unqualified
     * @throws IllegalStateException naming the publication, the tables and the fix, when capture cannot use it
     */
    public static void ensure(Connection c, String name, String schema, List<String> tables) throws SQLException {
        String list = tables.stream().map(t -> quote(schema) + "." + quote(t)).collect(Collectors.joining(", "));
        boolean allTables;
        boolean viaRoot;
        try (PreparedStatement ps = c.prepareStatement("SELECT puballtables, pubviaroot FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    try (Statement st = c.createStatement()) {
                        st.execute("CREATE PUBLICATION " + quote(name) + " FOR TABLE " + list
                                + " WITH (publish_via_partition_root = true)");
                    }
                    LOGGER.info("created publication {} for {}", name, list);
                    return;
                }
                allTables = rs.getBoolean(1);
                viaRoot = rs.getBoolean(2);
            }
        }
        if (allTables) {
            throw new IllegalStateException("publication " + name + " exists FOR ALL TABLES: capture would receive the"
                    + " changes of every v1 table; fix: DROP PUBLICATION " + quote(name) + " (capture then creates it for"
                    + " the mapped tables), or choose another kafka.topicPrefix");
        }
        List<String> partitioned = partitioned(c, schema, tables);
        if (!viaRoot && !partitioned.isEmpty()) {
            throw new IllegalStateException("publication " + name + " has publish_via_partition_root = false, so the"
                    + " changes of partitioned " + String.join(", ", partitioned) + " would arrive under the names of"
                    + " their partitions, which the spec does not map; fix: ALTER PUBLICATION " + quote(name)
                    + " SET (publish_via_partition_root = true)");
        }
        Set<String> members = members(c, name);
        Set<String> wanted = tables.stream().map(t -> schema + "." + t).collect(Collectors.toCollection(LinkedHashSet::new));
        if (!members.equals(wanted)) {
            try (Statement st = c.createStatement()) {
                st.execute("ALTER PUBLICATION " + quote(name) + " SET TABLE " + list);
            }
            LOGGER.info("publication {} covered {}; set it to {}", name, members, wanted);
        }
    }

    /** Those of {@code tables} that are partitioned tables. */
    private static List<String> partitioned(Connection c, String schema, List<String> tables) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ANY (?) AND c.relkind = 'p' ORDER BY c.relname""")) {
            ps.setString(1, schema);
            ps.setArray(2, c.createArrayOf("text", tables.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.add(schema + "." + rs.getString(1));
                }
            }
        }
        return found;
    }

    /** The tables the publication names itself ({@code pg_publication_rel}, not the partitions it publishes). */
    private static Set<String> members(Connection c, String name) throws SQLException {
        Set<String> found = new LinkedHashSet<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT n.nspname, c.relname FROM pg_publication p
                JOIN pg_publication_rel r ON r.prpubid = p.oid
                JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE p.pubname = ?""")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.add(rs.getString(1) + "." + rs.getString(2));
                }
            }
        }
        return found;
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
