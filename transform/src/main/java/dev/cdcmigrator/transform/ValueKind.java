package dev.cdcmigrator.transform;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The kind of value a spec source writes into a v2 column, as far as it is known before any row flows: the result
 * type of an expression, the type of a constant. The sink hands each value to the v2 column's input function as text
 * (numbers in plain digits, JSON objects and arrays as JSON, lists into array columns as array literals), so the kind
 * decides which v2 types can ever accept it.
 */
public enum ValueKind {
    /** Only SQL NULL. */
    NULL,
    BOOL,
    INT,
    /** A fraction: written as decimal digits with a point ({@code 2.0}), or NaN and Infinity as text. */
    DOUBLE,
    /** Text, including what expressions give as text: timestamps, durations and bytes (base64). */
    STRING,
    LIST,
    MAP,
    /** Not known before run time ({@code dyn}, a Java function). */
    ANY;

    /** The kind as a message names it: "a bool", "an int", "text". */
    public String described() {
        return switch (this) {
            case NULL -> "null";
            case BOOL -> "a bool";
            case INT -> "an int";
            case DOUBLE -> "a double";
            case STRING -> "text";
            case LIST -> "a list";
            case MAP -> "a map";
            case ANY -> "a value of any type";
        };
    }

    /** The kind of a constant of the spec ({@code value}, a {@code map} value, a literal {@code default}). */
    public static ValueKind of(JsonNode constant) {
        if (constant == null || constant.isNull()) {
            return NULL;
        }
        if (constant.isBoolean()) {
            return BOOL;
        }
        if (constant.isIntegralNumber()) {
            return INT;
        }
        if (constant.isNumber()) {
            return DOUBLE;
        }
        if (constant.isArray()) {
            return LIST;
        }
        if (constant.isObject()) {
            return MAP;
        }
        return STRING;
    }
}
