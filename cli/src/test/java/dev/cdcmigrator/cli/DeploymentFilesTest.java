package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.cdcmigrator.cli.internal.HttpProbe;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.common.spec.V2Format;
import dev.cdcmigrator.transform.TransformTopology;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The deployment files as far as they can be checked without a Docker engine: docker-compose.yml and every YAML and
 * JSON file under deploy/ parse; the compose file mounts only paths that exist, depends only on services it has and
 * publishes every host port once; its migrator service runs the image the Jib build makes, with the spec mounted and
 * a healthcheck that needs no shell; Prometheus scrapes the migrator where it listens; every metric the alert rules and
 * the Grafana dashboard use is one docs/metrics.md documents; every alert has {@code for}, a severity, a summary and
 * an absolute runbook_url pointing at a section of docs/runbook.md.
 * The Avro variant of the Keiko spec is the Keiko spec with Avro v2 topics on the compose schema registry. Each
 * failure names the file and the offending name.
 */
class DeploymentFilesTest {

    /** The repository root: surefire runs in cli/. */
    private static final Path ROOT = repositoryRoot();
    private static final Path COMPOSE = ROOT.resolve("docker-compose.yml");
    private static final Path DEPLOY = ROOT.resolve("deploy");
    private static final Path PROMETHEUS = DEPLOY.resolve("prometheus/prometheus.yml");
    private static final Path METRICS_DOC = ROOT.resolve("docs/metrics.md");
    private static final Path RUNBOOK = ROOT.resolve("docs/runbook.md");
    /**
     * What every runbook_url starts with, before {@code #section}: the project's docs/runbook.md. deploy/README.md
     * ("Runbook links") replaces it for a copy of the runbook elsewhere.
     */
    static final String RUNBOOK_BASE = "https://github.com/cdc-migrator/cdc-migrator/blob/main/docs/runbook.md";
    private static final Path KEIKO_SPEC = ROOT.resolve("examples/keiko/spec.yaml");
    private static final Path AVRO_SPEC = ROOT.resolve("examples/keiko/spec-avro.yaml");

    /** Suffixes Prometheus adds to a histogram's (a timer's) name. */
    private static final List<String> HISTOGRAM_SUFFIXES = List.of("_bucket", "_count", "_sum");
    private static final Pattern METRIC_NAME = Pattern.compile("(?<![A-Za-z0-9_:])migrator_[a-z0-9_]+");
    private static final Set<String> SEVERITIES = Set.of("critical", "warning", "info");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyYamlAndJsonFileParses() {
        List<Path> files = deploymentFiles();
        assertThat(files.stream().map(DeploymentFilesTest::name)).contains(
                "docker-compose.yml", "deploy/prometheus/prometheus.yml", "deploy/prometheus/alerts.yml",
                "deploy/grafana/provisioning/datasources/prometheus.yml",
                "deploy/grafana/provisioning/dashboards/dashboards.yml", "deploy/grafana/dashboards/cdc-migrator.json");
        List<String> failures = new ArrayList<>();
        for (Path file : files) {
            try {
                List<JsonNode> documents = read(file);
                if (documents.isEmpty() || documents.stream().allMatch(d -> d == null || d.isMissingNode() || d.isNull())) {
                    failures.add(name(file) + ": empty");
                }
            } catch (RuntimeException e) {
                failures.add(name(file) + ": " + e.getMessage());
            }
        }
        assertThat(failures).as("YAML and JSON files that do not parse").isEmpty();
    }

    @Test
    void composeMountsOnlyPathsThatExist() {
        JsonNode compose = compose();
        Set<String> namedVolumes = fieldNames(compose.path("volumes"));
        List<String> failures = new ArrayList<>();
        services(compose).forEach((service, definition) -> {
            for (JsonNode volume : definition.path("volumes")) {
                String source;
                if (volume.isTextual()) {
                    String[] parts = volume.asText().split(":");
                    if (parts.length < 2) {
                        continue; // an anonymous volume: a container path only
                    }
                    source = parts[0];
                } else {
                    source = volume.path("source").asText("");
                    if (volume.path("type").asText("volume").equals("tmpfs") || source.isEmpty()) {
                        continue;
                    }
                }
                if (source.startsWith(".") || source.startsWith("/") || source.startsWith("~")) {
                    Path host = ROOT.resolve(source).normalize();
                    if (!host.startsWith(ROOT)) {
                        failures.add(name(COMPOSE) + ": service " + service + " mounts " + source + ", outside the repository");
                    } else if (!Files.exists(host)) {
                        failures.add(name(COMPOSE) + ": service " + service + " mounts " + source + ", which does not exist");
                    }
                } else if (!namedVolumes.contains(source)) {
                    failures.add(name(COMPOSE) + ": service " + service + " mounts the volume " + source
                            + ", which the top-level volumes do not declare");
                }
            }
        });
        assertThat(failures).as("mounts of %s", name(COMPOSE)).isEmpty();
    }

    @Test
    void composeRunsTheMigratorImageWithTheSpecMountedAndProbesReadyWithoutAShell() {
        JsonNode migrator = services(compose()).get("migrator");
        JibImage image = JibImage.configured();
        assertThat(image(migrator)).as("%s: image of the migrator service (its default)", name(COMPOSE)).isEqualTo(image.name());
        assertThat(migrator.path("pull_policy").asText()).as("pull_policy: no registry has the image").isEqualTo("never");
        List<String> volumes = new ArrayList<>();
        migrator.path("volumes").forEach(v -> volumes.add(v.isTextual() ? v.asText() : v.path("source").asText() + ":" + v.path("target").asText()));
        assertThat(volumes).as("volumes of the migrator service: the spec, no jar").noneMatch(v -> v.contains(".jar"))
                .anyMatch(v -> v.startsWith("./examples/keiko/spec.yaml:/etc/migrator/spec.yaml"));
        List<String> command = command(migrator);
        assertThat(command).as("command: the migrator's arguments, the image's entrypoint runs it").startsWith("run")
                .contains("/etc/migrator/spec.yaml");
        new picocli.CommandLine(new Main()).parseArgs(command.toArray(String[]::new));

        List<String> healthcheck = new ArrayList<>();
        migrator.path("healthcheck").path("test").forEach(a -> healthcheck.add(a.asText()));
        assertThat(healthcheck).as("healthcheck: the image has no shell, so the image's java runs the probe")
                .startsWith("CMD", image.entrypoint().get(0))
                .containsSubsequence("-cp", "/app/classes", HttpProbe.class.getName())
                .endsWith("http://127.0.0.1:" + argument(command, "--http-port") + "/ready");
    }

    @Test
    void composeDependsOnlyOnItsOwnServices() {
        JsonNode compose = compose();
        Map<String, JsonNode> services = services(compose);
        assertThat(services).containsKeys("v1", "v2", "kafka", "migrator", "prometheus", "grafana");
        List<String> failures = new ArrayList<>();
        services.forEach((service, definition) -> {
            JsonNode dependsOn = definition.path("depends_on");
            List<String> names = new ArrayList<>();
            if (dependsOn.isArray()) {
                dependsOn.forEach(n -> names.add(n.asText()));
            } else {
                names.addAll(fieldNames(dependsOn));
            }
            for (String dependency : names) {
                if (!services.containsKey(dependency)) {
                    failures.add(name(COMPOSE) + ": service " + service + " depends on " + dependency + ", which is not a service");
                } else if (dependency.equals(service)) {
                    failures.add(name(COMPOSE) + ": service " + service + " depends on itself");
                }
                String condition = dependsOn.path(dependency).path("condition").asText("");
                if (condition.equals("service_healthy") && services.containsKey(dependency)
                        && services.get(dependency).path("healthcheck").isMissingNode()) {
                    failures.add(name(COMPOSE) + ": service " + service + " waits for " + dependency
                            + " to be healthy, but " + dependency + " has no healthcheck");
                }
            }
        });
        assertThat(failures).as("depends_on of %s", name(COMPOSE)).isEmpty();
    }

    @Test
    void composePublishesEveryHostPortOnce() {
        Map<String, String> owners = new LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        services(compose()).forEach((service, definition) -> {
            for (JsonNode port : definition.path("ports")) {
                for (String published : publishedPorts(port)) {
                    String previous = owners.putIfAbsent(published, service);
                    if (previous != null) {
                        failures.add(name(COMPOSE) + ": host port " + published + " published by " + previous + " and by " + service);
                    }
                }
            }
        });
        assertThat(failures).as("ports of %s", name(COMPOSE)).isEmpty();
        assertThat(owners).as("host ports %s publishes", name(COMPOSE)).containsKeys("9464/tcp", "9090/tcp", "3000/tcp");
    }

    @Test
    void theAvroSpecIsTheKeikoExampleWithAvroV2TopicsOnTheComposeRegistry() throws IOException {
        ObjectNode avro = readOne(AVRO_SPEC).deepCopy();
        ObjectNode kafka = (ObjectNode) avro.path("kafka");
        assertThat(kafka.path("v2Format").asText()).as("%s kafka.v2Format", name(AVRO_SPEC)).isEqualTo("avro");
        kafka.remove("v2Format");
        kafka.remove("schemaRegistry");
        assertThat(avro).as("%s (comments aside) must be %s but for kafka.v2Format and kafka.schemaRegistry: copy the"
                + " example over after changing it", name(AVRO_SPEC), name(KEIKO_SPEC)).isEqualTo(readOne(KEIKO_SPEC));

        Map<String, JsonNode> services = services(compose());
        JsonNode migrator = services.get("migrator");
        Map<String, String> env = new HashMap<>();
        migrator.path("environment").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        Spec spec = new SpecParser(env::get).parse(Files.readString(AVRO_SPEC), name(AVRO_SPEC));
        TransformTopology.validate(spec);
        assertThat(spec.kafka().v2Format()).isEqualTo(V2Format.AVRO);

        URI url = URI.create(spec.kafka().schemaRegistry().urls().get(0));
        JsonNode registry = services.get(url.getHost());
        assertThat(registry).as("the registry %s the migrator service's environment names: a service of %s", url, name(COMPOSE))
                .isNotNull();
        assertThat(listensOn(registry, String.valueOf(url.getPort()))).as("service %s listens on %s", url.getHost(), url.getPort())
                .isTrue();
        assertThat(registry.path("profiles").toString()).as("profiles of %s", url.getHost()).contains("\"avro\"");
        assertThat(registry.path("environment").path("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS").asText())
                .as("the Kafka of %s", url.getHost()).endsWith("//" + spec.kafka().bootstrap());
        assertThat(migrator.path("depends_on").path(url.getHost()).path("required").asBoolean(true))
                .as("the migrator waits for %s only when its profile runs it", url.getHost()).isFalse();
        assertThat(Files.readString(COMPOSE)).as("%s says how to mount %s", name(COMPOSE), name(AVRO_SPEC))
                .contains("# - ./" + name(AVRO_SPEC) + ":/etc/migrator/spec.yaml:ro");
    }

    @Test
    void migratorServicesListWherePrometheusCanReachThem() {
        Map<String, JsonNode> services = services(compose());
        List<String> failures = new ArrayList<>();
        // Every long-running migrator command in a container listens on all interfaces.
        services.forEach((service, definition) -> {
            List<String> command = command(definition);
            if (image(definition).equals(JibImage.configured().name())
                    && command.stream().anyMatch(a -> Set.of("run", "capture", "transform", "sink").contains(a))) {
                String host = argument(command, "--http-host");
                if (!"0.0.0.0".equals(host)) {
                    failures.add(name(COMPOSE) + ": service " + service + " runs the migrator with "
                            + (host == null ? "no --http-host (default 127.0.0.1)" : "--http-host " + host)
                            + ": Prometheus cannot reach it in the container; pass --http-host 0.0.0.0");
                }
            }
        });
        // Every scrape target on a compose service is a port that service listens on.
        JsonNode prometheus = readOne(PROMETHEUS);
        for (JsonNode job : prometheus.path("scrape_configs")) {
            for (JsonNode staticConfig : job.path("static_configs")) {
                for (JsonNode target : staticConfig.path("targets")) {
                    String[] hostPort = target.asText().split(":");
                    String host = hostPort[0];
                    String port = hostPort.length > 1 ? hostPort[1] : "80";
                    if (host.equals("localhost") || host.equals("127.0.0.1")) {
                        continue;
                    }
                    JsonNode service = services.get(host);
                    if (service == null) {
                        failures.add(name(PROMETHEUS) + ": job " + job.path("job_name").asText() + " scrapes " + target.asText()
                                + ", but " + host + " is not a service of " + name(COMPOSE));
                    } else if (!listensOn(service, port)) {
                        failures.add(name(PROMETHEUS) + ": job " + job.path("job_name").asText() + " scrapes " + target.asText()
                                + ", but service " + host + " does not listen on " + port);
                    }
                }
            }
        }
        for (JsonNode ruleFile : prometheus.path("rule_files")) {
            Path file = PROMETHEUS.getParent().resolve(ruleFile.asText());
            if (!Files.isRegularFile(file)) {
                failures.add(name(PROMETHEUS) + ": rule file " + ruleFile.asText() + " does not exist");
            }
        }
        assertThat(prometheus.path("rule_files").toString()).as("%s rule_files", name(PROMETHEUS)).contains("alerts.yml");
        assertThat(prometheus.path("global").path("evaluation_interval").asText()).as("evaluation_interval").isNotEmpty();
        assertThat(failures).as("where the migrator listens and Prometheus scrapes").isEmpty();
    }

    @Test
    void grafanaProvisioningMatchesTheComposeMountsAndTheDashboard() {
        JsonNode grafana = services(compose()).get("grafana");
        assertThat(grafana).as("the grafana service of %s", name(COMPOSE)).isNotNull();
        Map<String, String> mounts = new HashMap<>(); // container path -> host path
        for (JsonNode volume : grafana.path("volumes")) {
            String[] parts = volume.asText().split(":");
            if (parts.length >= 2) {
                mounts.put(parts[1], parts[0]);
            }
        }
        List<String> failures = new ArrayList<>();
        Set<String> datasourceUids = new TreeSet<>();
        for (JsonNode datasource : readOne(DEPLOY.resolve("grafana/provisioning/datasources/prometheus.yml")).path("datasources")) {
            datasourceUids.add(datasource.path("uid").asText());
            String host = datasource.path("url").asText().replaceFirst("^https?://", "").replaceFirst("[:/].*$", "");
            if (!services(compose()).containsKey(host)) {
                failures.add("deploy/grafana/provisioning/datasources/prometheus.yml: data source " + datasource.path("name").asText()
                        + " points at " + host + ", which is not a service of " + name(COMPOSE));
            }
        }
        for (JsonNode provider : readOne(DEPLOY.resolve("grafana/provisioning/dashboards/dashboards.yml")).path("providers")) {
            String path = provider.path("options").path("path").asText();
            String host = mounts.get(path);
            if (host == null) {
                failures.add("deploy/grafana/provisioning/dashboards/dashboards.yml: provider " + provider.path("name").asText()
                        + " reads " + path + ", which the grafana service does not mount");
            } else if (!Files.isDirectory(ROOT.resolve(host)) || jsonFiles(ROOT.resolve(host)).isEmpty()) {
                failures.add(name(COMPOSE) + ": grafana mounts " + host + " at " + path + ", which holds no dashboard JSON");
            }
        }
        for (Path dashboard : dashboards()) {
            JsonNode json = readOne(dashboard);
            Set<String> variables = new TreeSet<>();
            for (JsonNode variable : json.path("templating").path("list")) {
                variables.add(variable.path("name").asText());
                if (variable.path("type").asText().equals("datasource")
                        && !datasourceUids.contains(variable.path("current").path("value").asText())) {
                    failures.add(name(dashboard) + ": variable " + variable.path("name").asText() + " defaults to data source "
                            + variable.path("current").path("value").asText() + ", not one of the provisioned " + datasourceUids);
                }
            }
            walk(json.path("panels"), (panel, target) -> {
                for (JsonNode datasource : List.of(panel.path("datasource"), target.path("datasource"))) {
                    String uid = datasource.path("uid").asText("");
                    if (uid.isEmpty()) {
                        continue;
                    }
                    String variable = uid.replaceAll("^\\$\\{?([A-Za-z0-9_]+)}?$", "$1");
                    if (uid.startsWith("$") ? !variables.contains(variable) : !datasourceUids.contains(uid)) {
                        failures.add(name(dashboard) + ": panel \"" + panel.path("title").asText() + "\" uses data source " + uid
                                + ", neither a dashboard variable " + variables + " nor a provisioned uid " + datasourceUids);
                    }
                }
            });
        }
        assertThat(failures).as("Grafana provisioning").isEmpty();
    }

    @Test
    void everyMetricTheAlertsAndTheDashboardUseIsDocumented() {
        Set<String> documented = documentedMetrics();
        assertThat(documented).as("metric names of the table in %s", name(METRICS_DOC))
                .contains("migrator_stage_running", "migrator_sink_latency_seconds", "migrator_sink_rows_applied_total");
        Map<String, Set<String>> used = new LinkedHashMap<>(); // file -> metric names
        for (Path rules : ruleFiles()) {
            for (JsonNode group : readOne(rules).path("groups")) {
                for (JsonNode rule : group.path("rules")) {
                    addMetrics(used, name(rules) + " (" + ruleName(rule) + ")", rule.path("expr").asText());
                }
            }
        }
        for (Path dashboard : dashboards()) {
            JsonNode json = readOne(dashboard);
            walk(json.path("panels"), (panel, target) -> addMetrics(used,
                    name(dashboard) + " (panel \"" + panel.path("title").asText() + "\")", target.path("expr").asText()));
            for (JsonNode variable : json.path("templating").path("list")) {
                JsonNode query = variable.path("query");
                addMetrics(used, name(dashboard) + " (variable " + variable.path("name").asText() + ")",
                        query.isObject() ? query.path("query").asText() : query.asText());
            }
        }
        assertThat(used.values().stream().mapToInt(Set::size).sum()).as("metric names found in the rules and dashboards").isPositive();
        List<String> failures = new ArrayList<>();
        used.forEach((where, names) -> names.stream()
                .filter(n -> !isDocumented(n, documented))
                .forEach(n -> failures.add(where + ": " + n + " is not a metric of " + name(METRICS_DOC))));
        assertThat(failures).as("metric names not in %s %s", name(METRICS_DOC), documented).isEmpty();
    }

    @Test
    void everyAlertSaysHowLongWhatSeverityAndWhatToDo() throws IOException {
        String runbook = Files.readString(RUNBOOK);
        Set<String> anchors = new TreeSet<>();
        Matcher heading = Pattern.compile("(?m)^#{1,6}\\s+(.+)$").matcher(runbook);
        while (heading.find()) {
            anchors.add(heading.group(1).trim().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 \\-]", "").replace(' ', '-'));
        }
        List<String> failures = new ArrayList<>();
        Set<String> alertNames = new TreeSet<>();
        for (Path rules : ruleFiles()) {
            for (JsonNode group : readOne(rules).path("groups")) {
                for (JsonNode rule : group.path("rules")) {
                    if (!rule.has("alert")) {
                        continue;
                    }
                    String alert = name(rules) + ": alert " + rule.path("alert").asText();
                    if (!alertNames.add(rule.path("alert").asText())) {
                        failures.add(alert + ": defined twice");
                    }
                    if (!rule.hasNonNull("for") || rule.path("for").asText().isBlank()) {
                        failures.add(alert + ": no `for`");
                    }
                    String severity = rule.path("labels").path("severity").asText("");
                    if (!SEVERITIES.contains(severity)) {
                        failures.add(alert + ": labels.severity is \"" + severity + "\", not one of " + SEVERITIES);
                    }
                    JsonNode annotations = rule.path("annotations");
                    if (annotations.path("summary").asText("").isBlank()) {
                        failures.add(alert + ": no annotations.summary");
                    }
                    if (annotations.path("description").asText("").isBlank()) {
                        failures.add(alert + ": no annotations.description (what the operator should do)");
                    }
                    // Absolute, as Alertmanager, Grafana and paging tools link it; one base, which is what a
                    // replacement of the base (deploy/README.md) relies on; a heading GitHub makes an anchor of.
                    String runbookUrl = annotations.path("runbook_url").asText("");
                    String anchor = runbookUrl.startsWith(RUNBOOK_BASE + "#") ? runbookUrl.substring(RUNBOOK_BASE.length() + 1) : null;
                    if (anchor == null || !anchors.contains(anchor)) {
                        failures.add(alert + ": runbook_url \"" + runbookUrl + "\" is not " + RUNBOOK_BASE + "#<a section of "
                                + name(RUNBOOK) + ">, one of " + anchors);
                    }
                }
            }
        }
        assertThat(alertNames).as("alerts").isNotEmpty();
        assertThat(failures).as("alert rules").isEmpty();
    }

    // --- the files ---

    private static Path repositoryRoot() {
        Path parent = Path.of("..").toAbsolutePath().normalize();
        if (Files.isRegularFile(parent.resolve("docker-compose.yml")) && Files.isDirectory(parent.resolve("deploy"))) {
            return parent;
        }
        return Path.of("").toAbsolutePath().normalize(); // run from the repository root
    }

    private static String name(Path file) {
        return ROOT.relativize(file.toAbsolutePath().normalize()).toString().replace('\\', '/');
    }

    /** docker-compose.yml and every YAML or JSON file under deploy/. */
    private static List<Path> deploymentFiles() {
        List<Path> files = new ArrayList<>();
        files.add(COMPOSE);
        try (Stream<Path> walk = Files.walk(DEPLOY)) {
            walk.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().matches("(?i).*\\.(ya?ml|json)$"))
                    .sorted()
                    .forEach(files::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    /** The Prometheus rule files: the YAML files under deploy/ with a top-level {@code groups} list. */
    private static List<Path> ruleFiles() {
        List<Path> files = deploymentFiles().stream()
                .filter(p -> !p.toString().endsWith(".json"))
                .filter(p -> read(p).stream().anyMatch(d -> d != null && d.path("groups").isArray()))
                .toList();
        assertThat(files.stream().map(DeploymentFilesTest::name)).as("rule files").contains("deploy/prometheus/alerts.yml");
        return files;
    }

    /** The Grafana dashboards: the JSON files under deploy/ with a top-level {@code panels} list. */
    private static List<Path> dashboards() {
        List<Path> files = deploymentFiles().stream()
                .filter(p -> p.toString().endsWith(".json"))
                .filter(p -> readOne(p).path("panels").isArray())
                .toList();
        assertThat(files.stream().map(DeploymentFilesTest::name)).as("dashboards").contains("deploy/grafana/dashboards/cdc-migrator.json");
        return files;
    }

    private static List<Path> jsonFiles(Path directory) {
        try (Stream<Path> list = Files.list(directory)) {
            return list.filter(p -> p.toString().endsWith(".json")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every document of a YAML file (a YAML stream may hold several), or the JSON document. */
    private static List<JsonNode> read(Path file) {
        try {
            if (file.toString().endsWith(".json")) {
                return List.of(JSON.readTree(file.toFile()));
            }
            List<JsonNode> documents = new ArrayList<>();
            try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
                while (it.hasNextValue()) {
                    documents.add(it.nextValue());
                }
            }
            return documents;
        } catch (IOException e) {
            throw new IllegalStateException(name(file) + " does not parse: " + e.getMessage(), e);
        }
    }

    private static JsonNode readOne(Path file) {
        List<JsonNode> documents = read(file);
        assertThat(documents).as("documents of %s", name(file)).hasSize(1);
        return documents.get(0);
    }

    // --- compose ---

    private static JsonNode compose() {
        return readOne(COMPOSE);
    }

    private static Map<String, JsonNode> services(JsonNode compose) {
        Map<String, JsonNode> services = new LinkedHashMap<>();
        compose.path("services").fields().forEachRemaining(e -> services.put(e.getKey(), e.getValue()));
        return services;
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new TreeSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** A service's image, {@code ${VARIABLE:-default}} read as its default. */
    private static String image(JsonNode service) {
        return service.path("image").asText().replaceFirst("^\\$\\{[A-Za-z_][A-Za-z0-9_]*:-(.*)}$", "$1");
    }

    private static List<String> command(JsonNode service) {
        JsonNode command = service.path("command");
        List<String> args = new ArrayList<>();
        if (command.isArray()) {
            command.forEach(a -> args.add(a.asText()));
        } else if (command.isTextual()) {
            args.addAll(List.of(command.asText().trim().split("\\s+")));
        }
        return args;
    }

    /** The value after {@code option} (or of {@code option=value}); null without it. */
    private static String argument(List<String> command, String option) {
        for (int i = 0; i < command.size(); i++) {
            if (command.get(i).equals(option) && i + 1 < command.size()) {
                return command.get(i + 1);
            }
            if (command.get(i).startsWith(option + "=")) {
                return command.get(i).substring(option.length() + 1);
            }
        }
        return null;
    }

    /** Whether a service listens on a container port: it passes it as --http-port, publishes or exposes it. */
    private static boolean listensOn(JsonNode service, String port) {
        if (port.equals(argument(command(service), "--http-port"))) {
            return true;
        }
        for (JsonNode p : service.path("ports")) {
            String target = p.isObject() ? p.path("target").asText() : p.asText().replaceFirst("/.*$", "").replaceFirst("^.*:", "");
            if (target.equals(port)) {
                return true;
            }
        }
        for (JsonNode p : service.path("expose")) {
            if (p.asText().replaceFirst("/.*$", "").equals(port)) {
                return true;
            }
        }
        return false;
    }

    /** The host ports one {@code ports} entry publishes, as {@code port/protocol}; none for a container port alone. */
    private static List<String> publishedPorts(JsonNode entry) {
        String published;
        String protocol;
        if (entry.isObject()) {
            published = entry.path("published").asText("");
            protocol = entry.path("protocol").asText("tcp");
        } else {
            String spec = entry.asText();
            protocol = spec.contains("/") ? spec.substring(spec.indexOf('/') + 1) : "tcp";
            String[] parts = spec.replaceFirst("/.*$", "").split(":");
            published = parts.length == 1 ? "" : parts[parts.length - 2];
        }
        if (published.isEmpty()) {
            return List.of();
        }
        List<String> ports = new ArrayList<>();
        String[] range = published.split("-");
        int from = Integer.parseInt(range[0]);
        int to = range.length > 1 ? Integer.parseInt(range[1]) : from;
        for (int port = from; port <= to; port++) {
            ports.add(port + "/" + protocol);
        }
        return ports;
    }

    // --- metrics ---

    /** The Prometheus names in the first column of the meters table of docs/metrics.md. */
    private static Set<String> documentedMetrics() {
        String doc;
        try {
            doc = Files.readString(METRICS_DOC);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Set<String> names = new TreeSet<>();
        boolean inMeters = false;
        for (String line : doc.split("\n")) {
            if (line.startsWith("#")) {
                inMeters = line.matches("#+\\s+The meters\\s*") || line.startsWith("### The copy backfill's meters");
                continue;
            }
            if (inMeters && line.startsWith("|")) {
                String firstCell = line.substring(1, Math.max(1, line.indexOf('|', 1)));
                Matcher m = Pattern.compile("`(migrator_[a-z0-9_]+)`").matcher(firstCell);
                while (m.find()) {
                    names.add(m.group(1));
                }
            }
        }
        return names;
    }

    private static boolean isDocumented(String name, Set<String> documented) {
        if (documented.contains(name)) {
            return true;
        }
        for (String suffix : HISTOGRAM_SUFFIXES) {
            if (name.endsWith(suffix) && documented.contains(name.substring(0, name.length() - suffix.length()))) {
                return true;
            }
        }
        return false;
    }

    private static void addMetrics(Map<String, Set<String>> used, String where, String expression) {
        Matcher m = METRIC_NAME.matcher(expression);
        while (m.find()) {
            used.computeIfAbsent(where, k -> new TreeSet<>()).add(m.group());
        }
    }

    private static String ruleName(JsonNode rule) {
        return rule.has("alert") ? "alert " + rule.path("alert").asText() : "record " + rule.path("record").asText();
    }

    /** Every (panel, target) of a dashboard's panels, rows' nested panels included. */
    private static void walk(JsonNode panels, BiConsumer<JsonNode, JsonNode> visitor) {
        for (JsonNode panel : panels) {
            for (JsonNode target : panel.path("targets")) {
                visitor.accept(panel, target);
            }
            if (panel.path("targets").isEmpty()) {
                visitor.accept(panel, JSON.createObjectNode());
            }
            walk(panel.path("panels"), visitor);
        }
    }
}
