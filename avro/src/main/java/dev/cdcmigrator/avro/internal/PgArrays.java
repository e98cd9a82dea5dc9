package dev.cdcmigrator.avro.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;

/**
 * Parses PostgreSQL's array text form ({@code {1,2,NULL}}, {@code {"a b","c\"d"}}, {@code {{1,2},{3,4}}},
 * optionally with a dimension decoration {@code [0:1]={...}}) into a JSON array of text elements, JSON null for
 * {@code NULL} and nested arrays for more dimensions. The delimiter is the comma (every built-in type but box).
 */
final class PgArrays {

    private final String text;
    private int pos;

    private PgArrays(String text) {
        this.text = text;
    }

    static JsonNode parse(String literal) {
        String t = literal.trim();
        if (t.startsWith("[")) {
            int eq = t.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("'" + literal + "' is not an array literal");
            }
            t = t.substring(eq + 1).trim();
        }
        PgArrays parser = new PgArrays(t);
        ArrayNode array = parser.array(literal);
        parser.skipSpace();
        if (parser.pos != t.length()) {
            throw new IllegalArgumentException("'" + literal + "' has text after the array");
        }
        return array;
    }

    private ArrayNode array(String literal) {
        skipSpace();
        expect('{', literal);
        ArrayNode array = JsonNodeFactory.instance.arrayNode();
        skipSpace();
        if (peek() == '}') {
            pos++;
            return array;
        }
        while (true) {
            skipSpace();
            char c = peek();
            if (c == '{') {
                array.add(array(literal));
            } else if (c == '"') {
                array.add(quoted(literal));
            } else {
                array.add(unquoted(literal));
            }
            skipSpace();
            char next = peek();
            pos++;
            if (next == '}') {
                return array;
            }
            if (next != ',') {
                throw new IllegalArgumentException("'" + literal + "' is not an array literal (expected , or } at " + (pos - 1) + ")");
            }
        }
    }

    private JsonNode quoted(String literal) {
        pos++;
        StringBuilder value = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw new IllegalArgumentException("'" + literal + "' has an unterminated quoted element");
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return TextNode.valueOf(value.toString());
            }
            if (c == '\\' && pos < text.length()) {
                c = text.charAt(pos++);
            }
            value.append(c);
        }
    }

    private JsonNode unquoted(String literal) {
        StringBuilder value = new StringBuilder();
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ',' || c == '}') {
                break;
            }
            if (c == '{' || c == '"') {
                throw new IllegalArgumentException("'" + literal + "' is not an array literal (unexpected " + c + " at " + pos + ")");
            }
            if (c == '\\' && pos + 1 < text.length()) {
                pos++;
                c = text.charAt(pos);
            }
            value.append(c);
            pos++;
        }
        String element = value.toString().strip();
        if (element.isEmpty()) {
            throw new IllegalArgumentException("'" + literal + "' has an empty element");
        }
        return element.equalsIgnoreCase("NULL") ? NullNode.getInstance() : TextNode.valueOf(element);
    }

    private void expect(char c, String literal) {
        if (peek() != c) {
            throw new IllegalArgumentException("'" + literal + "' is not an array literal (expected " + c + " at " + pos + ")");
        }
        pos++;
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void skipSpace() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }
}
