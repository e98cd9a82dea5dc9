package dev.cdcmigrator.capture.internal;

import static dev.cdcmigrator.common.SqlText.quote;

import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.Refusal;
import dev.cdcmigrator.common.SqlTransaction;
import java.sql.Array;
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
     * Creates the publication, or narrows an existing one to {@code tables} ({@code ALTER PUBLICATION ... SET TABLE}),
     * unless {@link #refusals} finds a reason not to.
     *
     * @param name the publication's name
     * @param schema the v1 schema of every table
     * @param tables the tables capture reads, unqualified
     * @param migration the migration's id ({@code kafka.topicPrefix}), which marks the publication ({@link Marks})
     * @throws IllegalStateException naming the publication, the tables and the fix, when capture cannot use it
     */
    public static void ensure(Connection c, String name, String schema, List<String> tables, String migration)
            throws SQLException {
        Refusal.throwIfAny("capture", refusals(c, name, schema, tables, migration));
        String list = tables.stream().map(t -> quote(schema) + "." + quote(t)).collect(Collectors.joining(", "));
        if (!exists(c, name)) {
            // With its mark in one transaction: an unmarked publication left by a crash here would be refused next time.
            SqlTransaction.run(c, () -> {
                try (Statement st = c.createStatement()) {
                    st.execute(createStatement(name, list));
                    Marks.mark(c, Marks.Subject.publication(name), migration);
                }
            });
            LOGGER.info("created publication {} for {}", name, list);
            return;
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

    /**
     * Why capture cannot publish {@code tables} through publication {@code name}, on v1 as it is now: a partition read
     * next to a partitioned table it belongs to (PostgreSQL publishes its changes once, under the root's name, so the
     * partition's own mapping would receive nothing); and, for an existing publication, one not marked as this
     * migration's ({@link Marks}), one {@code FOR ALL TABLES}, one that leaves out inserts, updates or deletes, and
     * one that would report partitions under their own names. Reads only.
     */
    public static List<Refusal> refusals(Connection c, String name, String schema, List<String> tables, String migration)
            throws SQLException {
        List<Refusal> refusals = new ArrayList<>();
        Marks.refusal(c, Marks.Subject.publication(name), migration).ifPresent(refusals::add);
        for (String[] nested : partitionsOfReadTables(c, schema, tables)) {
            refusals.add(new Refusal("v1 " + schema + "." + nested[0], "is a partition of " + schema + "." + nested[1]
                    + ", which capture reads too: PostgreSQL publishes the partition's changes once, under "
                    + nested[1] + "'s name, so what tables." + nested[0] + " maps would receive none of them",
                    "map only " + nested[1] + " (it carries the rows of all its partitions), or only the partition"));
        }
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT puballtables, pubviaroot, pubinsert, pubupdate, pubdelete FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return refusals;
                }
                String subject = "source";
                if (rs.getBoolean(1)) {
                    refusals.add(new Refusal(subject, "publication " + name + " exists FOR ALL TABLES: capture would"
                            + " receive the changes of every v1 table, and cannot narrow it to the tables it reads",
                            "DROP PUBLICATION " + quote(name) + " (capture then creates it for the tables it reads), or"
                                    + " choose another kafka.topicPrefix"));
                }
                List<String> unpublished = new ArrayList<>();
                String[] kinds = {"insert", "update", "delete"};
                for (int i = 0; i < kinds.length; i++) {
                    if (!rs.getBoolean(3 + i)) {
                        unpublished.add(kinds[i]);
                    }
                }
                if (!unpublished.isEmpty()) {
                    refusals.add(new Refusal(subject, "publication " + name + " does not publish "
                            + String.join(", ", unpublished) + ": capture would never see those changes",
                            "ALTER PUBLICATION " + quote(name) + " SET (publish = 'insert, update, delete, truncate')"));
                }
                List<String> partitioned = partitioned(c, schema, tables);
                if (!rs.getBoolean(2) && !partitioned.isEmpty()) {
                    refusals.add(new Refusal(subject, "publication " + name + " has publish_via_partition_root = false,"
                            + " so the changes of partitioned " + String.join(", ", partitioned) + " would arrive under"
                            + " the names of their partitions, which the spec does not map",
                            "ALTER PUBLICATION " + quote(name) + " SET (publish_via_partition_root = true)"));
                }
            }
        }
        return refusals;
    }

    /** Creates the publication for {@code tables} (quoted, schema-qualified, comma-separated). */
    private static String createStatement(String name, String tables) {
        return "CREATE PUBLICATION " + quote(name) + " FOR TABLE " + tables + " WITH (publish_via_partition_root = true)";
    }

    private static boolean exists(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Each of {@code tables} that is a partition, at any depth, of another of them: {partition, ancestor}. */
    private static List<String[]> partitionsOfReadTables(Connection c, String schema, List<String> tables) throws SQLException {
        List<String[]> found = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT c.relname, a.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL pg_partition_ancestors(c.oid) p JOIN pg_class a ON a.oid = p.relid
                WHERE n.nspname = ? AND c.relname = ANY (?) AND c.relispartition AND a.oid <> c.oid
                  AND a.relnamespace = n.oid AND a.relname = ANY (?)
                ORDER BY c.relname, a.relname""")) {
            Array names = c.createArrayOf("text", tables.toArray());
            ps.setString(1, schema);
            ps.setArray(2, names);
            ps.setArray(3, names);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
        }
        return found;
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
}
