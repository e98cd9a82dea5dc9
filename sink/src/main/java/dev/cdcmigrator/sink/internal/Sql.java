package dev.cdcmigrator.sink.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cdcmigrator.common.SqlText;
import dev.cdcmigrator.common.event.V2Change;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.stream.Collectors;

/** SQL text and parameter binding shared by the sink's statements. */
final class Sql {

    private Sql() {
    }



    static String columnList(List<String> columns) {
        return columns.stream().map(SqlText::quote).collect(Collectors.joining(", "));
    }

    /**
     * Binds a v2 wire value as untyped text (the connection uses {@code stringtype=unspecified}), so PostgreSQL
     * parses it with the target column's own input function: exact for numeric, timestamptz, uuid, jsonb, enums;
     * a JSON array bound to a column of an array type becomes an array literal first.
     */
    static void bind(PreparedStatement ps, int index, JsonNode value, boolean arrayColumn) throws SQLException {
        String text = V2Change.inputText(value, arrayColumn);
        if (text == null) {
            ps.setNull(index, Types.OTHER);
        } else {
            ps.setString(index, text);
        }
    }
}
