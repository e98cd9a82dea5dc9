package dev.cdcmigrator.cutover;

import static dev.cdcmigrator.common.SqlText.quoteIfNeeded;

import static dev.cdcmigrator.cutover.Finding.error;
import static dev.cdcmigrator.cutover.Finding.ok;
import static dev.cdcmigrator.cutover.Finding.warning;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.avro.SchemaRegistryClient;
import dev.cdcmigrator.avro.SchemaRegistryException;
import dev.cdcmigrator.capture.Capture;
import dev.cdcmigrator.common.CapturedColumns;
import dev.cdcmigrator.common.KafkaClients;
import dev.cdcmigrator.common.KafkaUnreachableException;
import dev.cdcmigrator.common.Marks;
import dev.cdcmigrator.common.Topics;
import dev.cdcmigrator.common.event.V2Change;
import dev.cdcmigrator.common.spec.ColumnSpec;
import dev.cdcmigrator.common.spec.JdbcUrl;
import dev.cdcmigrator.common.spec.KafkaSpec;
import dev.cdcmigrator.common.spec.MappingSpec;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecException;
import dev.cdcmigrator.common.spec.TableSpec;
import dev.cdcmigrator.cutover.internal.TypeRules;
import dev.cdcmigrator.pg.Catalog;
import dev.cdcmigrator.pg.Catalog.Column;
import dev.cdcmigrator.pg.Catalog.Relation;
import dev.cdcmigrator.pg.Catalog.UniqueIndex;
import dev.cdcmigrator.pg.Connections;
import dev.cdcmigrator.pg.UnreachableException;
import dev.cdcmigrator.sink.SinkState;
import dev.cdcmigrator.sink.TargetConstraints;
import dev.cdcmigrator.transform.ColumnReads;
import dev.cdcmigrator.transform.TransformTopology;
import dev.cdcmigrator.transform.TransformTopology.CheckedValue;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.postgresql.util.PSQLException;

/**
 * Checks, against the live v1 and v2 databases, everything a migration needs before it starts, and says for each
 * problem what to do. Reads only (system catalogs and settings); opens one test replication connection to v1.
 *
 * <p>Kafka: unless embedded, the cluster answers a client with the spec's {@code kafka.client} settings (TLS,
 * SASL), as every stage's clients will be built; the schema registry, when the spec has one, answers with its
 * settings.
 *
 * <p>Source: connection; {@code wal_level=logical}; REPLICATION (or superuser) and a working replication
 * connection; USAGE on {@code source.schema}; the publication {@code <topicPrefix>} (capture creates it FOR TABLE the
 * mapped tables, which needs CREATE on the database and ownership of the tables; if it exists, capture narrows it with
 * ALTER PUBLICATION ... SET TABLE, which needs ownership of it and of the tables, and refuses one FOR ALL TABLES);
 * the replication slot {@code <topicPrefix>}; a free replication slot and a free WAL sender.
 *
 * <p>Per v1 table: it exists and is a table, every {@code from} column exists (a missing column an expression reads
 * is a warning: {@link ColumnReads}), v1 columns that nothing reads and {@code drop} does not list are a warning, how
 * many columns capture leaves on v1 (or why it carries all), SELECT is granted, it has a primary
 * key, or else REPLICA IDENTITY FULL or {@code append: true} (and then neither a spec {@code key:}, dimensions, Avro v2
 * topics nor a v2 table shared with other mappings), and its REPLICA IDENTITY lets v1 keep updating and deleting once
 * the publication covers it. Under REPLICA IDENTITY DEFAULT, mapped columns that can be TOASTed (storage extended or external, except
 * varchar/char limited to {@value #SMALL_TEXT_LIMIT} characters) are named: an update that leaves such a value
 * unchanged does not carry it, and the transform fills it in from the row's previous image (or, with none, leaves a plain
 * copy of it as the target has it).
 *
 * <p>Per mapping (the direct form, or each entry of {@code split}), on its v2 table: it exists in {@code target.schema}; every mapped column exists and is writable (not generated,
 * not GENERATED ALWAYS AS IDENTITY); NOT NULL columns that the spec does not map have a default; SELECT, INSERT, UPDATE
 * and DELETE are granted; the v2 key (spec {@code key:}, or the v1 primary key renamed through the mapping) is exactly
 * the columns of a primary key or unique index, the arbiter of the sink's {@code INSERT ... ON CONFLICT (key)}.
 * Per mapped column: the v1 type converts into the v2 type ({@link TypeRules}) and a nullable v1 column does not feed
 * a NOT NULL v2 column. Target: the sink can create its state schema and offsets table; the foreign keys and
 * triggers it suspends while it applies ({@link TargetConstraints}), per v2 table, and the refusals of those it cannot.
 *
 * <p>Besides, every refusal the stages make at start is reported from the stages' own code: the spec's mappings
 * ({@link TransformTopology#problems}), capture's publication ({@link Capture#sourceRefusals}) and the sink's
 * suspension ({@link TargetConstraints#refusals}).
 */
public final class Preflight {

    /** varchar/char columns limited to at most this many characters are not counted as toastable. */
    public static final int SMALL_TEXT_LIMIT = 255;

    private static final String SOURCE = "source";
    private static final String KAFKA = "kafka";
    private static final Duration KAFKA_TIMEOUT = Duration.ofSeconds(10);
    private static final String TARGET = "target";

    private final Spec spec;
    private final String publication;
    private final List<Finding> findings = new ArrayList<>();
    /** What capture carries of each table; computed at the first table (null until then, or if the spec fails). */
    private CapturedColumns captured;

    private Preflight(Spec spec) {
        this.spec = spec;
        this.publication = new Topics(spec).slot();
    }

    /**
     * Runs every check and returns the findings in a stable order: the spec's mappings, source, target, then each
     * table sorted by v1 name (v1 side, v2 side, column types). A database that cannot be reached is one ERROR and its checks are
     * skipped; a check that cannot run is an ERROR naming what failed. {@code otherTables} and {@code copy: all} are
     * resolved first ({@link CopiedColumns}), as every command resolves them, and shown ({@link #resolutionFindings}).
     */
    public static List<Finding> check(Spec spec) {
        CopiedColumns.Resolution resolution;
        try {
            resolution = CopiedColumns.resolve(spec);
        } catch (SpecException e) {
            return List.of(specError(e, e.path().equals("otherTables") ? "list the tables to map under tables"
                    : "map the table by its columns, or correct its name"));
        } catch (UnreachableException e) {
            String side = e.what() == UnreachableException.What.TARGET ? TARGET : SOURCE;
            return List.of(error(side, e.getMessage(), "check " + side + ".url, " + side + ".user and " + side
                    + ".password, and that the server accepts connections from here: copy: all reads the columns it"
                    + " copies from v1, otherTables the tables of v1 and v2"));
        }
        Preflight preflight = new Preflight(resolution.spec());
        preflight.findings.addAll(resolutionFindings(spec, resolution));
        preflight.run();
        return List.copyOf(preflight.findings);
    }

    /**
     * What resolving made of the spec, so that nothing it maps is implicit: an OK line per table that copies, with its
     * effective mapping (one that {@code otherTables} mapped says so), and a WARNING per table {@code otherTables} left
     * out that an operator might have expected mapped: a WARNING as a v1 column nothing reads is, since its rows
     * would be on v1 only once writes move to v2.
     */
    static List<Finding> resolutionFindings(Spec given, CopiedColumns.Resolution resolution) {
        List<Finding> findings = new ArrayList<>();
        String schema = given.source().schema();
        resolution.copied().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            List<String> partitions = resolution.others().get(e.getKey());
            if (partitions == null) {
                findings.add(ok("spec tables." + e.getKey(), "copy: all " + e.getValue()));
            } else {
                findings.add(ok("spec otherTables", "maps v1 " + schema + "." + e.getKey() + " as copy: all "
                        + e.getValue() + (partitions.isEmpty() ? "" : "; with its partitions " + String.join(", ", partitions)
                        + ", whose changes PostgreSQL publishes under its name")));
            }
        });
        resolution.notMapped().forEach((table, why) -> findings.add(warning("v1 " + schema + "." + table,
                "not migrated (otherTables: copy): " + why.reason(), why.fix())));
        return findings;
    }

    private void run() {
        var source = spec.source();
        var target = spec.target();
        Map<String, TableSpec> tables = new TreeMap<>(spec.tables());
        Map<String, Optional<Relation>> v1Relations = new TreeMap<>();
        for (SpecException problem : TransformTopology.problems(spec)) {
            findings.add(specError(problem, "correct " + problem.path() + " (docs/spec.md)"));
        }
        checkKafka();
        try (Connection v1 = connect(SOURCE, source.url(), source.user(), source.password())) {
            if (v1 != null) {
                guarded(SOURCE, () -> {
                    for (String table : spec.capturedTables()) {
                        v1Relations.put(table, Catalog.relation(v1, source.schema(), table));
                    }
                    checkSource(v1, v1Relations);
                });
                for (String lookup : spec.lookupTables().keySet()) {
                    guarded("v1 " + source.schema() + "." + lookup, () -> checkLookupTable(lookup, v1, v1Relations.get(lookup)));
                }
            }
            try (Connection v2 = connect(TARGET, target.url(), target.user(), target.password())) {
                if (v2 != null) {
                    guarded(TARGET, () -> checkTarget(v2));
                    guarded(TARGET, () -> checkConstraints(v2));
                }
                for (Map.Entry<String, TableSpec> table : tables.entrySet()) {
                    checkTable(table.getKey(), table.getValue(), v1, v1Relations.get(table.getKey()), v2);
                }
                if (spec.kafka().v2Format() == dev.cdcmigrator.common.spec.V2Format.AVRO) {
                    // Names PostgreSQL takes but Avro does not are made valid, and two may become one field.
                    spec.v2Columns().forEach((v2Table, columns) -> dev.cdcmigrator.avro.V2TableSchema.fieldClash(v2Table, columns)
                            .ifPresent(clash -> findings.add(error("v2 " + target.schema() + "." + v2Table, clash
                                    + " (kafka.v2Format: avro)", "rename one of the v2 columns, or use kafka.v2Format: json"))));
                }
            }
        } catch (SQLException e) {
            // Only closing a connection can get here, after every check was recorded.
        }
    }

    // ---- connections -------------------------------------------------------------------------------------------

    /** A spec problem as one ERROR line: a compiler's message can span several. */
    private static Finding specError(SpecException problem, String fix) {
        return error("spec " + problem.path(), problem.reason().replaceAll("\\s*\\R\\s*", " ").strip(), fix);
    }

    /** Kafka and the schema registry, with the clients' settings from the spec, as the stages will use them. */
    private void checkKafka() {
        KafkaSpec kafka = spec.kafka();
        if (kafka.embedded()) {
            findings.add(ok(KAFKA, "kafka.bootstrap: embedded: migrator run starts its own broker (in --data-dir)"));
        } else {
            try (Admin admin = KafkaClients.connectedAdmin(spec, kafka.bootstrap(), Map.of(
                    AdminClientConfig.CLIENT_ID_CONFIG, "migrator-check"), KAFKA_TIMEOUT)) {
                DescribeClusterResult cluster = admin.describeCluster();
                findings.add(ok(KAFKA, "connected to Kafka at " + kafka.bootstrap() + " with the spec's kafka.client settings"
                        + " (cluster " + cluster.clusterId().get() + ", " + cluster.nodes().get().size() + " brokers)"));
            } catch (KafkaUnreachableException e) {
                int fix = e.getMessage().indexOf("; fix: ");
                findings.add(error(KAFKA, e.getMessage().substring(0, fix), e.getMessage().substring(fix + "; fix: ".length())));
            } catch (ExecutionException e) {
                findings.add(error(KAFKA, "Kafka at " + kafka.bootstrap() + " answered, then refused to describe the cluster: "
                        + e.getCause().getMessage(), "grant the migrator's principal DESCRIBE on the cluster"));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                findings.add(error(KAFKA, "interrupted while connecting to Kafka", "run check again"));
            }
        }
        if (kafka.schemaRegistry() != null) {
            String urls = String.join(",", kafka.schemaRegistry().urls());
            try {
                int subjects = SchemaRegistryClient.create(kafka.schemaRegistry().clientConfigs()).subjects().size();
                findings.add(ok(KAFKA, "kafka.schemaRegistry: the registry at " + urls + " answers (" + subjects + " subjects)"));
            } catch (SchemaRegistryException e) {
                findings.add(error(KAFKA, "kafka.schemaRegistry: " + e.getMessage(), "check kafka.schemaRegistry (url, "
                        + "basicAuth, settings) in the spec, and that the registry accepts connections from here"));
            }
        }
    }

    private Connection connect(String side, String url, String user, String password) {
        String shown = JdbcUrl.shown(url);
        Connection c;
        try {
            c = Connections.open(side.equals(SOURCE) ? UnreachableException.What.SOURCE : UnreachableException.What.TARGET,
                    url, user, password, "migrator-check");
        } catch (UnreachableException e) {
            findings.add(error(side, "cannot connect to " + shown + " as " + user + ": "
                    + Connections.describe((SQLException) e.getCause()), "check " + side + ".url, " + side + ".user and "
                    + side + ".password, and that the server accepts connections from here (listen_addresses, pg_hba.conf)"));
            return null;
        }
        guarded(side, () -> {
            findings.add(ok(side, "connected to " + shown + " as " + user + " (PostgreSQL "
                    + c.getMetaData().getDatabaseProductVersion() + ")"));
            checkTransport(side, c, JdbcUrl.parse(url));
        });
        return c;
    }

    /**
     * Whether the connection is encrypted and the server verified, as PostgreSQL sees it ({@code pg_stat_ssl}) and as
     * the URL asks ({@code sslmode}): anything below verify-full is a WARNING unless the server is on a loopback
     * address, where nothing crosses a network.
     */
    private void checkTransport(String side, Connection c, JdbcUrl url) throws SQLException {
        String fix = "add sslmode=verify-full&sslrootcert=<the file of the CA that signed the server's certificate> to "
                + side + ".url (docs/security.md)";
        String mode = url.properties().getOrDefault("sslmode", "prefer");
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            boolean ssl = rs.next() && rs.getBoolean(1);
            if (!ssl) {
                if (loopback(url.host())) {
                    findings.add(ok(side, "not encrypted, on a loopback address (" + url.host() + "): nothing crosses a network"));
                } else {
                    findings.add(warning(side, "not encrypted (sslmode=" + mode + "): the password and every row cross"
                            + " the network in clear text", fix));
                }
                return;
            }
            String tls = "TLS (" + rs.getString(2) + ", " + rs.getString(3) + ")";
            if (mode.equals("verify-full")) {
                findings.add(ok(side, tls + ", the server's certificate and host name verified (sslmode=verify-full)"));
            } else if (url.verifiesServer()) {
                findings.add(warning(side, tls + ", the server's certificate verified but not that it was issued for "
                        + url.host() + " (sslmode=" + mode + ")", "use sslmode=verify-full in " + side + ".url"));
            } else {
                findings.add(warning(side, tls + ", but the server's certificate is not verified (sslmode=" + mode
                        + "): whoever sits between can read and change everything", fix));
            }
        }
    }

    private static boolean loopback(String hosts) {
        for (String host : hosts.split(",")) {
            try {
                if (!InetAddress.getByName(host).isLoopbackAddress()) {
                    return false;
                }
            } catch (UnknownHostException e) {
                return false;
            }
        }
        return true;
    }

    private interface Check {
        void run() throws SQLException;
    }

    /** Runs a check; a query that fails becomes an ERROR on the subject instead of an exception. */
    private void guarded(String subject, Check check) {
        try {
            check.run();
        } catch (SQLException e) {
            findings.add(error(subject, "could not be checked: " + Connections.describe(e),
                    "make sure the user may read the system catalogs, then check again"));
        }
    }

    // ---- source ------------------------------------------------------------------------------------------------

    private void checkSource(Connection c, Map<String, Optional<Relation>> v1Relations) throws SQLException {
        String url = spec.source().url();
        String schema = spec.source().schema();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT current_user, current_database(), current_setting('wal_level'), r.rolsuper, r.rolreplication,
                       EXISTS (SELECT 1 FROM pg_roles m WHERE m.rolname = 'rds_replication'
                               AND pg_has_role(current_user, m.oid, 'MEMBER')),
                       has_database_privilege(current_database(), 'CREATE'),
                       current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots),
                       current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)
                FROM pg_roles r WHERE r.rolname = current_user""")) {
            rs.next();
            String user = rs.getString(1);
            String database = rs.getString(2);
            String walLevel = rs.getString(3);
            boolean superuser = rs.getBoolean(4);
            boolean replication = rs.getBoolean(5) || rs.getBoolean(6);
            boolean createInDatabase = rs.getBoolean(7);
            int maxSlots = rs.getInt(8);
            int usedSlots = rs.getInt(9);
            int maxSenders = rs.getInt(10);
            int usedSenders = rs.getInt(11);

            if ("logical".equals(walLevel)) {
                findings.add(ok(SOURCE, "wal_level is logical"));
            } else {
                findings.add(error(SOURCE, "wal_level is " + walLevel + ", but capture decodes the WAL logically and needs "
                        + "logical", "ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL"));
            }

            if (superuser || replication) {
                String how = superuser ? "is a superuser" : "has REPLICATION";
                Optional<String> failure = replicationConnectionFailure(url, spec.source().user(), spec.source().password());
                if (failure.isEmpty() && superuser) {
                    findings.add(warning(SOURCE, "user " + user + " is a superuser (a replication connection works): capture"
                            + " needs only REPLICATION and SELECT on the mapped tables, and the spec holds these credentials"
                            + " for the whole migration", "run it as a role with the grants of docs/security.md (Grants on v1)"));
                } else if (failure.isEmpty()) {
                    findings.add(ok(SOURCE, "user " + user + " " + how + " and a replication connection works"));
                } else {
                    findings.add(error(SOURCE, "user " + user + " " + how + ", but a replication connection fails: "
                            + failure.get(), "allow replication connections for " + user + " to " + database
                            + " (pg_hba.conf) and keep a WAL sender free"));
                }
            } else {
                findings.add(error(SOURCE, "user " + user + " has neither REPLICATION nor superuser: capture cannot open "
                        + "its replication connection (spec source.user)", "ALTER ROLE " + quoteIfNeeded(user) + " WITH REPLICATION"));
            }

            checkSchemaUsage(c, user, schema);
            checkHeartbeatTable(c, user, schema);
            checkPublication(c, user, database, createInDatabase, v1Relations);
            Capture.sourceRefusals(spec, c).forEach(refusal -> findings.add(Finding.refused(refusal)));
            boolean slotExists = checkSlot(c, database);
            checkWalRetention(c);

            int freeSlots = maxSlots - usedSlots;
            if (slotExists || freeSlots >= 1) {
                findings.add(ok(SOURCE, freeSlots + " of " + maxSlots + " replication slots free"
                        + (slotExists ? " (capture reuses slot " + publication + ")" : "")));
            } else {
                findings.add(error(SOURCE, "all " + maxSlots + " replication slots are in use (max_replication_slots), "
                        + "and capture needs one", "drop an unused slot (see pg_replication_slots) or raise "
                        + "max_replication_slots (needs a restart)"));
            }
            int freeSenders = maxSenders - usedSenders;
            if (freeSenders >= 1) {
                findings.add(ok(SOURCE, freeSenders + " of " + maxSenders + " WAL senders free"));
            } else {
                findings.add(error(SOURCE, "all " + maxSenders + " WAL senders are busy (max_wal_senders), and capture "
                        + "streams through one", "stop an unused replication client (see pg_stat_replication) or raise "
                        + "max_wal_senders (needs a restart)"));
            }
        }
    }

    /** Opens a logical replication connection as capture does and runs IDENTIFY_SYSTEM; the failure, if any. */
    private static Optional<String> replicationConnectionFailure(String url, String user, String password) {
        try (Connection c = Connections.connect(url, Connections.replicationSettings(user, password, "migrator-check"));
             Statement st = c.createStatement()) {
            st.execute("IDENTIFY_SYSTEM");
            return Optional.empty();
        } catch (SQLException e) {
            return Optional.of(Connections.describe(e));
        }
    }

    private void checkSchemaUsage(Connection c, String user, String schema) throws SQLException {
        Optional<Boolean> usage = schemaPrivilege(c, schema, "USAGE");
        if (usage.isEmpty()) {
            findings.add(error(SOURCE, "schema " + schema + " does not exist (spec source.schema)",
                    "correct source.schema"));
        } else if (!usage.get()) {
            findings.add(error(SOURCE, "user " + user + " has no USAGE on schema " + schema + ": the snapshot cannot "
                    + "read its tables", "GRANT USAGE ON SCHEMA " + quoteIfNeeded(schema) + " TO " + quoteIfNeeded(user)));
        }
    }

    /** Capture keeps a heartbeat table on v1 (Debezium's heartbeat action and the cutover marker write it). */
    private void checkHeartbeatTable(Connection c, String user, String schema) throws SQLException {
        String table = new dev.cdcmigrator.common.Topics(spec).heartbeatTable();
        String qualified = quoteIfNeeded(schema) + "." + quoteIfNeeded(table);
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT has_table_privilege(to_regclass(?), 'SELECT, INSERT, UPDATE') WHERE to_regclass(?) IS NOT NULL")) {
            ps.setString(1, qualified);
            ps.setString(2, qualified);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    if (rs.getBoolean(1)) {
                        findings.add(ok(SOURCE, "heartbeat table " + schema + "." + table + " exists"));
                    } else {
                        findings.add(error(SOURCE, "user " + user + " may not write the heartbeat table " + schema + "." + table,
                                "GRANT SELECT, INSERT, UPDATE ON " + qualified + " TO " + quoteIfNeeded(user)));
                    }
                    return;
                }
            }
        }
        if (schemaPrivilege(c, schema, "CREATE").orElse(false)) {
            findings.add(ok(SOURCE, "capture will create its heartbeat table " + schema + "." + table));
        } else {
            findings.add(error(SOURCE, "user " + user + " may not create capture's heartbeat table " + schema + "." + table
                    + " (no CREATE on schema " + schema + "); capture writes it every 10 s so that the slot follows an idle v1,"
                    + " and cutover wait commits its marker there", "GRANT CREATE ON SCHEMA " + quoteIfNeeded(schema) + " TO "
                    + quoteIfNeeded(user) + ", or create it: CREATE TABLE " + qualified
                    + " (id int PRIMARY KEY, at timestamptz NOT NULL, nonce text); "
                    + Marks.commentStatement(Marks.Subject.table("v1", schema, table), spec.kafka().topicPrefix())
                    + "; GRANT SELECT, INSERT, UPDATE ON " + qualified + " TO " + quoteIfNeeded(user)));
        }
    }

    private void checkPublication(Connection c, String user, String database, boolean createInDatabase,
                                  Map<String, Optional<Relation>> v1Relations) throws SQLException {
        String schema = spec.source().schema();
        List<String> read = Capture.publishedTables(spec);
        List<String> mapped = read.stream().map(t -> schema + "." + t).toList();
        String mappedSql = read.stream().map(t -> quoteIfNeeded(schema) + "." + quoteIfNeeded(t)).collect(Collectors.joining(", "));
        Map<String, Optional<Relation>> relations = new TreeMap<>(v1Relations);
        String heartbeat = new Topics(spec).heartbeatTable();
        relations.put(heartbeat, Catalog.relation(c, schema, heartbeat));
        List<String> notOwned = relations.entrySet().stream()
                .filter(e -> e.getValue().isPresent() && !e.getValue().get().owned())
                .map(e -> schema + "." + e.getKey()).toList();
        String p = publication;
        // What capture itself would run (Publication.ensure), so that a publication made by the owner is used as is.
        String createPublication = "CREATE PUBLICATION " + quoteIfNeeded(p) + " FOR TABLE " + mappedSql
                + " WITH (publish_via_partition_root = true); "
                + Marks.commentStatement(Marks.Subject.publication(p), spec.kafka().topicPrefix());
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT puballtables, pubinsert, pubupdate, pubdelete, pg_has_role(pubowner, 'USAGE')
                FROM pg_publication WHERE pubname = ?""")) {
            ps.setString(1, p);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    if (!createInDatabase) {
                        findings.add(error(SOURCE, "publication " + p + " does not exist, and user " + user + " may not "
                                + "create it (no CREATE on database " + database + "); capture creates it for the "
                                + "mapped tables", "GRANT CREATE ON DATABASE " + quoteIfNeeded(database) + " TO " + quoteIfNeeded(user)
                                + ", or have the tables' owner (with CREATE on database " + database + ") run "
                                + createPublication));
                    } else if (!notOwned.isEmpty()) {
                        findings.add(error(SOURCE, "publication " + p + " does not exist, and capture cannot create it: "
                                + "CREATE PUBLICATION ... FOR TABLE needs ownership of the tables, and user " + user
                                + " does not own " + String.join(", ", notOwned), "have the tables' owner (with CREATE"
                                + " on database " + database + ") run " + createPublication));
                    } else {
                        findings.add(ok(SOURCE, "publication " + p + " does not exist yet; capture creates it for the "
                                + (mapped.size() - 1) + " mapped tables and its heartbeat table"));
                    }
                    return;
                }
                boolean ownsPublication = rs.getBoolean(5);
                if (rs.getBoolean(1)) {
                    return; // FOR ALL TABLES: capture's refusal says what to do
                }
                Set<String> covered = publishedTables(c, p);
                List<String> missing = mapped.stream().filter(t -> !covered.contains(t)).toList();
                List<String> extra = covered.stream().filter(t -> !mapped.contains(t)).sorted().toList();
                if (missing.isEmpty() && extra.isEmpty()) {
                    findings.add(ok(SOURCE, "publication " + p + " exists and covers exactly the mapped tables and the heartbeat table"));
                    return;
                }
                String state = "publication " + p + " exists"
                        + (missing.isEmpty() ? "" : " without " + String.join(", ", missing))
                        + (missing.isEmpty() || extra.isEmpty() ? "" : " and")
                        + (extra.isEmpty() ? "" : " with unmapped " + String.join(", ", extra));
                String alter = "ALTER PUBLICATION " + p + " SET TABLE " + mappedSql;
                if (ownsPublication && notOwned.isEmpty()) {
                    findings.add(warning(SOURCE, state + "; capture runs " + alter
                            + (extra.isEmpty() ? "" : ", which removes " + String.join(", ", extra) + " from it"),
                            "nothing if that is intended; otherwise use another kafka.topicPrefix"));
                } else {
                    findings.add(error(SOURCE, state + ", and user " + user + " cannot change it (ALTER PUBLICATION "
                            + "needs ownership of the publication and of every table): capture would fail",
                            "as the owner: " + alter));
                }
            }
        }
    }

    private static Set<String> publishedTables(Connection c, String publication) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = ?")) {
            ps.setString(1, publication);
            Set<String> tables = new HashSet<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    tables.add(rs.getString(1) + "." + rs.getString(2));
                }
            }
            return tables;
        }
    }

    /** Checks the slot named after the prefix; whether it exists. */
    private boolean checkSlot(Connection c, String database) throws SQLException {
        String slot = publication;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT plugin, slot_type, database, active, active_pid,
                       pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)),
                       to_jsonb(s) ->> 'wal_status'
                FROM pg_replication_slots s WHERE slot_name = ?""")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    findings.add(ok(SOURCE, "no replication slot " + slot + " yet; capture creates it and starts "
                            + "with a snapshot"));
                    return false;
                }
                String plugin = rs.getString(1);
                String type = rs.getString(2);
                String slotDatabase = rs.getString(3);
                boolean active = rs.getBoolean(4);
                int pid = rs.getInt(5);
                String retained = rs.getString(6);
                String walStatus = rs.getString(7);
                String drop = "SELECT pg_drop_replication_slot('" + slot + "')";
                if (!"logical".equals(type) || !"pgoutput".equals(plugin) || !database.equals(slotDatabase)) {
                    findings.add(error(SOURCE, "replication slot " + slot + " exists but is a " + type + " slot"
                            + (plugin == null ? "" : " of plugin " + plugin)
                            + (slotDatabase == null ? "" : " on database " + slotDatabase)
                            + "; capture needs a logical pgoutput slot on " + database,
                            drop + " if nothing uses it, or choose another kafka.topicPrefix"));
                } else if ("lost".equals(walStatus)) {
                    findings.add(error(SOURCE, "replication slot " + slot + " has lost WAL it needs (wal_status lost): "
                            + "capture cannot resume from it", drop + ", then start over with a new snapshot"));
                } else if (active) {
                    findings.add(error(SOURCE, "replication slot " + slot + " is in use by PID " + pid + ": another "
                            + "capture or client reads it, and a second one cannot start",
                            "stop the other reader, or choose another kafka.topicPrefix"));
                } else {
                    findings.add(warning(SOURCE, "replication slot " + slot + " exists and is inactive, holding "
                            + (retained == null ? "its" : retained + " of") + " WAL; capture reuses it, which is "
                            + "right if it belongs to a previous run you intend to resume",
                            "if that run is abandoned: " + drop));
                }
                return true;
            }
        }
    }

    /**
     * Whether PostgreSQL caps the WAL a replication slot may keep (max_slot_wal_keep_size), and what capture's slot
     * keeps now: unlimited, a stopped or stuck migrator fills v1's disk.
     */
    private void checkWalRetention(Connection c) throws SQLException {
        // No row before PostgreSQL 13, which has no cap to set.
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                SELECT setting::bigint * 1024 * 1024, current_setting(name) FROM pg_settings
                WHERE name = 'max_slot_wal_keep_size'""")) {
            if (!rs.next()) {
                return;
            }
            long keepBytes = rs.getLong(1);
            String keep = rs.getString(2);
            dev.cdcmigrator.common.spec.ByteSize limit = spec.source().slot().maxRetainedWal();
            String slot = dev.cdcmigrator.capture.SlotHealth.query(c, publication)
                    .map(h -> "; replication slot " + publication + " is " + h.describe()).orElse("");
            String limitFix = limit == null
                    ? "set source.slot.maxRetainedWal below it, so that capture stops first with instructions"
                    : "keep source.slot.maxRetainedWal (" + limit + ") below it, so that capture stops first";
            if (keepBytes < 0) {
                findings.add(warning(SOURCE, "max_slot_wal_keep_size is -1 (unlimited): a stopped or stuck migrator's"
                        + " replication slot keeps v1's WAL until the disk is full" + slot,
                        "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (a size well below the disk space v1 has"
                        + " free for WAL), then SELECT pg_reload_conf(); " + limitFix));
            } else if (limit != null && limit.bytes() >= keepBytes) {
                findings.add(warning(SOURCE, "source.slot.maxRetainedWal " + limit + " is not below"
                        + " max_slot_wal_keep_size " + keep + ": PostgreSQL invalidates the slot before capture"
                        + " stops with instructions" + slot, "set source.slot.maxRetainedWal below " + keep));
            } else {
                findings.add(ok(SOURCE, "max_slot_wal_keep_size is " + keep + ": PostgreSQL invalidates the"
                        + " replication slot rather than keep more WAL for it" + slot));
            }
        }
    }

    // ---- target ------------------------------------------------------------------------------------------------

    private void checkTarget(Connection c) throws SQLException {
        String schema = spec.target().schema();
        String state = spec.target().stateSchema();
        String user;
        String database;
        boolean createInDatabase;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'),"
                        + " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")) {
            rs.next();
            user = rs.getString(1);
            database = rs.getString(2);
            createInDatabase = rs.getBoolean(3);
            if (rs.getBoolean(4)) {
                findings.add(warning(TARGET, "user " + user + " is a superuser: the sink needs only to own the v2 tables"
                        + " and to create its state schema, and the spec holds these credentials for the whole migration",
                        "run it as a role with the grants of docs/security.md (Grants on v2)"));
            }
        }
        SinkState.refusals(c, state, spec.kafka().topicPrefix()).forEach(refusal -> findings.add(Finding.refused(refusal)));
        Optional<Boolean> usage = schemaPrivilege(c, schema, "USAGE");
        if (usage.isEmpty()) {
            findings.add(error(TARGET, "schema " + schema + " does not exist (spec target.schema)",
                    "create the v2 schema first, or correct target.schema"));
        } else if (!usage.get()) {
            findings.add(error(TARGET, "user " + user + " has no USAGE on schema " + schema + ": the sink cannot "
                    + "write its tables", "GRANT USAGE ON SCHEMA " + quoteIfNeeded(schema) + " TO " + quoteIfNeeded(user)));
        }

        // The sink creates the schema when it does not exist (SinkState.create), and its tables with CREATE TABLE IF
        // NOT EXISTS, which PostgreSQL refuses without CREATE on the schema even when the table exists.
        List<String> problems = new ArrayList<>();
        List<String> grants = new ArrayList<>();
        Optional<Boolean> stateCreate = schemaPrivilege(c, state, "CREATE");
        if (stateCreate.isEmpty() && !createInDatabase) {
            problems.add("the sink creates schema " + state + ", which needs CREATE on database " + database);
            grants.add("GRANT CREATE ON DATABASE " + quoteIfNeeded(database) + " TO " + quoteIfNeeded(user));
        }
        if (stateCreate.isPresent()) {
            if (!stateCreate.get() || !schemaPrivilege(c, state, "USAGE").orElse(false)) {
                problems.add("it runs CREATE TABLE IF NOT EXISTS " + state + ".sink_offsets, which needs USAGE and "
                        + "CREATE on schema " + state);
                grants.add("GRANT USAGE, CREATE ON SCHEMA " + quoteIfNeeded(state) + " TO " + quoteIfNeeded(user));
            }
            Optional<Relation> offsets = Catalog.relation(c, state, "sink_offsets");
            if (offsets.isPresent() && !(offsets.get().select() && offsets.get().insert() && offsets.get().update())) {
                problems.add("it reads and upserts " + state + ".sink_offsets, which needs SELECT, INSERT and UPDATE");
                grants.add("GRANT SELECT, INSERT, UPDATE ON " + quoteIfNeeded(state) + ".sink_offsets TO " + quoteIfNeeded(user));
            }
        }
        if (problems.isEmpty()) {
            findings.add(ok(TARGET, "the sink can keep its offsets in schema " + state
                    + (stateCreate.isPresent() ? " (exists)" : " (it creates the schema)")));
        } else {
            findings.add(error(TARGET, "user " + user + " cannot set up the sink's state (spec target.stateSchema): "
                    + String.join("; ", problems), String.join("; ", grants)));
        }
    }

    /** What the sink suspends on v2 while it applies, per table, and what it would refuse to suspend. */
    private void checkConstraints(Connection c) throws SQLException {
        TargetConstraints constraints = TargetConstraints.of(spec);
        TargetConstraints.Plan plan = constraints.plan(c);
        if (plan.enforced()) {
            findings.add(ok(TARGET, "migrator cutover enforce has run: v2's foreign keys and triggers are enforced, and "
                    + "nothing is suspended again"));
            return;
        }
        List<dev.cdcmigrator.common.Refusal> refusals = constraints.refusals(plan);
        refusals.forEach(refusal -> findings.add(Finding.refused(refusal)));
        Map<String, List<String>> fates = new TreeMap<>();
        String state = spec.target().stateSchema();
        plan.foreignKeys().forEach(key -> fates.computeIfAbsent(key.table(), t -> new ArrayList<>()).add("foreign key "
                + key.name() + " (" + key.definition() + ") is dropped while the migrator applies (its definition kept"
                + " in " + state + ".suspended_foreign_keys) and added back and validated by migrator cutover enforce"));
        plan.triggers().forEach(trigger -> fates.computeIfAbsent(trigger.table(), t -> new ArrayList<>()).add("trigger "
                + trigger.name() + " is disabled while the migrator applies, so that it does not rewrite v1's values,"
                + " and enabled again by migrator cutover enforce"));
        plan.firing().forEach(trigger -> fates.computeIfAbsent(trigger.table(), t -> new ArrayList<>()).add("trigger "
                + trigger.name() + " fires on every applied row (spec target.triggers)"));
        fates.forEach((table, fate) -> {
            if (!plan.notOwned().containsKey(table)) {
                findings.add(ok("v2 " + spec.target().schema() + "." + table, String.join("; ", fate)));
            }
        });
    }

    /** Whether the current user has the privilege on the schema; empty if the schema does not exist. */
    private static Optional<Boolean> schemaPrivilege(Connection c, String schema, String privilege) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT has_schema_privilege(oid, ?) FROM pg_namespace WHERE nspname = ?")) {
            ps.setString(1, privilege);
            ps.setString(2, schema);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBoolean(1)) : Optional.empty();
            }
        }
    }

    // ---- tables ------------------------------------------------------------------------------------------------

    /** What the v1 side of a table looks like, for the v2 and type checks. */
    private record V1Table(Map<String, Column> columns, List<String> primaryKey, List<CheckedValue> values) {
    }

    /**
     * A table other tables' dimensions look up: it must exist, be readable (the snapshot reads it), have a
     * single-column primary key (the lookup key) and the columns looked up.
     */
    private void checkLookupTable(String name, Connection c, Optional<Relation> found) throws SQLException {
        String schema = spec.source().schema();
        String subject = "v1 " + schema + "." + name;
        List<String> users = new ArrayList<>();
        Set<String> looked = new java.util.TreeSet<>();
        spec.tables().forEach((dependent, table) -> table.dimensions().forEach((kind, dimension) -> {
            if (dimension.lookup() != null && dimension.lookup().table().equals(name)) {
                users.add("tables." + dependent + ".dimensions." + kind + ".lookup");
                looked.add(dimension.lookup().column());
            }
        }));
        String paths = String.join(", ", users);
        if (found == null) {
            found = Catalog.relation(c, schema, name);
        }
        if (found.isEmpty() || !found.get().isTable()) {
            findings.add(error(subject, "lookup table does not exist or is not a table (spec " + paths + ")",
                    "correct the spec or create the table"));
            return;
        }
        Relation relation = found.get();
        List<String> primaryKey = Catalog.primaryKey(c, schema, name);
        Map<String, Column> columns = Catalog.columns(c, relation.oid());
        if (!spec.tables().containsKey(name)) {
            checkCaptured(name, c, columns); // a mapped lookup table is reported with its mapping
        }
        boolean fine = true;
        if (primaryKey.size() != 1) {
            fine = false;
            findings.add(error(subject, "a lookup table needs a single-column primary key, it has "
                    + (primaryKey.isEmpty() ? "none" : "(" + String.join(", ", primaryKey) + ")") + " (spec " + paths + ")",
                    "look up a table keyed by one column"));
        }
        for (String column : looked) {
            if (!columns.containsKey(column)) {
                fine = false;
                findings.add(error(subject + "." + column, "looked-up column does not exist (spec " + paths + ")",
                        "correct the spec or add the column"));
            }
        }
        if (!relation.select()) {
            fine = false;
            findings.add(error(subject, "user " + spec.source().user() + " may not SELECT it: the initial snapshot "
                    + "reads it", "GRANT SELECT ON " + sql(schema, name) + " TO " + quoteIfNeeded(spec.source().user())));
        }
        if (fine) {
            findings.add(ok(subject, "lookup table with primary key " + primaryKey.get(0) + " and the looked-up column"
                    + (looked.size() == 1 ? " " : "s ") + String.join(", ", looked)));
        }
    }

    /** {@code v1Relation} is null when the source checks did not get to look it up. */
    private void checkTable(String v1Name, TableSpec table, Connection v1, Optional<Relation> v1Relation, Connection v2) {
        V1Table[] v1Table = {null};
        if (v1 != null) {
            guarded("v1 " + spec.source().schema() + "." + v1Name,
                    () -> v1Table[0] = checkV1Table(v1Name, table, v1, v1Relation));
        }
        if (v2 == null) {
            return;
        }
        List<MappingSpec> mappings = table.mappings();
        for (int i = 0; i < mappings.size(); i++) {
            int index = i;
            MappingSpec mapping = mappings.get(i);
            String path = table.mappingPath(v1Name, i);
            guarded("v2 " + spec.target().schema() + "." + mapping.v2Table(v1Name), () -> {
                Map<String, Column> v2Columns = checkV2Table(v1Name, mapping, path, v2, v1Table[0]);
                if (v1Table[0] != null && v2Columns != null) {
                    checkTypes(v1Name, mapping, path, v1Table[0].columns(), v2Columns);
                    checkValues(v1Name, mapping, index, v1Table[0].values(), v2Columns, v2);
                }
            });
        }
    }

    private V1Table checkV1Table(String name, TableSpec table, Connection c, Optional<Relation> found) throws SQLException {
        String schema = spec.source().schema();
        String qualified = schema + "." + name;
        String subject = "v1 " + qualified;
        String tablePath = "tables." + name;
        if (found == null) {
            found = Catalog.relation(c, schema, name);
        }
        if (found.isEmpty()) {
            findings.add(error(subject, "table does not exist (spec " + tablePath + ")", "correct the spec or create the table"));
            return null;
        }
        Relation relation = found.get();
        if (!relation.isTable()) {
            findings.add(error(subject, "is a " + relation.kindName() + ", not a table: logical replication captures "
                    + "tables only (spec " + tablePath + ")", "map the table it reads from instead"));
            return null;
        }
        Map<String, Column> columns = Catalog.columns(c, relation.oid());
        ColumnReads reads = null;
        try {
            reads = ColumnReads.of(spec, name);
        } catch (SpecException e) {
            // Reported with the spec's problems (TransformTopology.problems): what it reads is not known, so the
            // checks of read columns are left out and every column counts as read.
        }
        boolean fine = true;
        Map<String, String> baseTypes = new TreeMap<>();
        columns.forEach((column, info) -> baseTypes.put(column, info.baseType()));
        Set<String> mistyped = new HashSet<>();
        List<CheckedValue> values = TransformTopology.typeCheck(spec, name, baseTypes);
        for (SpecException problem : values.stream().flatMap(v -> v.problem().stream()).toList()) {
            mistyped.add(problem.path());
            fine = false;
            findings.add(specError(problem, "correct " + problem.path() + " (docs/spec.md says how v1 types reach"
                    + " expressions), or add the column"));
        }
        for (ColumnReads.Read read : reads == null ? List.<ColumnReads.Read>of() : reads.reads()) {
            if (columns.containsKey(read.column()) || mistyped.contains(read.path())) {
                continue;
            }
            if (read.copied()) {
                fine = false;
                findings.add(error(subject + "." + read.column(), "column does not exist (spec " + read.path() + ")",
                        "correct the spec or add the column"));
            } else {
                findings.add(warning(subject + "." + read.column(), "column does not exist, but spec " + read.path()
                        + " seems to read row." + read.column(), "correct the expression or add the column"));
            }
        }
        for (String dropped : table.drop()) {
            if (!columns.containsKey(dropped)) {
                findings.add(warning(subject + "." + dropped, "column does not exist (spec " + tablePath + ".drop)",
                        "remove it from " + tablePath + ".drop"));
            }
        }
        if (reads != null && reads.wholeRow().isEmpty()) {
            Set<String> named = reads.columns();
            List<String> forgotten = columns.keySet().stream()
                    .filter(column -> !named.contains(column) && !table.drop().contains(column)).toList();
            if (!forgotten.isEmpty()) {
                findings.add(warning(subject, "column" + (forgotten.size() == 1 ? " " : "s ") + String.join(", ", forgotten)
                        + (forgotten.size() == 1 ? " is" : " are") + " not carried to v2: no mapping reads "
                        + (forgotten.size() == 1 ? "it" : "them") + " and " + tablePath + ".drop does not list "
                        + (forgotten.size() == 1 ? "it" : "them"), "map " + (forgotten.size() == 1 ? "it" : "them")
                        + ", or list " + (forgotten.size() == 1 ? "it" : "them") + " in " + tablePath + ".drop"));
            }
        }
        if (!relation.select()) {
            fine = false;
            findings.add(error(subject, "user " + spec.source().user() + " may not SELECT it: the initial snapshot "
                    + "reads it", "GRANT SELECT ON " + sql(schema, name) + " TO " + quoteIfNeeded(spec.source().user())));
        }
        if (fine) {
            findings.add(ok(subject, "exists, SELECT granted, every column the spec reads is present"));
        }

        List<String> primaryKey = Catalog.primaryKey(c, schema, name);
        checkCaptured(name, c, columns);
        Set<String> read = reads == null || reads.wholeRow().isPresent() ? columns.keySet() : reads.columns();
        checkKeyAndReplicaIdentity(name, table, relation, columns, read, primaryKey);
        return new V1Table(columns, primaryKey, values);
    }

    /**
     * How many of the table's columns capture carries ({@link ColumnReads#captured}, with the identity columns as
     * capture adds them): the others never leave v1.
     */
    private void checkCaptured(String name, Connection c, Map<String, Column> columns) throws SQLException {
        String subject = "v1 " + spec.source().schema() + "." + name;
        if (captured == null) {
            try {
                captured = ColumnReads.captured(spec);
            } catch (SpecException e) {
                return; // reported with the spec's problems
            }
        }
        CapturedColumns.Table table = captured.of(name);
        if (table.everyColumn()) {
            findings.add(ok(subject, "capture carries all columns: " + table.everyColumnBecause()));
            return;
        }
        Set<String> identity = CapturedColumns.identityColumns(c, spec.source().schema(), name);
        List<String> left = columns.keySet().stream().filter(column -> !table.captures(column, identity)).toList();
        findings.add(ok(subject, left.isEmpty()
                ? "capture carries all " + columns.size() + " columns: the spec reads every one"
                : "capture carries " + (columns.size() - left.size()) + " of " + columns.size() + " columns; "
                        + left.size() + " not captured, as the spec does not read " + (left.size() == 1 ? "it" : "them")
                        + " (never in Kafka, the transform's state or dead letters): " + String.join(", ", left)));
    }

    private void checkKeyAndReplicaIdentity(String name, TableSpec table, Relation relation, Map<String, Column> columns,
                                            Set<String> read, List<String> primaryKey) {
        String qualified = spec.source().schema() + "." + name;
        String subject = "v1 " + qualified;
        String alter = "ALTER TABLE " + sql(spec.source().schema(), name) + " REPLICA IDENTITY ";
        String onceCovered = "once publication " + publication + " covers the table, UPDATE and DELETE on it fail in v1 "
                + "(\"cannot update table ... because it does not have a replica identity and publishes updates\")";
        char identity = relation.replicaIdentity();
        if (identity == 'n' && !primaryKey.isEmpty()) {
            findings.add(error(subject, "REPLICA IDENTITY NOTHING: " + onceCovered + ", and its changes carry no old row",
                    alter + (primaryKey.isEmpty() ? "FULL" : "DEFAULT (its primary key) or FULL")));
        }
        if (primaryKey.isEmpty()) {
            checkKeyless(name, table, relation, subject, alter, onceCovered);
            return;
        }
        String keyText = "primary key (" + String.join(", ", primaryKey) + ") keys its changes";
        if (identity == 'f') {
            findings.add(ok(subject, keyText + "; REPLICA IDENTITY FULL: changes carry whole rows"));
        } else if (identity != 'n') {
            List<String> toastable = columns.values().stream()
                    .filter(column -> read.contains(column.name()) && !primaryKey.contains(column.name()) && toastable(column))
                    .map(Column::name).toList();
            if (toastable.isEmpty()) {
                findings.add(ok(subject, keyText + "; " + identityName(relation) + ", and no column the spec reads "
                        + "is toastable"));
            } else {
                findings.add(ok(subject, keyText + "; " + identityName(relation) + " with toastable columns "
                        + String.join(", ", toastable) + ": an UPDATE that leaves a TOASTed value unchanged does not "
                        + "carry it, and the transform fills it in from the row's previous image; with none (a row "
                        + "not seen since the migration started, as on the way back) a plain copy of it is left as "
                        + "the target has it, and a value computed from it is a dead letter"));
            }
        }
    }

    /**
     * A v1 table without a primary key: Debezium sends its changes without a key, and they are applied by their
     * values (multiset semantics, {@code V2Change#keyless}). That needs the old values of updates and deletes (REPLICA
     * IDENTITY FULL), or a table that only gets inserts ({@code append: true}). Both options are explained.
     */
    private void checkKeyless(String name, TableSpec table, Relation relation, String subject, String alter,
                              String onceCovered) {
        char identity = relation.replicaIdentity();
        String appendPath = "tables." + name + ".append";
        String multiset = "its changes are applied by their values: an insert inserts, an update or delete acts on one "
                + "v2 row holding exactly its old values (two identical rows stay two rows; a delete removes one), and "
                + "verify compares the table as a multiset";
        if (identity == 'f') {
            findings.add(ok(subject, "has no primary key; REPLICA IDENTITY FULL: " + multiset
                    + (table.appendOnly() ? "; " + appendPath + " is true, so an update or delete of it is a dead letter"
                    + " naming the table instead" : "")));
        } else if (table.appendOnly()) {
            findings.add(warning(subject, "has no primary key and is declared append: true (" + appendPath
                    + "): its inserts stream as they are, with " + identityName(relation) + (identity == 'd' || identity == 'n'
                    ? "; " + onceCovered + " for as long as the migration runs (capture reads one publication, which"
                    + " publishes updates and deletes of every table it covers), so the application must not update"
                    + " or delete its rows (a TRUNCATE works and deletes the table's v2 rows)"
                    : "; an update or delete of it becomes a dead letter naming the table"),
                    "if the application ever updates or deletes its rows: " + alter + "FULL and set " + appendPath
                            + " to false (" + multiset + ")"));
        } else {
            findings.add(error(subject, "has no primary key and " + identityName(relation) + ": " + (identity == 'i'
                    ? "its updates and deletes carry only the index's old values" : onceCovered) + ", and v2 could not"
                    + " tell which row an update or delete changes",
                    alter + "FULL (" + multiset + "), or, if the table only ever gets inserts (an audit log), set "
                            + appendPath + ": true (needs no replica identity change; v1 then refuses its updates"
                            + " and deletes), or add a primary key"));
        }
        if (!table.dimensionsByKind().isEmpty()) {
            findings.add(error("tables." + name + ".dimensions", "v1 table " + spec.source().schema() + "." + name
                    + " has no primary key, and a keyless table's rows cannot take isolation dimensions yet (the"
                    + " transform dead-letters its changes)", "give the v1 table a primary key, or remove its dimensions"));
        }
        if (spec.kafka().v2Format() == dev.cdcmigrator.common.spec.V2Format.AVRO) {
            findings.add(error(subject, "has no primary key, and kafka.v2Format: avro does not carry the old values its"
                    + " updates and deletes are applied by", "use kafka.v2Format: json, or add a primary key"));
        }
        List<MappingSpec> mappings = table.mappings();
        Set<String> shared = new HashSet<>();
        for (int i = 0; i < mappings.size(); i++) {
            MappingSpec mapping = mappings.get(i);
            String path = table.mappingPath(name, i);
            if (mapping.explicitKey().isPresent()) {
                findings.add(error(path + ".key", "v1 table " + spec.source().schema() + "." + name + " has no primary"
                        + " key: its v2 rows are matched by all their values, and a v2 key would not be used", "remove "
                        + path + ".key (or add a primary key to the v1 table)"));
            }
            String v2 = mapping.v2Table(name);
            long feeding = spec.tables().entrySet().stream().flatMap(e -> e.getValue().v2Tables(e.getKey()).stream())
                    .filter(v2::equals).count();
            if (feeding > 1 && shared.add(v2)) {
                findings.add(error("v2 " + spec.target().schema() + "." + v2, "is fed by v1 table " + name + ", which"
                        + " has no primary key, and by other mappings: a TRUNCATE of " + name + " (or a snapshot taken"
                        + " again) deletes every row of the v2 table", "map " + name + " into a v2 table of its own"));
            }
        }
    }

    private static String identityName(Relation relation) {
        return switch (relation.replicaIdentity()) {
            case 'd' -> "REPLICA IDENTITY DEFAULT";
            case 'f' -> "REPLICA IDENTITY FULL";
            case 'n' -> "REPLICA IDENTITY NOTHING";
            default -> "REPLICA IDENTITY USING INDEX " + relation.replicaIndex();
        };
    }

    /** Whether values of the column can be stored out of line (TOASTed), so that an update may not carry them. */
    private static boolean toastable(Column column) {
        if (column.storage() != 'x' && column.storage() != 'e') {
            return false;
        }
        boolean boundedText = column.baseType().equals("varchar") || column.baseType().equals("bpchar");
        return !(boundedText && column.typmod() >= 0 && column.typmod() - 4 <= SMALL_TEXT_LIMIT);
    }

    /** Checks the v2 table of one mapping; its columns, or null when it cannot be written at all. */
    private Map<String, Column> checkV2Table(String v1Name, MappingSpec mapping, String path, Connection c, V1Table v1)
            throws SQLException {
        String schema = spec.target().schema();
        String name = mapping.v2Table(v1Name);
        String qualified = schema + "." + name;
        String subject = "v2 " + qualified;
        String user = spec.target().user();
        Map<String, ColumnSpec> mapped = mapping.columns();
        Map<String, String> written = new java.util.LinkedHashMap<>();
        mapped.keySet().forEach(column -> written.put(column, path + ".columns." + column));
        spec.tables().get(v1Name).dimensionsByKind().forEach((kind, dimension) ->
                written.put(dimension.column(kind), "tables." + v1Name + ".dimensions." + kind.specName()));
        Optional<Relation> found = Catalog.relation(c, schema, name);
        if (found.isEmpty()) {
            findings.add(error(subject, "table does not exist in schema " + schema + " (spec "
                    + (mapping.into() == null ? path + ", into defaults to the v1 name" : path + ".into") + ")",
                    "create the v2 table (the migrator does not create v2 tables), or correct the spec"));
            return null;
        }
        Relation relation = found.get();
        if (!relation.isTable()) {
            findings.add(error(subject, "is a " + relation.kindName() + ", not a table: the sink's INSERT ... ON CONFLICT "
                    + "needs a table (spec " + path + ")", "map the v1 table into a table"));
            return null;
        }
        Map<String, Column> columns = Catalog.columns(c, relation.oid());
        boolean fine = true;
        for (String v2Column : written.keySet()) {
            Column column = columns.get(v2Column);
            String columnPath = written.get(v2Column);
            if (column == null) {
                fine = false;
                findings.add(error(subject + "." + v2Column, "column does not exist (spec " + columnPath + ")",
                        "correct the spec or add the column to the v2 table"));
            } else if (column.generated()) {
                fine = false;
                findings.add(error(subject + "." + v2Column, "is a generated column, which the sink cannot write (spec "
                        + columnPath + ")", "remove " + columnPath + " from the spec"));
            }
        }
        List<String> identities = columns.values().stream().filter(column -> column.identity() != ' '
                && written.containsKey(column.name())).map(column -> column.name() + (column.identity() == 'a'
                ? " (GENERATED ALWAYS)" : " (BY DEFAULT)")).toList();
        if (!identities.isEmpty()) {
            findings.add(ok(subject, "identity column" + (identities.size() == 1 ? " " : "s ") + String.join(", ", identities)
                    + ": written with v1's values (INSERT ... OVERRIDING SYSTEM VALUE); migrator cutover sync-sequences"
                    + " moves the identity sequence past them before v2 takes writes"));
        }
        List<String> computed = columns.values().stream().filter(column -> column.generated()
                && !written.containsKey(column.name())).map(Column::name).toList();
        if (!computed.isEmpty()) {
            findings.add(ok(subject, "generated column" + (computed.size() == 1 ? " " : "s ") + String.join(", ", computed)
                    + ": never written, v2 computes " + (computed.size() == 1 ? "it" : "them") + " from each applied row"));
        }
        for (Column column : columns.values()) {
            if (!written.containsKey(column.name()) && column.notNull() && !column.hasDefault() && !column.generated()) {
                fine = false;
                findings.add(error(subject + "." + column.name(), "is NOT NULL without a default, and the spec does "
                        + "not map it (" + path + ".columns): every insert would fail", "map it in " + path
                        + ".columns, give it a DEFAULT, or drop its NOT NULL"));
            }
        }
        List<String> missing = new ArrayList<>();
        if (!relation.select()) {
            missing.add("SELECT");
        }
        if (!relation.insert()) {
            missing.add("INSERT");
        }
        if (!relation.update()) {
            missing.add("UPDATE");
        }
        if (!relation.delete()) {
            missing.add("DELETE");
        }
        if (!missing.isEmpty()) {
            fine = false;
            findings.add(error(subject, "user " + user + " lacks " + String.join(", ", missing) + " on it: the sink "
                    + "upserts (INSERT ... ON CONFLICT DO UPDATE) and deletes by key", "GRANT SELECT, INSERT, UPDATE, "
                    + "DELETE ON " + sql(schema, name) + " TO " + quoteIfNeeded(user)));
        }
        if (fine) {
            findings.add(ok(subject, "exists, SELECT/INSERT/UPDATE/DELETE granted, all " + written.size()
                    + " mapped columns present and writable"));
        }
        checkV2Key(v1Name, mapping, path, c, relation, columns, v1);
        return columns;
    }

    private void checkV2Key(String v1Name, MappingSpec mapping, String path, Connection c, Relation relation,
                            Map<String, Column> columns, V1Table v1) throws SQLException {
        String qualified = spec.target().schema() + "." + mapping.v2Table(v1Name);
        String subject = "v2 " + qualified;
        Map<String, ColumnSpec> mapped = mapping.columns();
        List<String> key;
        String origin;
        if (mapping.explicitKey().isPresent()) {
            key = mapping.explicitKey().get();
            origin = "spec " + path + ".key";
        } else if (v1 != null && !v1.primaryKey().isEmpty()) {
            key = new ArrayList<>();
            for (String v1Column : v1.primaryKey()) {
                Optional<String> v2Column = mapped.entrySet().stream()
                        .filter(e -> v1Column.equals(e.getValue().from())).map(Map.Entry::getKey).findFirst();
                if (v2Column.isEmpty()) {
                    findings.add(error("v1 " + spec.source().schema() + "." + v1Name + "." + v1Column, "is a primary key "
                            + "column, but no v2 column copies it with from (spec " + path + ".columns): the v2 key "
                            + "cannot be built", "map it in " + path + ".columns, or name the v2 key in " + path + ".key"));
                    return;
                }
                key.add(v2Column.get());
            }
            origin = "the v1 primary key (" + String.join(", ", v1.primaryKey()) + ") renamed through " + path + ".columns";
        } else {
            if (v1 != null) {
                findings.add(ok(subject, "needs no key: the rows of v1 table " + v1Name + " (no primary key) are inserted"
                        + " and matched by their values"));
            }
            return;
        }
        if (!columns.keySet().containsAll(key)) {
            return; // the missing key column is reported already
        }
        String keyList = String.join(", ", key);
        String keySql = String.join(", ", key.stream().map(dev.cdcmigrator.common.SqlText::quoteIfNeeded).toList());
        Set<String> keySet = new HashSet<>(key);
        for (UniqueIndex index : Catalog.uniqueIndexes(c, relation.oid())) {
            if (index.columns().size() == keySet.size() && keySet.containsAll(index.columns())) {
                findings.add(ok(subject, "key (" + keyList + "), from " + origin + ", is "
                        + (index.primary() ? "its primary key " : "unique index ") + index.name()));
                return;
            }
        }
        findings.add(error(subject, "key (" + keyList + "), from " + origin + ", is not exactly the columns of a primary "
                + "key or unique constraint: the sink's INSERT ... ON CONFLICT (" + keyList + ") fails",
                "ALTER TABLE " + sql(spec.target().schema(), mapping.v2Table(v1Name)) + " ADD PRIMARY KEY (" + keySql
                        + ") or ADD UNIQUE (" + keySql + "), or correct the spec's key"));
    }

    /** Compares the types of the copied ({@code from}) columns of one mapping. */
    private void checkTypes(String v1Name, MappingSpec mapping, String path, Map<String, Column> v1Columns,
                            Map<String, Column> v2Columns) {
        String subject = "v2 " + spec.target().schema() + "." + mapping.v2Table(v1Name);
        int compatible = 0;
        int compared = 0;
        for (Map.Entry<String, ColumnSpec> copy : mapping.columns().entrySet()) {
            // A mapped value (map) is a v2 value already; only plain copies keep the v1 type.
            boolean copied = copy.getValue().from() != null && copy.getValue().map() == null;
            Column from = copied ? v1Columns.get(copy.getValue().from()) : null;
            Column to = v2Columns.get(copy.getKey());
            if (from == null || to == null) {
                continue;
            }
            compared++;
            String where = " (spec " + path + ".columns." + copy.getKey() + ".from: " + from.name() + ")";
            Optional<String> risk = TypeRules.risk(new TypeRules.Type(from.baseType(), from.typmod(), from.type()),
                    new TypeRules.Type(to.baseType(), to.typmod(), to.type()));
            boolean fits = risk.isEmpty();
            if (!fits) {
                findings.add(warning(subject + "." + to.name(), "v1 " + from.type() + " -> v2 " + to.type() + ": "
                        + risk.get() + where, "make the v2 type at least as wide, or make sure every v1 value converts"));
            }
            boolean nullsReplaced = copy.getValue().defaultValue() != null && !copy.getValue().defaultValue().isNull();
            if (to.notNull() && !from.notNull() && !nullsReplaced) {
                fits = false;
                findings.add(warning(subject + "." + to.name(), "is NOT NULL, but v1 " + from.name() + " is nullable: "
                        + "rows where it is NULL fail" + where, "give " + path + ".columns." + copy.getKey()
                        + " a default, drop the NOT NULL, or make sure v1 has no NULLs"));
            }
            if (fits) {
                compatible++;
            }
        }
        if (compared > 0 && compatible == compared) {
            findings.add(ok(subject, "types of the " + compared + " copied column" + (compared == 1 ? "" : "s")
                    + " are equal or wider than in v1"));
        }
    }

    /**
     * Whether the v2 columns can take what the mapping's expressions and constants write: an expression whose result
     * no value of the column's type can come from fails every row (ERROR), one that only some can come from is a
     * WARNING; a constant is cast by v2 itself, so an enum label v2 lacks is an ERROR with PostgreSQL's message.
     */
    private void checkValues(String v1Name, MappingSpec mapping, int index, List<CheckedValue> values,
                             Map<String, Column> v2Columns, Connection v2) throws SQLException {
        String subject = "v2 " + spec.target().schema() + "." + mapping.v2Table(v1Name);
        for (CheckedValue value : values) {
            Column to = value.v2Column() == null || value.mapping() != index ? null : v2Columns.get(value.v2Column());
            if (to == null || value.problem().isPresent()) {
                continue;
            }
            if (value.constant() != null) {
                castError(value.constant(), to, v2).ifPresent(reason -> findings.add(error(subject + "." + to.name(),
                        "v2 refuses the constant of spec " + value.path() + ": " + reason, "correct " + value.path()
                                + ", or change the v2 column")));
                continue;
            }
            TypeRules.misfit(value.kind(), new TypeRules.Type(to.baseType(), to.typmod(), to.type()), to.category(),
                    to.elementType() != null).ifPresent(misfit -> findings.add(misfit.never()
                    ? error(subject + "." + to.name(), "never takes what spec " + value.path() + " gives: "
                            + misfit.reason() + " (every row would be dead-lettered)", "correct " + value.path()
                            + ", or change the v2 column's type (" + to.type() + ")")
                    : warning(subject + "." + to.name(), "may refuse what spec " + value.path() + " gives: "
                            + misfit.reason(), "make sure every value fits, or convert it in "
                            + value.path())));
        }
    }

    /** Why v2 refuses {@code constant} as a value of {@code column}, as the sink would write it; empty when it takes it. */
    private static Optional<String> castError(JsonNode constant, Column column, Connection v2) throws SQLException {
        String text = V2Change.inputText(constant, column.elementType() != null);
        // Text columns take any text (an explicit cast would truncate where the write fails: not a test of it).
        if (text == null || column.category() == 'S') {
            return Optional.empty();
        }
        // The type as format_type printed it, from v2's catalog, never from the spec.
        try (PreparedStatement ps = v2.prepareStatement("SELECT CAST(? AS " + column.type() + ")")) {
            ps.setString(1, text);
            ps.executeQuery().close();
            return Optional.empty();
        } catch (SQLException e) {
            // Class 22 (invalid text, out of range) and 23 (a domain's CHECK): the value; anything else is the check's.
            if (e.getSQLState() == null || !e.getSQLState().startsWith("22") && !e.getSQLState().startsWith("23")) {
                throw e;
            }
            return Optional.of(e instanceof PSQLException p && p.getServerErrorMessage() != null
                    ? p.getServerErrorMessage().getMessage() : e.getMessage());
        }
    }


    // ---- SQL text ----------------------------------------------------------------------------------------------


    /** {@code schema.table} with each part quoted as needed. */
    private static String sql(String schema, String table) {
        return quoteIfNeeded(schema) + "." + quoteIfNeeded(table);
    }
}
