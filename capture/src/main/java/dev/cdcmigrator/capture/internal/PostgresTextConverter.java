package dev.cdcmigrator.capture.internal;

import dev.cdcmigrator.common.event.PostgresText;
import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import java.sql.Array;
import java.sql.SQLException;
import java.time.LocalDate;
import java.util.Calendar;
import java.util.GregorianCalendar;
import java.util.Properties;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.postgresql.PGStatement;

/**
 * Publishes the column types Debezium's own conversion gets wrong as PostgreSQL's own text, which the v2 column's
 * input function parses exactly. Registered with capture's Debezium settings under {@code converters}.
 * <ul>
 *   <li>Arrays (<code>{{1,2},{3,NULL}}</code>): Debezium handles one dimension only, a two-dimensional array arrives
 *       as a list of nulls.</li>
 *   <li>Dates ({@code 2024-03-01}, {@code 0044-03-15 BC}, {@code infinity}): the initial snapshot reads them as
 *       {@link java.sql.Date}, whose conversion drops the era, so 44 BC became 44 AD.</li>
 * </ul>
 */
public final class PostgresTextConverter implements CustomConverter<SchemaBuilder, RelationalColumn> {

    /** The semantic type name of a converted array column. */
    public static final String ARRAY = "dev.cdcmigrator.ArrayText";
    /** The semantic type name of a converted date column. */
    public static final String DATE = "dev.cdcmigrator.DateText";

    /**
     * PostgreSQL's infinite dates are the int extremes counted in days from 2000-01-01; streamed, they reach the
     * converter moved to 1970 in int arithmetic, which overflows to these.
     */
    private static final long STREAMED_INFINITY = (int) (Integer.MAX_VALUE + 10_957L);
    private static final long STREAMED_NEGATIVE_INFINITY = Integer.MIN_VALUE + 10_957;

    @Override
    public void configure(Properties properties) {
        // nothing to configure
    }

    @Override
    public void converterFor(RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
        // PostgreSQL names an array type after its element type with a leading underscore (_int4, _text).
        if (column.typeName().startsWith("_")) {
            registration.register(SchemaBuilder.string().optional().name(ARRAY), PostgresTextConverter::array);
        } else if (column.typeName().equals("date")) {
            registration.register(SchemaBuilder.string().optional().name(DATE), PostgresTextConverter::date);
        }
    }

    private static Object array(Object value) {
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
        return value == null ? null : value.toString();
    }

    private static Object date(Object value) {
        if (value instanceof java.sql.Date date) {
            if (date.getTime() == PGStatement.DATE_POSITIVE_INFINITY) {
                return "infinity";
            }
            if (date.getTime() == PGStatement.DATE_NEGATIVE_INFINITY) {
                return "-infinity";
            }
            // pgjdbc set the year, era, month and day in the default calendar; they are PostgreSQL's date.
            Calendar calendar = new GregorianCalendar();
            calendar.setTime(date);
            int year = calendar.get(Calendar.ERA) == GregorianCalendar.BC ? 1 - calendar.get(Calendar.YEAR) : calendar.get(Calendar.YEAR);
            return PostgresText.era(LocalDate.of(year, calendar.get(Calendar.MONTH) + 1, calendar.get(Calendar.DAY_OF_MONTH)).toString());
        }
        long epochDay;
        if (value instanceof LocalDate date) {
            if (date.equals(LocalDate.MAX) || date.equals(LocalDate.MIN)) {
                return date.equals(LocalDate.MAX) ? "infinity" : "-infinity";
            }
            epochDay = date.toEpochDay();
        } else if (value instanceof Number number) {
            epochDay = number.longValue();
        } else {
            return value == null ? null : value.toString();
        }
        if (epochDay == STREAMED_INFINITY) {
            return "infinity";
        }
        if (epochDay == STREAMED_NEGATIVE_INFINITY) {
            return "-infinity";
        }
        return PostgresText.era(LocalDate.ofEpochDay(epochDay).toString());
    }
}
