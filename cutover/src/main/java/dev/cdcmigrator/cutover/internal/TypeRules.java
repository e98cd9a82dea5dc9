package dev.cdcmigrator.cutover.internal;

import dev.cdcmigrator.transform.ValueKind;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Whether a value of a v1 column type can be written into a v2 column type without the write failing or the value
 * changing. Types compare by base type (a domain counts as its base type) and type modifier. The first matching rule
 * decides:
 *
 * <table>
 *   <caption>Rules, in order</caption>
 *   <tr><th>v1</th><th>v2</th><th>result</th></tr>
 *   <tr><td>T</td><td>T, same modifier</td><td>ok</td></tr>
 *   <tr><td>varchar(n), char(n)</td><td>same type, length &ge; n or unlimited</td><td>ok, else risk: longer values fail</td></tr>
 *   <tr><td>numeric(p,s)</td><td>numeric with at least p-s integer and s fraction digits, or unconstrained</td><td>ok, else risk: overflow or rounding</td></tr>
 *   <tr><td>timestamp, timestamptz, time, timetz (precision)</td><td>same type, precision &ge;</td><td>ok, else risk: rounding</td></tr>
 *   <tr><td>T(modifier)</td><td>T(other modifier), any other type</td><td>risk: values may not fit</td></tr>
 *   <tr><td>int2, int4, int8</td><td>an integer type at least as wide</td><td>ok, narrower: risk (range)</td></tr>
 *   <tr><td>int2, int4, int8</td><td>numeric with enough integer digits (5, 10, 19) or unconstrained</td><td>ok, else risk</td></tr>
 *   <tr><td>int2, int4, float4</td><td>float8; int2 to float4</td><td>ok</td></tr>
 *   <tr><td>numeric, float4, float8</td><td>an integer type</td><td>risk: fractions rounded, range</td></tr>
 *   <tr><td>any</td><td>text, unlimited varchar</td><td>ok (the text form always fits)</td></tr>
 *   <tr><td>text, varchar, char</td><td>varchar(n), char(n)</td><td>ok if the v1 limit is at most n, else risk</td></tr>
 *   <tr><td>other than text</td><td>varchar(n), char(n)</td><td>risk: the text form may be longer</td></tr>
 *   <tr><td>text, varchar, char</td><td>any other type</td><td>risk: text that does not parse fails</td></tr>
 *   <tr><td>date</td><td>timestamp, timestamptz</td><td>ok</td></tr>
 *   <tr><td>timestamptz</td><td>timestamp</td><td>risk: the zone is dropped (converted to the session time zone)</td></tr>
 *   <tr><td>timestamp</td><td>timestamptz</td><td>risk: read as local time of the session time zone</td></tr>
 *   <tr><td>timestamp, timestamptz</td><td>date</td><td>risk: the time of day is dropped</td></tr>
 *   <tr><td>json</td><td>jsonb, and back</td><td>ok</td></tr>
 *   <tr><td>anything else</td><td></td><td>risk: no rule, the conversion may fail</td></tr>
 * </table>
 */
public final class TypeRules {

    private static final Map<String, Integer> INTEGER_RANK = Map.of("int2", 1, "int4", 2, "int8", 3);
    private static final Map<String, Integer> INTEGER_DIGITS = Map.of("int2", 5, "int4", 10, "int8", 19);
    private static final Set<String> TEXT = Set.of("text", "varchar", "bpchar");
    private static final Set<String> TIME_PRECISION = Set.of("timestamp", "timestamptz", "time", "timetz");
    private static final int VARHDRSZ = 4;

    private TypeRules() {
    }

    /**
     * A column type.
     *
     * @param name the base type's {@code pg_type.typname}, e.g. {@code int4}, {@code varchar}
     * @param typmod its modifier, -1 for none
     * @param display the type as PostgreSQL prints it, e.g. {@code character varying(20)}
     */
    public record Type(String name, int typmod, String display) {
    }

    /** Why writing {@code from} values into {@code to} can fail or change them; empty when it cannot. */
    public static Optional<String> risk(Type from, Type to) {
        String f = from.name();
        String t = to.name();
        if (f.equals(t)) {
            return from.typmod() == to.typmod() ? Optional.empty() : sameType(from, to);
        }
        if (INTEGER_RANK.containsKey(f) && INTEGER_RANK.containsKey(t)) {
            return INTEGER_RANK.get(t) >= INTEGER_RANK.get(f) ? Optional.empty()
                    : risk("values outside the " + to.display() + " range fail");
        }
        if (INTEGER_RANK.containsKey(f) && t.equals("numeric")) {
            int digits = INTEGER_DIGITS.get(f);
            return to.typmod() < 0 || precision(to) - scale(to) >= digits ? Optional.empty()
                    : risk("values with more than " + (precision(to) - scale(to)) + " integer digits fail");
        }
        if (t.equals("float8") && Set.of("int2", "int4", "float4").contains(f) || t.equals("float4") && f.equals("int2")) {
            return Optional.empty();
        }
        if (INTEGER_RANK.containsKey(t) && Set.of("numeric", "float4", "float8").contains(f)) {
            return risk("fractions are rounded and values outside the " + to.display() + " range fail");
        }
        if (TEXT.contains(t)) {
            int limit = length(to);
            if (limit < 0) {
                return Optional.empty();
            }
            if (TEXT.contains(f)) {
                int fromLimit = length(from);
                return fromLimit >= 0 && fromLimit <= limit ? Optional.empty()
                        : risk("values longer than " + limit + " characters fail");
            }
            return risk("values whose text form is longer than " + limit + " characters fail");
        }
        if (TEXT.contains(f)) {
            return risk("text that does not parse as " + to.display() + " fails");
        }
        if (f.equals("date") && (t.equals("timestamp") || t.equals("timestamptz"))) {
            return Optional.empty();
        }
        if (f.equals("timestamptz") && t.equals("timestamp")) {
            return risk("the time zone is dropped: values are converted to the sink session's time zone");
        }
        if (f.equals("timestamp") && t.equals("timestamptz")) {
            return risk("values are read as local time of the sink session's time zone");
        }
        if ((f.equals("timestamp") || f.equals("timestamptz")) && t.equals("date")) {
            return risk("the time of day is dropped");
        }
        if (f.equals("json") && t.equals("jsonb") || f.equals("jsonb") && t.equals("json")) {
            return Optional.empty();
        }
        return risk("no rule covers this conversion; it may fail");
    }

    /**
     * Whether a v2 column can take what an expression gives: the sink sends every value as text to the column's input
     * function (docs/spec.md), so a kind fits a type when that text parses as it.
     *
     * @param never true when no value of the kind can be written (a bool into an integer column): every row fails;
     *              false when only some can (an int into a bool column: only 0 and 1)
     * @param reason why
     */
    public record Misfit(boolean never, String reason) {
    }

    /**
     * Whether values of {@code kind} can be written into a column of type {@code to}; empty when they can (or cannot be
     * known: {@link ValueKind#ANY}, NULL). Text fits any type as far as can be known before run time (it is parsed per
     * row, as enums, timestamps and uuids are written), except json, which takes only text that is JSON.
     *
     * @param category the target base type's {@code pg_type.typcategory} ({@code N} numeric, {@code B} boolean,
     *                 {@code E} enum, {@code S} string, ...)
     * @param array whether the target is an array type
     */
    public static Optional<Misfit> misfit(ValueKind kind, Type to, char category, boolean array) {
        String t = to.name();
        if (kind == ValueKind.ANY || kind == ValueKind.NULL || category == 'S' || t.equals("bytea")) {
            return Optional.empty();
        }
        String what = kind.described();
        if (t.equals("json") || t.equals("jsonb")) {
            return kind == ValueKind.STRING
                    ? Optional.of(new Misfit(false, "text is parsed as JSON: only text that is a JSON document fits"))
                    : Optional.empty();
        }
        if (array) {
            return switch (kind) {
                case LIST, STRING -> Optional.empty();
                default -> Optional.of(new Misfit(true, what + " is not an array: write a list"));
            };
        }
        if (kind == ValueKind.STRING) {
            return Optional.empty();
        }
        if (category == 'E' || category == 'G') {
            // An enum label, or a geometric form (a path is written [(1,2),(3,4)]), can be any text.
            return Optional.of(new Misfit(false, "only values whose text parses as " + to.display() + " fit"));
        }
        if (category == 'N') {
            return switch (kind) {
                case INT -> Optional.empty();
                case DOUBLE -> INTEGER_RANK.containsKey(t)
                        ? Optional.of(new Misfit(true, to.display() + " takes no fractions, and a double is written with"
                        + " one (2.0): convert with int()"))
                        : Optional.empty();
                default -> Optional.of(new Misfit(true, what + " is not a number"));
            };
        }
        if (category == 'B') {
            return switch (kind) {
                case BOOL -> Optional.empty();
                case INT -> Optional.of(new Misfit(false, "of the ints, only 0 and 1 are booleans"));
                default -> Optional.of(new Misfit(true, what + " is not a boolean"));
            };
        }
        return switch (kind) {
            case INT, DOUBLE -> Optional.of(new Misfit(false, "only numbers whose digits parse as " + to.display() + " fit"));
            default -> Optional.of(new Misfit(true, what + " never parses as " + to.display()));
        };
    }

    private static Optional<String> sameType(Type from, Type to) {
        String name = from.name();
        if (name.equals("varchar") || name.equals("bpchar")) {
            int limit = length(to);
            int fromLimit = length(from);
            return limit < 0 || fromLimit >= 0 && fromLimit <= limit ? Optional.empty()
                    : risk("values longer than " + limit + " characters fail");
        }
        if (name.equals("numeric")) {
            if (to.typmod() < 0) {
                return Optional.empty();
            }
            if (from.typmod() < 0) {
                return risk("values with more than " + (precision(to) - scale(to)) + " integer digits fail and "
                        + "fractions beyond " + scale(to) + " digits are rounded");
            }
            boolean integerFits = precision(to) - scale(to) >= precision(from) - scale(from);
            boolean fractionFits = scale(to) >= scale(from);
            if (integerFits && fractionFits) {
                return Optional.empty();
            }
            return risk((integerFits ? "" : "values with more than " + (precision(to) - scale(to)) + " integer digits fail")
                    + (integerFits || fractionFits ? "" : " and ")
                    + (fractionFits ? "" : "fractions beyond " + scale(to) + " digits are rounded"));
        }
        if (TIME_PRECISION.contains(name)) {
            int fromPrecision = from.typmod() < 0 ? 6 : from.typmod();
            int toPrecision = to.typmod() < 0 ? 6 : to.typmod();
            return toPrecision >= fromPrecision ? Optional.empty()
                    : risk("fractional seconds beyond " + toPrecision + " digits are rounded");
        }
        return risk("the type modifier differs; values may not fit");
    }

    private static Optional<String> risk(String reason) {
        return Optional.of(reason);
    }

    /** The length limit of varchar/char, -1 for none. */
    private static int length(Type type) {
        return type.name().equals("text") || type.typmod() < 0 ? -1 : type.typmod() - VARHDRSZ;
    }

    private static int precision(Type numeric) {
        return ((numeric.typmod() - VARHDRSZ) >> 16) & 0xffff;
    }

    private static int scale(Type numeric) {
        // Signed 11 bits since PostgreSQL 15 (negative scales); non-negative before.
        return (((numeric.typmod() - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
    }
}
