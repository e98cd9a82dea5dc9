package dev.cdcmigrator.common.spec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads a spec strictly: unknown keys, duplicate keys, wrong types and invalid values are errors naming the YAML path.
 * String values may contain {@code ${env:NAME}} and {@code ${file:/path}} references, resolved before validation, so
 * that secrets stay out of the spec file.
 */
public final class SpecParser {

    private static final Pattern REFERENCE = Pattern.compile("\\$\\{(env|file):([^}]+)}");

    private final ObjectMapper mapper;
    private final UnaryOperator<String> env;

    /** A parser that resolves {@code ${env:NAME}} from the process environment. */
    public SpecParser() {
        this(System::getenv);
    }

    /** A parser that resolves {@code ${env:NAME}} with the given lookup (null for an unset variable). */
    public SpecParser(UnaryOperator<String> env) {
        this.env = env;
        this.mapper = JsonMapper.builder(new YAMLFactory())
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .build();
    }

    /** Parses the spec file at {@code file}. */
    public Spec parse(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new SpecException(file.toString(), "", "cannot read the spec file: " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    /** Parses spec text; {@code sourceName} names it in error messages. */
    public Spec parse(String yaml, String sourceName) {
        JsonNode tree;
        try {
            tree = mapper.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new SpecException(sourceName, pathOf(e), e.getOriginalMessage(), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new SpecException(sourceName, "", "expected a YAML mapping with version, source, target, kafka and tables", null);
        }
        resolveReferences(tree, "", sourceName);
        rejectUnknownKeys(tree, Spec.class, "", sourceName);
        try {
            return mapper.treeToValue(tree, Spec.class);
        } catch (JsonProcessingException e) {
            throw new SpecException(sourceName, pathOf(e), describe(e), e);
        }
    }

    /**
     * Jackson buffers unknown keys of a record and reports them only after the record's constructor ran, so a
     * misspelt key would surface as "x is required". Checking keys against the record components first names the
     * misspelt key instead.
     */
    private static void rejectUnknownKeys(JsonNode node, java.lang.reflect.Type type, String path, String sourceName) {
        if (type instanceof java.lang.reflect.ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            java.lang.reflect.Type[] args = p.getActualTypeArguments();
            if (Map.class.isAssignableFrom(raw) && node.isObject()) {
                node.fields().forEachRemaining(f -> rejectUnknownKeys(f.getValue(), args[1], join(path, f.getKey()), sourceName));
            } else if (Iterable.class.isAssignableFrom(raw) && node.isArray()) {
                for (int i = 0; i < node.size(); i++) {
                    rejectUnknownKeys(node.get(i), args[0], path + "[" + i + "]", sourceName);
                }
            }
        } else if (type instanceof Class<?> c && c.isRecord() && node.isObject()) {
            Map<String, java.lang.reflect.RecordComponent> components = new java.util.TreeMap<>();
            for (var component : c.getRecordComponents()) {
                // A renamed key (@JsonProperty on the component) is visible on the accessor, not the component.
                var renamed = component.getAccessor().getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class);
                components.put(renamed != null ? renamed.value() : component.getName(), component);
            }
            var fields = node.fields();
            while (fields.hasNext()) {
                var field = fields.next();
                var component = components.get(field.getKey());
                if (component == null) {
                    throw new SpecException(sourceName, join(path, field.getKey()), "unknown key '" + field.getKey()
                            + "' (expected one of: " + String.join(", ", components.keySet()) + ")", null);
                }
                rejectUnknownKeys(field.getValue(), component.getGenericType(), join(path, field.getKey()), sourceName);
            }
        }
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private void resolveReferences(JsonNode node, String path, String sourceName) {
        if (node instanceof ObjectNode object) {
            Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                String childPath = join(path, field.getKey());
                if (field.getValue().isTextual()) {
                    field.setValue(TextNode.valueOf(resolve(field.getValue().asText(), childPath, sourceName)));
                } else {
                    resolveReferences(field.getValue(), childPath, sourceName);
                }
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                resolveReferences(node.get(i), path + "[" + i + "]", sourceName);
            }
        }
    }

    private String resolve(String value, String path, String sourceName) {
        Matcher m = REFERENCE.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String replacement;
            if (m.group(1).equals("env")) {
                replacement = env.apply(m.group(2));
                if (replacement == null) {
                    throw new SpecException(sourceName, path, "environment variable " + m.group(2) + " is not set", null);
                }
            } else {
                try {
                    replacement = Files.readString(Path.of(m.group(2)), StandardCharsets.UTF_8).strip();
                } catch (IOException e) {
                    throw new SpecException(sourceName, path, "cannot read " + m.group(2) + ": " + e, e);
                }
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String describe(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException u) {
            String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(", "));
            return "unknown key '" + u.getPropertyName() + "'" + (known.isEmpty() ? "" : " (expected one of: " + known + ")");
        }
        if (e instanceof ValueInstantiationException && e.getCause() != null) {
            return e.getCause().getMessage();
        }
        if (e instanceof InvalidFormatException f) {
            return "expected " + expected(f.getTargetType()) + ", got '" + f.getValue() + "'";
        }
        if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
            String got = m.getProcessor() instanceof JsonParser p && p.currentToken() != null && p.currentToken().isScalarValue()
                    ? ", got '" + textOf(p) + "'" : "";
            return "expected " + expected(m.getTargetType()) + got;
        }
        return e.getOriginalMessage();
    }

    private static String textOf(JsonParser parser) {
        try {
            return parser.getText();
        } catch (IOException e) {
            return "?";
        }
    }

    private static String expected(Class<?> type) {
        if (type == ByteSize.class) {
            return ByteSize.EXPECTED;
        }
        if (type.isEnum()) {
            // Every enum of the spec is spelt as its constants' names in lower case.
            return "one of " + java.util.Arrays.stream(type.getEnumConstants())
                    .map(c -> ((Enum<?>) c).name().toLowerCase(java.util.Locale.ROOT)).collect(Collectors.joining(", "));
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "a mapping";
        }
        if (Iterable.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (type == Integer.class || type == int.class || type == Short.class || type == short.class) {
            return "a whole number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        return type == String.class ? "text" : type.getSimpleName();
    }

    private static String pathOf(JsonProcessingException e) {
        java.util.Deque<String> parts = new java.util.ArrayDeque<>();
        if (e instanceof JsonMappingException m) {
            for (JsonMappingException.Reference ref : m.getPath()) {
                parts.addLast(ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]");
            }
        } else if (e.getProcessor() instanceof JsonParser parser) {
            // Parse errors (e.g. a duplicate key) carry no reference path, only the parser's position.
            for (var ctx = parser.getParsingContext(); ctx != null && !ctx.inRoot(); ctx = ctx.getParent()) {
                if (ctx.inArray()) {
                    parts.addFirst("[" + ctx.getCurrentIndex() + "]");
                } else if (ctx.getCurrentName() != null) {
                    parts.addFirst(ctx.getCurrentName());
                }
            }
        }
        StringBuilder path = new StringBuilder();
        for (String part : parts) {
            if (path.length() > 0 && !part.startsWith("[")) {
                path.append('.');
            }
            path.append(part);
        }
        return path.toString();
    }
}
