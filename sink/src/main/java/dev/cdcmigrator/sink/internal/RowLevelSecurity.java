package dev.cdcmigrator.sink.internal;

import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.SqlTransaction;
import dev.cdcmigrator.common.spec.DimensionSpec;
import dev.cdcmigrator.common.spec.Spec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Row-level security on the v2 tables that carry a tenant ({@code tenancy.rowLevelSecurity} in the spec): each v2
 * table fed by a v1 table with a {@code tenant} dimension gets {@code ENABLE ROW LEVEL SECURITY} and the policy
 * {@value #POLICY}, under which a session sees and writes only the rows whose tenant column, as text, equals the
 * setting the spec names. The sink's own user owns the tables, and PostgreSQL does not apply a table's policies to its
 * owner (the policy is not forced), so the sink keeps writing every tenant's rows.
 *
 * <p>Idempotent: PostgreSQL has no {@code CREATE POLICY IF NOT EXISTS}, and creating a policy takes an exclusive lock
 * on the table, so each start reads the catalog first and changes a table only when its policy is missing or was
 * created for another column or setting (told by the policy's comment); then it drops and creates the policy in one
 * transaction, which also serialises sinks starting at once.
 */
public final class RowLevelSecurity {

    static final String POLICY = "migrator_tenant_isolation";
    private static final Logger LOGGER = LoggerFactory.getLogger(RowLevelSecurity.class);

    private final String schema;
    private final String setting;
    /** Tenant column per v2 table; empty when the spec asks for no row-level security. */
    private final SortedMap<String, String> tenantColumns;

    private RowLevelSecurity(String schema, String setting, SortedMap<String, String> tenantColumns) {
        this.schema = schema;
        this.setting = setting;
        this.tenantColumns = tenantColumns;
    }

    /**
     * The policies {@code spec} asks for: none unless {@code tenancy.rowLevelSecurity} is set.
     *
     * @throws IllegalArgumentException if two v1 tables fill the tenant of one v2 table into different columns (one
     *     policy per table cannot follow both)
     */
    public static RowLevelSecurity of(Spec spec) {
        SortedMap<String, String> columns = new TreeMap<>();
        String setting = spec.tenancy().rowLevelSecurity();
        if (setting != null) {
            spec.tables().forEach((v1, table) -> {
                DimensionSpec tenant = table.dimensionsByKind().get(DimensionSpec.Kind.TENANT);
                if (tenant == null) {
                    return;
                }
                String column = tenant.column(DimensionSpec.Kind.TENANT);
                for (String v2 : table.v2Tables(v1)) {
                    String other = columns.putIfAbsent(v2, column);
                    if (other != null && !other.equals(column)) {
                        throw new IllegalArgumentException("tenancy.rowLevelSecurity: the v2 table " + v2 + " gets its tenant in"
                                + " two columns, " + other + " and " + column + "; one policy can follow only one of them");
                    }
                }
            });
        }
        return new RowLevelSecurity(spec.target().schema(), setting, columns);
    }

    /**
     * Creates what is missing or different, table by table, each in a transaction of its own on {@code connection};
     * logs what it did.
     *
     * @throws SQLException naming the table, e.g. when it does not exist or the connection's user does not own it
     */
    public void apply(Connection connection) throws SQLException {
        if (tenantColumns.isEmpty()) {
            return;
        }
        for (Map.Entry<String, String> entry : tenantColumns.entrySet()) {
            String table = SqlText.quote(schema) + "." + SqlText.quote(entry.getKey());
            try {
                SqlTransaction.run(connection, () -> apply(connection, entry.getKey(), table, entry.getValue()));
            } catch (SQLException e) {
                throw new SQLException("row-level security on " + table + ": " + e.getMessage(), e.getSQLState(), e);
            }
        }
    }

    private void apply(Connection connection, String name, String table, String column) throws SQLException {
        String condition = SqlText.quote(column) + "::text = current_setting('" + setting + "', true)";
        // What identifies the policy this code created, so that a changed column or setting replaces it.
        String comment = "cdc-migrator tenant isolation: " + condition;
        String existing;
        boolean enabled;
        boolean present;
        try (PreparedStatement ps = connection.prepareStatement("""
                SELECT c.relrowsecurity, p.oid IS NOT NULL, obj_description(p.oid, 'pg_policy')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = ?
                WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p')""")) {
            ps.setString(1, POLICY);
            ps.setString(2, schema);
            ps.setString(3, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("the table does not exist", "42P01");
                }
                enabled = rs.getBoolean(1);
                present = rs.getBoolean(2);
                existing = rs.getString(3);
            }
        }
        if (enabled && comment.equals(existing)) {
            LOGGER.info("row-level security on {}: policy {} already in place", table, POLICY);
            return;
        }
        try (Statement st = connection.createStatement()) {
            // ALTER TABLE comes first: it takes the table's exclusive lock, so a concurrent start waits here.
            st.execute("ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY");
            st.execute("DROP POLICY IF EXISTS " + POLICY + " ON " + table);
            st.execute("CREATE POLICY " + POLICY + " ON " + table + " USING (" + condition + ") WITH CHECK (" + condition + ")");
            st.execute("COMMENT ON POLICY " + POLICY + " ON " + table + " IS " + SqlText.literal(comment));
        }
        LOGGER.info("row-level security on {}: enabled, {} policy {} USING and WITH CHECK ({})", table,
                present ? "replaced" : "created", POLICY, condition);
    }
}
