package dev.cdcmigrator.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The container image as cli/pom.xml configures Jib to build it (name, user, exposed ports, entrypoint), read from the
 * POM itself so that the tests of the image and of the Kubernetes manifests compare against one source.
 */
record JibImage(String name, String user, List<Integer> ports, List<String> entrypoint, Path tarball) {

    /** The repository root: surefire and failsafe run in cli/. */
    static final Path ROOT = repositoryRoot();
    static final Path CLI_POM = ROOT.resolve("cli/pom.xml");

    /** Reads the Jib configuration of cli/pom.xml, ${...} resolved from the POM's properties and project version. */
    static JibImage configured() {
        Document cli = parse(CLI_POM);
        Document root = parse(ROOT.resolve("pom.xml"));
        String version = text(child(root.getDocumentElement(), "version"));
        Element properties = child(cli.getDocumentElement(), "properties");
        Element jib = null;
        for (Element plugin : descendants(cli.getDocumentElement(), "plugin")) {
            if ("jib-maven-plugin".equals(text(child(plugin, "artifactId")))) {
                jib = plugin;
            }
        }
        if (jib == null) {
            throw new IllegalStateException("cli/pom.xml has no jib-maven-plugin");
        }
        Element configuration = child(jib, "configuration");
        Element container = child(configuration, "container");
        String name = resolve(text(child(child(configuration, "to"), "image")), properties, version);
        List<Integer> ports = new ArrayList<>();
        for (Element port : descendants(child(container, "ports"), "port")) {
            ports.add(Integer.parseInt(resolve(text(port), properties, version)));
        }
        List<String> entrypoint = new ArrayList<>();
        for (Element arg : descendants(child(container, "entrypoint"), "arg")) {
            entrypoint.add(resolve(text(arg), properties, version));
        }
        return new JibImage(name, resolve(text(child(container, "user")), properties, version), List.copyOf(ports),
                List.copyOf(entrypoint), ROOT.resolve("cli/target/jib-image.tar"));
    }

    /** The numeric user id of {@code uid[:gid]}. */
    int uid() {
        return Integer.parseInt(user.split(":")[0]);
    }

    /** The image name without its tag. */
    String repository() {
        int colon = name.lastIndexOf(':');
        return colon > name.lastIndexOf('/') ? name.substring(0, colon) : name;
    }

    /** The OCI architecture Jib is configured with on this host (the profile container-image-arm64 sets arm64). */
    static String hostArchitecture() {
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        return arch.equals("aarch64") || arch.equals("arm64") ? "arm64" : "amd64";
    }

    private static String resolve(String value, Element properties, String version) {
        Matcher m = Pattern.compile("\\$\\{([^}]+)}").matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String key = m.group(1);
            String replacement;
            if (key.equals("project.version")) {
                replacement = version;
            } else {
                Element property = child(properties, key);
                if (property == null) {
                    throw new IllegalStateException("cli/pom.xml: ${" + key + "} is not a property of the POM");
                }
                replacement = resolve(text(property), properties, version);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static Document parse(Path pom) {
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new IllegalStateException(pom + " does not parse: " + e.getMessage(), e);
        }
    }

    private static Element child(Element parent, String name) {
        if (parent == null) {
            return null;
        }
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                return e;
            }
        }
        return null;
    }

    private static List<Element> descendants(Element parent, String name) {
        List<Element> elements = new ArrayList<>();
        if (parent != null) {
            NodeList list = parent.getElementsByTagName(name);
            for (int i = 0; i < list.getLength(); i++) {
                elements.add((Element) list.item(i));
            }
        }
        return elements;
    }

    private static String text(Element element) {
        if (element == null) {
            throw new IllegalStateException("cli/pom.xml: an element of the Jib configuration is missing");
        }
        return element.getTextContent().trim();
    }

    private static Path repositoryRoot() {
        Path parent = Path.of("..").toAbsolutePath().normalize();
        if (Files.isRegularFile(parent.resolve("cli/pom.xml"))) {
            return parent;
        }
        return Path.of("").toAbsolutePath().normalize(); // run from the repository root
    }
}
