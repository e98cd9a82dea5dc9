package dev.cdcmigrator.capture.internal;

import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import java.sql.Array;
import java.sql.SQLException;
import java.util.Properties;
import org.apache.kafka.connect.data.SchemaBuilder;

/**
 * Publishes every array column as PostgreSQL's own array text (<code>{{1,2},{3,NULL}}</code>), which the v2 column's
 * input function parses exactly. Debezium's own array conversion handles one dimension only: a two-dimensional array
 * arrives as a list of nulls. Registered with capture's Debezium settings under {@code converters}.
 */
public final class ArrayText implements CustomConverter<SchemaBuilder, RelationalColumn> {

    /** The semantic type name of the converted columns, which the transform passes through as text. */
    public static final String SEMANTIC_TYPE = "dev.cdcmigrator.ArrayText";

    @Override
    public void configure(Properties properties) {
        // nothing to configure
    }

    @Override
    public void converterFor(RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
        // PostgreSQL names an array type after its element type with a leading underscore (_int4, _text).
        if (!column.typeName().startsWith("_")) {
            return;
        }
        registration.register(SchemaBuilder.string().optional().name(SEMANTIC_TYPE), value -> {
            if (value == null) {
                return null;
            }
            if (value instanceof Array array) {
                // pgjdbc's array keeps the server's text; toString gives it back unparsed.
                String text = array.toString();
                try {
                    array.free();
                } catch (SQLException e) {
                    // Freeing only releases memory early.
                }
                return text;
            }
            return value.toString();
        });
    }
}
