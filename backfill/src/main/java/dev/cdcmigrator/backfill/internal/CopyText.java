package dev.cdcmigrator.backfill.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cdcmigrator.common.event.V2Change;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rows of one v2 table in PostgreSQL's COPY text format: each value as the sink would bind it
 * ({@link V2Change#inputText}), backslash-escaped, tab-separated, {@code \N} for NULL.
 */
final class CopyText {

    private final List<String> columns;
    private final Set<String> arrayColumns;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);
    private final StringBuilder line = new StringBuilder(256);
    private int rows;

    CopyText(List<String> columns, Set<String> arrayColumns) {
        this.columns = List.copyOf(columns);
        this.arrayColumns = arrayColumns;
    }

    List<String> columns() {
        return columns;
    }

    int rows() {
        return rows;
    }

    byte[] bytes() {
        return bytes.toByteArray();
    }

    /** Adds a row whose values name exactly {@link #columns()}, in that order. */
    void add(ObjectNode values) {
        line.setLength(0);
        Iterator<Map.Entry<String, JsonNode>> fields = values.fields();
        for (int i = 0; i < columns.size(); i++) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (i > 0) {
                line.append('\t');
            }
            String text = V2Change.inputText(field.getValue(), arrayColumns.contains(field.getKey()));
            if (text == null) {
                line.append("\\N");
            } else {
                escape(text);
            }
        }
        line.append('\n');
        bytes.writeBytes(line.toString().getBytes(StandardCharsets.UTF_8));
        rows++;
    }

    private void escape(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\\' -> line.append("\\\\");
                case '\t' -> line.append("\\t");
                case '\n' -> line.append("\\n");
                case '\r' -> line.append("\\r");
                default -> line.append(c);
            }
        }
    }
}
