package dev.cdcmigrator.common.spec;

/**
 * Settings for the isolation dimensions that tables declare under {@code dimensions}.
 *
 * @param holdSeconds how long a row waits for a lookup row that has not arrived (inserted in the same or a later v1
 *                    transaction, or still in the backfill) before its dimension counts as unresolved; default 300
 * @param metricsPerTenant whether the transform's dimension meters carry a {@code tenant} tag; off by default, since
 *                         the number of tenants is unbounded
 * @param rowLevelSecurity the PostgreSQL setting that names a session's tenant (e.g. {@code app.tenant_id}); when
 *                         given, the sink creates row-level security policies on every v2 table with a tenant column
 */
public record TenancySpec(Integer holdSeconds, Boolean metricsPerTenant, String rowLevelSecurity) {

    public static final TenancySpec DEFAULT = new TenancySpec(null, null, null);

    public TenancySpec {
        holdSeconds = holdSeconds == null ? 300 : holdSeconds;
        if (holdSeconds < 0) {
            throw new IllegalArgumentException("holdSeconds must be 0 or more, was " + holdSeconds);
        }
        metricsPerTenant = metricsPerTenant != null && metricsPerTenant;
        if (rowLevelSecurity != null && !rowLevelSecurity.matches("[A-Za-z_][A-Za-z0-9_]*\\.[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("rowLevelSecurity must name a custom setting like app.tenant_id, was '" + rowLevelSecurity + "'");
        }
    }
}
