package dev.cdcmigrator.common.event;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** The kind of a change, with Debezium's one-letter codes on the wire. */
public enum Op {
    /** A row read by the initial snapshot. */
    READ("r"),
    /** An insert. */
    CREATE("c"),
    /** An update. */
    UPDATE("u"),
    /** A delete. */
    DELETE("d"),
    /** A truncate of the whole v1 table (raw topics only: the transform turns it into deletes). */
    TRUNCATE("t");

    private final String code;

    Op(String code) {
        this.code = code;
    }

    @JsonValue
    public String code() {
        return code;
    }

    /** The op for a Debezium code; throws IllegalArgumentException naming the code if it is none of r, c, u, d, t. */
    @JsonCreator
    public static Op fromCode(String code) {
        for (Op op : values()) {
            if (op.code.equals(code)) {
                return op;
            }
        }
        throw new IllegalArgumentException("unknown change op '" + code + "' (expected r, c, u, d or t)");
    }
}
