package dev.cdcmigrator.testkit;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.utils.SecurityUtils;

/**
 * Reads the {@code kafka-acls.sh} commands of a documentation section (the shell blocks of a markdown section, as an
 * operator would paste them) into the ACLs they add, so that a test can create exactly what the documentation says
 * and fail when the text goes wrong.
 *
 * <p>The shell understood is the small subset such a section uses, and anything else is refused rather than skipped
 * (a command the reader does not know would otherwise be a grant the test silently leaves out): variable assignments
 * {@code NAME=value}, the definition of the {@code acl} function (which must call {@code kafka-acls.sh ... --add "$@"}),
 * {@code for VAR in WORD...; do ... done}, {@code acl OPTION...} calls, {@code #} comments, {@code \} line
 * continuations, {@code "..."} with {@code $VAR} expanded and {@code '...'}. The options of {@code kafka-acls.sh}
 * understood: {@code --allow-principal}, {@code --operation} (both repeatable), {@code --topic}, {@code --group},
 * {@code --transactional-id}, {@code --cluster} (resources, repeatable) and {@code --resource-pattern-type literal|prefixed}.
 * Each call adds, as {@code kafka-acls.sh --add} does, one ALLOW entry from any host per principal, operation and
 * resource.
 */
public final class KafkaAclScript {

    private static final Pattern ASSIGNMENT = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(.*)");
    private static final Pattern FOR = Pattern.compile("for ([A-Za-z_][A-Za-z0-9_]*) in (.*); do");
    private static final Pattern VARIABLE = Pattern.compile("\\$(?:\\{([A-Za-z_][A-Za-z0-9_]*)}|([A-Za-z_][A-Za-z0-9_]*))");
    private static final String FUNCTION = "acl";
    private static final Pattern ADDS = Pattern.compile(FUNCTION + "\\(\\) \\{ kafka-acls\\.sh .*--add \"\\$@\"; }");

    private final Map<String, String> variables;
    private final List<AclBinding> bindings = new ArrayList<>();
    private boolean functionDefined;

    private KafkaAclScript(Map<String, String> variables) {
        this.variables = new HashMap<>(variables);
    }

    /**
     * The shell code blocks ({@code ```sh}) of the markdown section that starts with the line {@code heading} (for
     * example {@code ## Kafka ACLs}) and runs to the next heading of the same or a higher level, joined.
     *
     * @throws IllegalArgumentException when there is no such section, or it has no shell block
     */
    public static String shellBlocks(String markdown, String heading) {
        int level = heading.indexOf(' ');
        List<String> lines = markdown.lines().toList();
        int start = lines.indexOf(heading);
        if (level < 1 || start < 0) {
            throw new IllegalArgumentException("no section '" + heading + "' in the document");
        }
        StringBuilder script = new StringBuilder();
        boolean inShell = false;
        boolean inOtherBlock = false;
        for (String line : lines.subList(start + 1, lines.size())) {
            if (!inShell && !inOtherBlock && line.matches("#{1," + level + "} .*")) {
                break;
            }
            if (line.startsWith("```")) {
                if (inShell || inOtherBlock) {
                    inShell = false;
                    inOtherBlock = false;
                } else if (line.equals("```sh") || line.equals("```shell") || line.equals("```bash")) {
                    inShell = true;
                } else {
                    inOtherBlock = true;
                }
            } else if (inShell) {
                script.append(line).append('\n');
            }
        }
        if (script.isEmpty()) {
            throw new IllegalArgumentException("section '" + heading + "' has no shell block");
        }
        return script.toString();
    }

    /**
     * The ACLs {@code script} adds.
     *
     * @param script    the commands, e.g. {@link #shellBlocks}
     * @param variables values that win over the script's own assignments (the placeholders it asks to fill in, such
     *                  as {@code PREFIX} or a principal)
     * @throws IllegalArgumentException naming the line, for anything the reader does not understand
     */
    public static List<AclBinding> parse(String script, Map<String, String> variables) {
        KafkaAclScript reader = new KafkaAclScript(variables);
        reader.run(logicalLines(script));
        if (reader.bindings.isEmpty()) {
            throw new IllegalArgumentException("the script adds no ACL");
        }
        return List.copyOf(reader.bindings);
    }

    /** The lines with their {@code \} continuations joined, blank ones left out. */
    private static List<String> logicalLines(String script) {
        List<String> lines = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.lines().toList()) {
            if (line.endsWith("\\")) {
                current.append(line, 0, line.length() - 1).append(' ');
                continue;
            }
            current.append(line);
            String logical = current.toString().strip();
            current.setLength(0);
            if (!logical.isEmpty()) {
                lines.add(logical);
            }
        }
        if (!current.isEmpty()) {
            throw new IllegalArgumentException("the script ends in a line continuation: " + current);
        }
        return lines;
    }

    private void run(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher loop = FOR.matcher(line);
            if (loop.matches()) {
                int end = i + 1;
                while (end < lines.size() && !lines.get(end).equals("done")) {
                    if (FOR.matcher(lines.get(end)).matches()) {
                        throw new IllegalArgumentException("nested for loops are not understood: " + lines.get(end));
                    }
                    end++;
                }
                if (end == lines.size()) {
                    throw new IllegalArgumentException("for without done: " + line);
                }
                List<String> body = lines.subList(i + 1, end);
                String name = loop.group(1);
                for (String value : words(loop.group(2))) {
                    variables.put(name, value);
                    run(body);
                }
                i = end;
            } else {
                statement(line);
            }
        }
    }

    private void statement(String line) {
        if (line.startsWith("#")) {
            return;
        }
        if (line.startsWith(FUNCTION + "()")) {
            if (!ADDS.matcher(line).matches()) {
                throw new IllegalArgumentException("the function " + FUNCTION + " does not run kafka-acls.sh --add \"$@\": " + line);
            }
            functionDefined = true;
            return;
        }
        Matcher assignment = ASSIGNMENT.matcher(line);
        if (assignment.matches()) {
            List<String> value = words(assignment.group(2));
            if (value.size() > 1) {
                throw new IllegalArgumentException("an assignment of several words: " + line);
            }
            variables.putIfAbsent(assignment.group(1), value.isEmpty() ? "" : value.get(0));
            return;
        }
        List<String> words = words(line);
        if (words.isEmpty()) {
            return;
        }
        if (!words.get(0).equals(FUNCTION)) {
            throw new IllegalArgumentException("not an ACL command: " + line);
        }
        if (!functionDefined) {
            throw new IllegalArgumentException(FUNCTION + " is called before it is defined: " + line);
        }
        add(words.subList(1, words.size()), line);
    }

    private void add(List<String> options, String line) {
        List<String> principals = new ArrayList<>();
        List<AclOperation> operations = new ArrayList<>();
        List<String[]> resources = new ArrayList<>();
        PatternType patternType = PatternType.LITERAL;
        for (int i = 0; i < options.size(); i++) {
            String option = options.get(i);
            switch (option) {
                case "--cluster" -> resources.add(new String[] {ResourceType.CLUSTER.name(), "kafka-cluster"});
                case "--allow-principal", "--operation", "--topic", "--group", "--transactional-id", "--resource-pattern-type" -> {
                    if (i + 1 == options.size()) {
                        throw new IllegalArgumentException(option + " without a value: " + line);
                    }
                    String value = options.get(++i);
                    switch (option) {
                        case "--allow-principal" -> principals.add(SecurityUtils.parseKafkaPrincipal(value).toString());
                        case "--operation" -> operations.add(operation(value, line));
                        case "--topic" -> resources.add(new String[] {ResourceType.TOPIC.name(), value});
                        case "--group" -> resources.add(new String[] {ResourceType.GROUP.name(), value});
                        case "--transactional-id" -> resources.add(new String[] {ResourceType.TRANSACTIONAL_ID.name(), value});
                        default -> patternType = switch (value) {
                            case "literal" -> PatternType.LITERAL;
                            case "prefixed" -> PatternType.PREFIXED;
                            default -> throw new IllegalArgumentException("--resource-pattern-type " + value
                                    + " is not understood (literal or prefixed): " + line);
                        };
                    }
                }
                default -> throw new IllegalArgumentException("option " + option + " is not understood: " + line);
            }
        }
        if (principals.isEmpty() || operations.isEmpty() || resources.isEmpty()) {
            throw new IllegalArgumentException("an ACL needs --allow-principal, --operation and a resource: " + line);
        }
        for (String[] resource : resources) {
            ResourceType type = ResourceType.valueOf(resource[0]);
            // kafka-acls.sh applies the pattern type to the named resources; the cluster is always literal.
            ResourcePattern pattern = new ResourcePattern(type, resource[1], type == ResourceType.CLUSTER ? PatternType.LITERAL : patternType);
            for (String principal : principals) {
                for (AclOperation operation : operations) {
                    bindings.add(new AclBinding(pattern, new AccessControlEntry(principal, "*", operation, AclPermissionType.ALLOW)));
                }
            }
        }
    }

    private static AclOperation operation(String name, String line) {
        AclOperation operation = SecurityUtils.operation(name);
        if (operation == AclOperation.UNKNOWN || operation == AclOperation.ANY) {
            throw new IllegalArgumentException("--operation " + name + " is not an operation: " + line);
        }
        return operation;
    }

    /**
     * The words of a line as the shell splits them: whitespace outside quotes separates, {@code "..."} expands
     * {@code $VAR} and {@code ${VAR}}, {@code '...'} is literal, an unquoted {@code $VAR} expands in place, a
     * {@code #} at the start of a word comments out the rest.
     */
    private List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                i++;
            } else if (c == '#' && !inWord) {
                break;
            } else if (c == '\'') {
                int end = closing(text, i, '\'');
                word.append(text, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                int end = closing(text, i, '"');
                word.append(expand(text.substring(i + 1, end)));
                inWord = true;
                i = end + 1;
            } else {
                int end = i;
                while (end < text.length() && !Character.isWhitespace(text.charAt(end)) && "'\"".indexOf(text.charAt(end)) < 0) {
                    end++;
                }
                word.append(expand(text.substring(i, end)));
                inWord = true;
                i = end;
            }
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }

    private static int closing(String text, int open, char quote) {
        int end = text.indexOf(quote, open + 1);
        if (end < 0) {
            throw new IllegalArgumentException("unterminated " + quote + " in: " + text);
        }
        return end;
    }

    private String expand(String text) {
        Matcher m = VARIABLE.matcher(text);
        StringBuilder expanded = new StringBuilder();
        while (m.find()) {
            String name = m.group(1) != null ? m.group(1) : m.group(2);
            String value = variables.get(name);
            if (value == null) {
                throw new IllegalArgumentException("$" + name + " is not set: " + text);
            }
            m.appendReplacement(expanded, Matcher.quoteReplacement(value));
        }
        m.appendTail(expanded);
        return expanded.toString();
    }
}
