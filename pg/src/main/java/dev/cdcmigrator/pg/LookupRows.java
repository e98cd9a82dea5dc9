package dev.cdcmigrator.pg;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.SqlText;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The v1 lookup rows a table's dimensions read, as verify and the copy backfill map rows outside the transform: every
 * row of each lookup table, held in memory as each transform task holds them, found by the lookup table and its
 * primary key value in wire form.
 */
public final class LookupRows {

    private final Map<String, ObjectNode> rows = new HashMap<>();

    /**
     * Reads the columns a table's dimensions look up from every row of each lookup table.
     *
     * @param columns per lookup table, the columns its dimensions read
     */
    public void load(Connection v1, String schema, Map<String, Set<String>> columns) throws SQLException {
        for (Map.Entry<String, Set<String>> lookup : columns.entrySet()) {
            load(v1, schema, lookup.getKey(), lookup.getValue());
        }
    }

    private void load(Connection v1, String schema, String table, Set<String> columns) throws SQLException {
        Map<String, Catalog.Column> all = Catalog.tableColumns(v1, schema, table, "v1 lookup");
        List<String> primaryKey = Catalog.primaryKey(v1, schema, table);
        if (primaryKey.size() != 1) {
            throw new IllegalStateException("v1 lookup table " + schema + "." + table + " needs a single-column primary key, it has "
                    + primaryKey);
        }
        Map<String, Catalog.Column> needed = new LinkedHashMap<>();
        needed.put(primaryKey.get(0), all.get(primaryKey.get(0)));
        for (String column : columns) {
            Catalog.Column found = all.get(column);
            if (found == null) {
                throw new IllegalStateException("v1 lookup table " + schema + "." + table + " has no column " + column);
            }
            needed.put(column, found);
        }
        WireRows wire = WireRows.of(needed);
        try (Statement st = v1.createStatement();
             ResultSet rs = st.executeQuery("SELECT " + wire.selectList() + " FROM " + SqlText.quote(schema) + "."
                     + SqlText.quote(table))) {
            while (rs.next()) {
                ObjectNode row = wire.read(rs);
                ObjectNode looked = JsonNodeFactory.instance.objectNode();
                columns.forEach(c -> looked.set(c, row.get(c)));
                rows.put(table + '\u0000' + row.get(primaryKey.get(0)), looked);
            }
        }
    }

    /** The looked-up columns of the row of lookup table {@code table} whose primary key is {@code key}, or null. */
    public ObjectNode row(String table, JsonNode key) {
        return rows.get(table + '\u0000' + key);
    }
}
