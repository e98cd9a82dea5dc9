package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.cdcmigrator.cli.internal.HttpEndpoints;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.transform.TransformTopology;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The Kubernetes manifests of deploy/kubernetes/ as far as they can be checked without a cluster: every kustomization
 * lists files that exist and every manifest belongs to one; every container runs the image the Jib build produces
 * (cli/pom.xml), with arguments that parse as a real migrator command; the HTTP port each stage is started with is the
 * container port, the Service's target, the probes' (/health, /ready) and the scrape annotations'; capture is a single
 * replica with the Recreate strategy; every ConfigMap and Secret referenced exists or is user-provided and documented
 * in deploy/README.md with every key; the spec the pods mount parses (with the environment they get, the variable names
 * of docker-compose.yml) and is the Keiko example's; requests, limits, non-root, writable volumes, grace period; the
 * ServiceMonitor gives the job name the alert rules use and the PrometheusRule holds the groups of alerts.yml; where
 * kubectl is installed, every kustomization builds, and so does deploy/README.md's overlay for other runbook links.
 * Each failure names the file and the object.
 */
class KubernetesManifestsTest {

    private static final Path ROOT = JibImage.ROOT;
    private static final Path K8S = ROOT.resolve("deploy/kubernetes");
    private static final Path COMPOSE = ROOT.resolve("docker-compose.yml");
    private static final Path DEPLOY_README = ROOT.resolve("deploy/README.md");
    private static final Path KEIKO_SPEC = ROOT.resolve("examples/keiko/spec.yaml");
    private static final Path ALERTS = ROOT.resolve("deploy/prometheus/alerts.yml");
    private static final Path PROMETHEUS_RULE_SCRIPT = ROOT.resolve("deploy/prometheus/prometheusrule.sh");

    private static final Set<String> STAGES = Set.of("capture", "transform", "sink");
    /** The cutover Job's steps, in order (docs/runbook.md steps 6 to 8). */
    private static final List<List<String>> CUTOVER_STEPS = List.of(
            List.of("cutover", "wait"), List.of("verify"), List.of("cutover", "sync-sequences"));
    /** The enforce Job's steps, in order (docs/runbook.md step 10). */
    private static final List<List<String>> ENFORCE_STEPS = List.of(
            List.of("cutover", "wait"), List.of("cutover", "enforce"), List.of("verify"));
    /**
     * Environment variables the process itself reads, not the spec: the JVM's (set in cli/pom.xml) and the CLI's global
     * options (Main: where and how it logs); allowed beside the compose ones.
     */
    private static final Set<String> PROCESS_VARIABLES = Set.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "MIGRATOR_LOG_FILE",
            "MIGRATOR_LOG_FORMAT");
    private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\{env:([A-Za-z_][A-Za-z0-9_]*)}");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** One document of a manifest file. */
    record Manifest(Path file, JsonNode node) {
        String kind() {
            return node.path("kind").asText();
        }

        String name() {
            return node.path("metadata").path("name").asText();
        }

        @Override
        public String toString() {
            return KubernetesManifestsTest.name(file) + ": " + kind() + " " + name();
        }
    }

    /** A container of a Deployment or Job, with the pod spec it runs in. */
    record Container(Manifest owner, JsonNode pod, JsonNode node, boolean init) {
        String name() {
            return node.path("name").asText();
        }

        List<String> args() {
            return strings(node.path("args"));
        }

        @Override
        public String toString() {
            return owner + ", " + (init ? "init container " : "container ") + name();
        }
    }

    /** A kustomization.yaml, its directory and contents. */
    record Kustomization(Path file, JsonNode node) {
        Path directory() {
            return file.getParent();
        }
    }

    // --- the kustomizations ---

    @Test
    void everyKustomizationListsFilesThatExistAndEveryManifestBelongsToOne() {
        List<Kustomization> kustomizations = kustomizations();
        assertThat(kustomizations.stream().map(k -> name(k.file()))).contains(
                "deploy/kubernetes/kustomization.yaml", "deploy/kubernetes/cutover/kustomization.yaml",
                "deploy/kubernetes/enforce/kustomization.yaml");
        List<String> failures = new ArrayList<>();
        Set<Path> used = new TreeSet<>();
        for (Kustomization k : kustomizations) {
            if (!k.node().path("kind").asText().equals("Kustomization")) {
                failures.add(name(k.file()) + ": kind is not Kustomization");
            }
            if (!k.node().path("namespace").asText().equals("cdc-migrator")) {
                failures.add(name(k.file()) + ": namespace is " + k.node().path("namespace") + ", not cdc-migrator (the"
                        + " cutover Job and the ServiceMonitor must live with the stages and their ConfigMaps)");
            }
            for (String resource : strings(k.node().path("resources"))) {
                Path file = k.directory().resolve(resource).normalize();
                if (!Files.isRegularFile(file)) {
                    failures.add(name(k.file()) + ": resource " + resource + " is not a file here (another"
                            + " kustomization as a resource would re-apply it: apply each one on its own)");
                }
                used.add(file);
            }
            for (JsonNode generator : generators(k)) {
                for (String entry : strings(generator.path("files"))) {
                    Path file = k.directory().resolve(entry.contains("=") ? entry.substring(entry.indexOf('=') + 1) : entry);
                    if (!Files.isRegularFile(file)) {
                        failures.add(name(k.file()) + ": generator " + generator.path("name").asText() + " reads "
                                + entry + ", which does not exist");
                    }
                    used.add(file.normalize());
                }
            }
        }
        for (Path file : yamlFiles()) {
            if (!file.getFileName().toString().equals("kustomization.yaml") && !used.contains(file)) {
                failures.add(name(file) + ": in no kustomization (resources or a generator's files)");
            }
        }
        assertThat(failures).as("kustomizations of %s", name(K8S)).isEmpty();
    }

    // --- images and commands ---

    @Test
    void everyContainerRunsTheJibImage() {
        JibImage image = JibImage.configured();
        List<Container> containers = containers();
        assertThat(containers).as("containers in %s", name(K8S)).hasSizeGreaterThanOrEqualTo(STAGES.size() + CUTOVER_STEPS.size());
        List<String> failures = new ArrayList<>();
        for (Container c : containers) {
            String used = c.node().path("image").asText();
            if (!used.equals(image.name())) {
                failures.add(c + ": image " + used + ", but the Jib build (cli/pom.xml) produces " + image.name());
            }
            if (c.node().has("command")) {
                failures.add(c + ": sets command, which replaces the image's entrypoint (the JVM and its flags);"
                        + " give the migrator's arguments as args");
            }
        }
        for (Kustomization k : kustomizations()) {
            for (JsonNode entry : k.node().path("images")) {
                if (!entry.path("name").asText().equals(image.repository())) {
                    failures.add(name(k.file()) + ": images names " + entry.path("name").asText() + ", which no container uses ("
                            + image.repository() + ")");
                }
            }
        }
        assertThat(failures).as("images").isEmpty();
    }

    @Test
    void everyContainerRunsAMigratorCommandThatParses() {
        List<String> failures = new ArrayList<>();
        Map<String, List<List<String>>> jobSteps = new LinkedHashMap<>();
        for (Container c : containers()) {
            List<String> args = c.args();
            ParseResult parsed;
            try {
                parsed = parse(args);
            } catch (CommandLine.ParameterException e) {
                failures.add(c + ": args " + args + " are not a migrator command line: " + e.getMessage());
                continue;
            }
            List<String> command = subcommands(parsed);
            if (command.isEmpty()) {
                failures.add(c + ": args " + args + " name no migrator subcommand");
                continue;
            }
            if (c.owner().kind().equals("Deployment")) {
                String component = c.owner().node().path("spec").path("template").path("metadata").path("labels")
                        .path("app.kubernetes.io/component").asText();
                if (!STAGES.contains(command.get(0)) || command.size() != 1) {
                    failures.add(c + ": runs `migrator " + String.join(" ", command) + "`, not one of the long-running " + STAGES);
                } else if (!command.get(0).equals(component) || !c.owner().name().endsWith("-" + component)) {
                    failures.add(c + ": runs `migrator " + command.get(0) + "` but is the " + component + " component");
                }
            } else if (c.owner().kind().equals("Job")) {
                jobSteps.computeIfAbsent(c.owner().toString(), k -> new ArrayList<>()).add(command);
            }
        }
        Set<String> stagesRun = new TreeSet<>();
        for (Container c : containers()) {
            if (c.owner().kind().equals("Deployment")) {
                stagesRun.add(c.args().isEmpty() ? "" : c.args().get(0));
            }
        }
        assertThat(stagesRun).as("stages run by the Deployments").isEqualTo(new TreeSet<>(STAGES));
        assertThat(jobSteps.values()).as("the steps of the cutover and enforce Jobs (init containers in order, then the container)")
                .containsExactlyInAnyOrder(CUTOVER_STEPS, ENFORCE_STEPS);
        assertThat(failures).as("migrator commands").isEmpty();
    }

    // --- ports, probes, Services, scraping ---

    @Test
    void portsProbesServicesAndScrapingUseTheHttpPortTheStageListensOn() {
        JibImage image = JibImage.configured();
        assertThat(image.ports()).as("ports the image exposes (cli/pom.xml)").containsExactly(HttpEndpoints.DEFAULT_PORT);
        List<String> failures = new ArrayList<>();
        List<Manifest> services = manifests("Service");
        for (Container c : containers()) {
            if (!c.owner().kind().equals("Deployment")) {
                continue;
            }
            ParseResult parsed = parse(c.args());
            int port = leaf(parsed).commandSpec().findOption("--http-port").getValue();
            String host = leaf(parsed).commandSpec().findOption("--http-host").getValue();
            if (!"0.0.0.0".equals(host)) {
                failures.add(c + ": --http-host " + host + ": the kubelet's probes and Prometheus cannot reach it; pass 0.0.0.0");
            }
            if (!image.ports().contains(port)) {
                failures.add(c + ": --http-port " + port + ", but the image exposes " + image.ports());
            }
            Map<String, Integer> named = new TreeMap<>();
            Set<Integer> containerPorts = new TreeSet<>();
            for (JsonNode p : c.node().path("ports")) {
                containerPorts.add(p.path("containerPort").asInt());
                if (p.has("name")) {
                    named.put(p.path("name").asText(), p.path("containerPort").asInt());
                }
            }
            if (!containerPorts.equals(Set.of(port))) {
                failures.add(c + ": container ports " + containerPorts + ", but the stage listens on " + port);
            }
            Map<String, String> probes = Map.of("livenessProbe", "/health", "readinessProbe", "/ready", "startupProbe", "/health");
            for (Map.Entry<String, String> probe : new TreeMap<>(probes).entrySet()) {
                JsonNode get = c.node().path(probe.getKey()).path("httpGet");
                if (get.isMissingNode()) {
                    if (!probe.getKey().equals("startupProbe")) {
                        failures.add(c + ": no " + probe.getKey() + ".httpGet on " + probe.getValue());
                    }
                    continue;
                }
                if (!get.path("path").asText().equals(probe.getValue())) {
                    failures.add(c + ": " + probe.getKey() + " asks " + get.path("path").asText() + ", not " + probe.getValue());
                }
                Integer probed = resolvePort(get.path("port"), named);
                if (probed == null || probed != port) {
                    failures.add(c + ": " + probe.getKey() + " probes port " + get.path("port").asText() + ", not " + port);
                }
            }
            JsonNode annotations = c.pod().path("metadata").path("annotations");
            if (annotations.has("prometheus.io/scrape")) {
                if (!annotations.path("prometheus.io/port").asText().equals(String.valueOf(port))
                        || !annotations.path("prometheus.io/path").asText("/metrics").equals("/metrics")
                        || !annotations.path("prometheus.io/scrape").asText().equals("true")) {
                    failures.add(c + ": prometheus.io annotations " + annotations + " do not scrape /metrics on " + port);
                }
            }
            JsonNode labels = c.pod().path("metadata").path("labels");
            List<Manifest> selecting = services.stream().filter(s -> selects(s.node().path("spec").path("selector"), labels)).toList();
            if (selecting.size() != 1) {
                failures.add(c + ": selected by " + selecting.size() + " Services, not one");
            }
            for (Manifest service : selecting) {
                for (JsonNode p : service.node().path("spec").path("ports")) {
                    JsonNode target = p.has("targetPort") ? p.path("targetPort") : p.path("port");
                    Integer resolved = resolvePort(target, named);
                    if (resolved == null || resolved != port) {
                        failures.add(service + ": port " + p.path("name").asText() + " targets " + target.asText()
                                + ", but " + c + " listens on " + port);
                    }
                }
            }
        }
        for (Manifest service : services) {
            long pods = manifests("Deployment").stream()
                    .filter(d -> selects(service.node().path("spec").path("selector"),
                            d.node().path("spec").path("template").path("metadata").path("labels")))
                    .count();
            if (pods != 1) {
                failures.add(service + ": selects the pods of " + pods + " Deployments, not one");
            }
        }
        assertThat(manifests("Service")).as("Services").hasSize(STAGES.size());
        assertThat(failures).as("ports, probes and Services").isEmpty();
    }

    @Test
    void theServiceMonitorScrapesEveryStageAsJobCdcMigrator() throws IOException {
        List<Manifest> monitors = manifests("ServiceMonitor");
        assertThat(monitors).as("ServiceMonitors").hasSize(1);
        String alerts = Files.readString(ALERTS);
        Matcher jobInAlerts = Pattern.compile("job=\"([^\"]+)\"").matcher(alerts);
        assertThat(jobInAlerts.find()).as("%s uses a job label", name(ALERTS)).isTrue();
        String job = jobInAlerts.group(1);
        List<String> failures = new ArrayList<>();
        for (Manifest monitor : monitors) {
            JsonNode spec = monitor.node().path("spec");
            String jobLabel = spec.path("jobLabel").asText("");
            Set<String> endpointPorts = new TreeSet<>();
            for (JsonNode endpoint : spec.path("endpoints")) {
                endpointPorts.add(endpoint.path("port").asText());
                if (!endpoint.path("path").asText("/metrics").equals("/metrics")) {
                    failures.add(monitor + ": scrapes " + endpoint.path("path").asText() + ", not /metrics");
                }
            }
            for (Manifest service : manifests("Service")) {
                JsonNode labels = service.node().path("metadata").path("labels");
                if (!selects(spec.path("selector"), labels)) {
                    failures.add(monitor + ": does not select " + service);
                    continue;
                }
                if (!labels.path(jobLabel).asText("").equals(job)) {
                    failures.add(monitor + ": jobLabel " + jobLabel + " is \"" + labels.path(jobLabel).asText("") + "\" on "
                            + service + ", but the alert rules (" + name(ALERTS) + ") expect job=\"" + job + "\"");
                }
                Set<String> servicePorts = new TreeSet<>();
                service.node().path("spec").path("ports").forEach(p -> servicePorts.add(p.path("name").asText()));
                if (!servicePorts.containsAll(endpointPorts)) {
                    failures.add(monitor + ": scrapes ports " + endpointPorts + ", " + service + " has " + servicePorts);
                }
            }
        }
        assertThat(failures).as("ServiceMonitor").isEmpty();
    }

    @Test
    void thePrometheusRuleHoldsTheAlertRules() {
        List<Manifest> rules = manifests("PrometheusRule");
        assertThat(rules).as("PrometheusRules").hasSize(1);
        // DeploymentFilesTest checks the rules of alerts.yml (documented metrics, for, severity, an absolute
        // runbook_url with an anchor of docs/runbook.md): with the same groups, all of it holds here too.
        assertThat(rules.get(0).node().path("spec").path("groups"))
                .as("%s: spec.groups must be the groups of %s; regenerate it with %s", rules.get(0), name(ALERTS),
                        name(PROMETHEUS_RULE_SCRIPT))
                .isEqualTo(readOne(ALERTS).path("groups"));
    }

    // --- replicas ---

    @Test
    void captureIsOneReaderOfTheSlotTransformAndSinkScaleUpToThePartitions() {
        List<String> failures = new ArrayList<>();
        int partitions = parsedSpec().kafka().partitions();
        for (Manifest deployment : manifests("Deployment")) {
            JsonNode spec = deployment.node().path("spec");
            String component = spec.path("template").path("metadata").path("labels").path("app.kubernetes.io/component").asText();
            int replicas = spec.path("replicas").asInt(1);
            if (component.equals("capture")) {
                if (replicas != 1) {
                    failures.add(deployment + ": " + replicas + " replicas; a replication slot admits one reader: 1");
                }
                if (!spec.path("strategy").path("type").asText().equals("Recreate")) {
                    failures.add(deployment + ": strategy " + spec.path("strategy").path("type").asText("RollingUpdate (the default)")
                            + " would start the new pod while the old one still reads the slot: Recreate");
                }
            } else if (replicas < 1 || replicas > partitions) {
                failures.add(deployment + ": " + replicas + " replicas; more than the " + partitions
                        + " partitions of the spec's topics would idle");
            }
        }
        for (Manifest autoscaler : manifests("HorizontalPodAutoscaler")) {
            if (autoscaler.node().path("spec").path("scaleTargetRef").path("name").asText().endsWith("-capture")) {
                failures.add(autoscaler + ": scales capture, which must stay at one replica");
            }
        }
        assertThat(failures).as("replicas").isEmpty();
    }

    // --- ConfigMaps, Secrets, environment, spec ---

    @Test
    void everyConfigMapAndSecretReferencedExistsOrIsUserProvidedAndDocumented() throws IOException {
        Map<String, Set<String>> configMaps = definedConfigMaps();
        Map<String, Set<String>> secrets = definedSecrets();
        Map<String, Set<String>> userSecrets = new TreeMap<>(); // secret -> keys referenced
        List<String> failures = new ArrayList<>();
        for (Container c : containers()) {
            for (Reference r : references(c)) {
                Map<String, Set<String>> defined = r.secret() ? secrets : configMaps;
                String what = (r.secret() ? "Secret " : "ConfigMap ") + r.name();
                if (!defined.containsKey(r.name())) {
                    if (r.secret()) {
                        Set<String> keys = userSecrets.computeIfAbsent(r.name(), k -> new TreeSet<>());
                        if (r.key() != null) {
                            keys.add(r.key());
                        }
                    } else {
                        failures.add(c + ": uses " + what + ", which no manifest or configMapGenerator defines");
                    }
                } else if (r.key() != null && !defined.get(r.name()).contains(r.key())) {
                    failures.add(c + ": uses key " + r.key() + " of " + what + ", which has " + defined.get(r.name()));
                }
            }
        }
        String readme = Files.readString(DEPLOY_README);
        for (Map.Entry<String, Set<String>> secret : userSecrets.entrySet()) {
            Matcher command = Pattern.compile("create secret generic " + Pattern.quote(secret.getKey()) + "((?:\\\\\\n|[^\\n])*)")
                    .matcher(readme);
            if (!command.find()) {
                failures.add("Secret " + secret.getKey() + " is user-provided, but " + name(DEPLOY_README)
                        + " has no `kubectl create secret generic " + secret.getKey() + " ...` for it");
                continue;
            }
            for (String key : secret.getValue()) {
                if (!command.group(1).matches("(?s).*--from-(literal|file)=" + Pattern.quote(key) + "=.*")) {
                    failures.add("Secret " + secret.getKey() + ": " + name(DEPLOY_README) + " creates it without the key "
                            + key + " the pods read (--from-literal=" + key + "=...)");
                }
            }
        }
        assertThat(userSecrets).as("user-provided Secrets").containsKey("cdc-migrator-db");
        assertThat(failures).as("ConfigMaps and Secrets").isEmpty();
    }

    @Test
    void everyPodGetsTheEnvironmentItsSpecReadsUnderTheNamesOfDockerCompose() {
        Set<String> composeNames = new TreeSet<>();
        readOne(COMPOSE).path("services").path("migrator").path("environment").fieldNames().forEachRemaining(composeNames::add);
        assertThat(composeNames).as("environment of the migrator service in %s", name(COMPOSE)).isNotEmpty();
        List<String> failures = new ArrayList<>();
        Map<String, String> validated = new LinkedHashMap<>(); // spec text and environment -> problem ("" for none)
        for (Container c : containers()) {
            Map<String, String> env = environment(c);
            for (String variable : env.keySet()) {
                if (!composeNames.contains(variable) && !PROCESS_VARIABLES.contains(variable)) {
                    failures.add(c + ": sets " + variable + ", which the migrator service of " + name(COMPOSE)
                            + " does not: use the same names " + composeNames);
                }
            }
            MountedSpec mounted = mountedSpec(c);
            if (mounted.failure() != null) {
                failures.add(c + ": " + mounted.failure());
                continue;
            }
            Matcher m = ENV_REFERENCE.matcher(mounted.text());
            while (m.find()) {
                if (!env.containsKey(m.group(1))) {
                    failures.add(c + ": the spec it mounts reads ${env:" + m.group(1) + "}, which the container does not set");
                }
            }
            String problem = validated.computeIfAbsent(mounted.text() + "\u0000" + env, k -> {
                try {
                    Spec spec = new SpecParser(env::get).parse(mounted.text(), mounted.where());
                    TransformTopology.validate(spec);
                    return spec.kafka().embedded()
                            ? "the spec says kafka.bootstrap: embedded; separate stages need a Kafka cluster they share" : "";
                } catch (RuntimeException e) {
                    return "the spec it mounts does not parse with its environment: " + e.getMessage();
                }
            });
            if (!problem.isEmpty()) {
                failures.add(c + ": " + problem);
            }
        }
        assertThat(failures).as("environment and spec").isEmpty();
    }

    @Test
    void theSpecIsTheKeikoExample() {
        List<Path> specs = new ArrayList<>();
        for (Kustomization k : kustomizations()) {
            for (JsonNode generator : k.node().path("configMapGenerator")) {
                for (String entry : strings(generator.path("files"))) {
                    specs.add(k.directory().resolve(entry.contains("=") ? entry.substring(entry.indexOf('=') + 1) : entry));
                }
            }
        }
        assertThat(specs.stream().map(KubernetesManifestsTest::name)).containsExactly("deploy/kubernetes/spec.yaml");
        assertThat(readOne(specs.get(0)))
                .as("%s (comments aside) must stay the Keiko example %s: copy it over after changing the example",
                        name(specs.get(0)), name(KEIKO_SPEC))
                .isEqualTo(readOne(KEIKO_SPEC));
    }

    // --- resources, security, volumes ---

    @Test
    void everyContainerHasRequestsAndLimitsRunsAsNonRootAndWritesOnlyToVolumes() {
        JibImage image = JibImage.configured();
        List<String> failures = new ArrayList<>();
        for (Container c : containers()) {
            JsonNode resources = c.node().path("resources");
            for (String kind : List.of("requests", "limits")) {
                for (String resource : List.of("cpu", "memory")) {
                    if (resources.path(kind).path(resource).asText("").isEmpty()) {
                        failures.add(c + ": no resources." + kind + "." + resource);
                    }
                }
            }
            long requested = bytes(resources.path("requests").path("memory").asText("0"));
            long limit = bytes(resources.path("limits").path("memory").asText("0"));
            if (limit < requested) {
                failures.add(c + ": memory limit " + limit + " below its request " + requested);
            }
            JsonNode podSecurity = c.pod().path("spec").path("securityContext");
            JsonNode security = c.node().path("securityContext");
            if (!podSecurity.path("runAsNonRoot").asBoolean(false) && !security.path("runAsNonRoot").asBoolean(false)) {
                failures.add(c + ": runAsNonRoot is not set");
            }
            int uid = security.path("runAsUser").asInt(podSecurity.path("runAsUser").asInt(image.uid()));
            if (uid == 0 || uid != image.uid()) {
                failures.add(c + ": runs as uid " + uid + ", not the image's user " + image.user());
            }
            if (security.path("allowPrivilegeEscalation").asBoolean(true)) {
                failures.add(c + ": allowPrivilegeEscalation is not false");
            }
            Set<String> mounts = new TreeSet<>();
            Set<String> readOnly = new TreeSet<>();
            for (JsonNode mount : c.node().path("volumeMounts")) {
                mounts.add(mount.path("mountPath").asText());
                if (mount.path("readOnly").asBoolean(false)) {
                    readOnly.add(mount.path("mountPath").asText());
                }
            }
            if (security.path("readOnlyRootFilesystem").asBoolean(false)) {
                List<String> writable = new ArrayList<>(List.of("/tmp"));
                // The stages write their --data-dir; the operator commands only read theirs, for an embedded broker.
                CommandLine.Model.CommandSpec command = leaf(parse(c.args())).commandSpec();
                CommandLine.Model.OptionSpec dataDir = command.findOption("--data-dir");
                if (dataDir != null && command.userObject() instanceof RunCommand) {
                    writable.add(dataDir.getValue().toString());
                }
                for (String path : writable) {
                    if (!mounts.contains(path) || readOnly.contains(path)) {
                        failures.add(c + ": the root file system is read-only and " + path + " is no writable volume");
                    }
                }
            }
            if (c.owner().kind().equals("Deployment")) {
                CommandLine.Model.OptionSpec stopTimeout = leaf(parse(c.args())).commandSpec().findOption("--stop-timeout");
                Duration stop = stopTimeout.getValue();
                long grace = c.pod().path("spec").path("terminationGracePeriodSeconds").asLong(30);
                if (grace <= stop.toSeconds()) {
                    failures.add(c + ": terminationGracePeriodSeconds " + grace + " does not exceed --stop-timeout " + stop
                            + ": the kubelet would kill the stage before it committed");
                }
            }
        }
        assertThat(failures).as("resources, security and volumes").isEmpty();
    }

    // --- kustomize itself, where it is installed ---

    @Test
    void kustomizeBuildsEveryKustomization() throws Exception {
        assumeTrue(onPath("kubectl"), "kubectl is not installed: `kubectl kustomize` not run (the checks above still hold)");
        List<String> failures = new ArrayList<>();
        for (Kustomization k : kustomizations()) {
            String output = kustomize(k.directory(), name(k.file()), failures);
            if (output != null && !output.contains("namespace: cdc-migrator")) {
                failures.add(name(k.file()) + ": kubectl kustomize puts nothing in the namespace cdc-migrator");
            }
        }
        assertThat(failures).as("kubectl kustomize").isEmpty();
    }

    @Test
    void theOverlayOfTheReadmeMovesEveryRunbookLinkToAnotherBase(@TempDir Path overlay) throws Exception {
        assumeTrue(onPath("kubectl"), "kubectl is not installed: the runbook overlay of deploy/README.md not built");
        String readme = Files.readString(DEPLOY_README);
        String kustomization = readmeBlock(readme, "my-alerts/kustomization.yaml");
        String runbook = readmeBlock(readme, "my-alerts/runbook.yaml");
        String base = YAML.readTree(runbook).path("data").path("base").asText();
        assertThat(base).as("data.base of my-alerts/runbook.yaml in %s", name(DEPLOY_README)).startsWith("https://");
        // The README's overlay sits at the repository root; this copy reaches the same base from the temporary directory.
        String relative = overlay.relativize(K8S.resolve("prometheus-operator")).toString().replace('\\', '/');
        assertThat(kustomization).contains("- ../deploy/kubernetes/prometheus-operator");
        Files.writeString(overlay.resolve("kustomization.yaml"), kustomization.replace("../deploy/kubernetes/prometheus-operator", relative));
        Files.writeString(overlay.resolve("runbook.yaml"), runbook);
        List<String> failures = new ArrayList<>();
        String output = kustomize(overlay, "the overlay my-alerts of " + name(DEPLOY_README), failures);
        assertThat(failures).as("kubectl kustomize").isEmpty();

        List<JsonNode> built = new ArrayList<>();
        YAML.readerFor(JsonNode.class).<JsonNode>readValues(output).forEachRemaining(built::add);
        assertThat(built.stream().map(d -> d.path("kind").asText())).as("kinds the overlay applies (runbook.yaml is local-config)")
                .containsExactlyInAnyOrder("ServiceMonitor", "PrometheusRule");
        JsonNode rule = built.stream().filter(d -> d.path("kind").asText().equals("PrometheusRule")).findFirst().orElseThrow();
        assertThat(runbookUrls(rule.path("spec").path("groups"))).as("runbook_url of each alert, built by the overlay")
                .isEqualTo(runbookUrls(readOne(ALERTS).path("groups")).entrySet().stream().collect(Collectors.toMap(
                        Map.Entry::getKey, e -> base + e.getValue().substring(e.getValue().indexOf('#')))));
    }

    /** Alert name -> its runbook_url. */
    private static Map<String, String> runbookUrls(JsonNode groups) {
        Map<String, String> urls = new TreeMap<>();
        for (JsonNode group : groups) {
            for (JsonNode rule : group.path("rules")) {
                if (rule.has("alert")) {
                    urls.put(rule.path("alert").asText(), rule.path("annotations").path("runbook_url").asText());
                }
            }
        }
        return urls;
    }

    /** The YAML block that follows the first mention of {@code `file`} in the README, without its list indentation. */
    private static String readmeBlock(String readme, String file) {
        Matcher m = Pattern.compile("`" + Pattern.quote(file) + "`(?:(?!```).)*?\\n( *)```yaml\\n(.*?)\\n\\1```", Pattern.DOTALL)
                .matcher(readme);
        assertThat(m.find()).as("%s shows %s in a ```yaml block", name(DEPLOY_README), file).isTrue();
        return m.group(2).replaceAll("(?m)^" + m.group(1), "") + "\n";
    }

    /** {@code kubectl kustomize DIRECTORY}: what it prints, or null after adding why it failed to failures. */
    private static String kustomize(Path directory, String what, List<String> failures) throws IOException, InterruptedException {
        Path errors = Files.createTempFile("kustomize", ".err");
        try {
            Process process = new ProcessBuilder("kubectl", "kustomize", directory.toString()).redirectError(errors.toFile()).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                failures.add(what + ": kubectl kustomize fails: " + Files.readString(errors) + output);
                return null;
            }
            return output;
        } finally {
            Files.deleteIfExists(errors);
        }
    }

    // --- reading the files ---

    private static String name(Path file) {
        return ROOT.relativize(file.toAbsolutePath().normalize()).toString().replace('\\', '/');
    }

    private static List<Path> yamlFiles() {
        try (Stream<Path> walk = Files.walk(K8S)) {
            return walk.filter(Files::isRegularFile).filter(p -> p.toString().matches("(?i).*\\.ya?ml$"))
                    .map(Path::normalize).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<JsonNode> read(Path file) {
        List<JsonNode> documents = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNextValue()) {
                JsonNode document = it.nextValue();
                if (document != null && !document.isNull() && !document.isMissingNode()) {
                    documents.add(document);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(name(file) + " does not parse: " + e.getMessage(), e);
        }
        return documents;
    }

    private static JsonNode readOne(Path file) {
        List<JsonNode> documents = read(file);
        assertThat(documents).as("documents of %s", name(file)).hasSize(1);
        return documents.get(0);
    }

    /** Read once: the files do not change while the tests run. */
    private static List<Kustomization> kustomizations;
    private static List<Manifest> manifests;

    private static synchronized List<Kustomization> kustomizations() {
        if (kustomizations == null) {
            kustomizations = yamlFiles().stream().filter(p -> p.getFileName().toString().equals("kustomization.yaml"))
                    .map(p -> new Kustomization(p, readOne(p))).toList();
        }
        return kustomizations;
    }

    private static List<JsonNode> generators(Kustomization k) {
        List<JsonNode> generators = new ArrayList<>();
        k.node().path("configMapGenerator").forEach(generators::add);
        k.node().path("secretGenerator").forEach(generators::add);
        return generators;
    }

    /** Every document of every file some kustomization lists as a resource. */
    private static synchronized List<Manifest> manifests() {
        if (manifests == null) {
            List<Manifest> all = new ArrayList<>();
            for (Kustomization k : kustomizations()) {
                for (String resource : strings(k.node().path("resources"))) {
                    Path file = k.directory().resolve(resource).normalize();
                    if (Files.isRegularFile(file)) {
                        read(file).forEach(d -> all.add(new Manifest(file, d)));
                    }
                }
            }
            manifests = List.copyOf(all);
        }
        return manifests;
    }

    private static List<Manifest> manifests(String kind) {
        return manifests().stream().filter(m -> m.kind().equals(kind)).toList();
    }

    /** The pod spec of a Deployment, StatefulSet, DaemonSet or Job; of a CronJob's job template. */
    private static JsonNode podTemplate(Manifest m) {
        JsonNode spec = m.node().path("spec");
        if (m.kind().equals("CronJob")) {
            spec = spec.path("jobTemplate").path("spec");
        }
        return spec.path("template");
    }

    private static List<Container> containers() {
        List<Container> containers = new ArrayList<>();
        for (Manifest m : manifests()) {
            JsonNode pod = podTemplate(m);
            if (pod.isMissingNode()) {
                continue;
            }
            pod.path("spec").path("initContainers").forEach(c -> containers.add(new Container(m, pod, c, true)));
            pod.path("spec").path("containers").forEach(c -> containers.add(new Container(m, pod, c, false)));
        }
        return containers;
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }

    // --- ConfigMaps and Secrets ---

    /** A ConfigMap or Secret a container uses; key null for the whole of it. */
    record Reference(boolean secret, String name, String key) {
    }

    private static List<Reference> references(Container c) {
        List<Reference> references = new ArrayList<>();
        for (JsonNode from : c.node().path("envFrom")) {
            if (from.has("configMapRef")) {
                references.add(new Reference(false, from.path("configMapRef").path("name").asText(), null));
            }
            if (from.has("secretRef")) {
                references.add(new Reference(true, from.path("secretRef").path("name").asText(), null));
            }
        }
        for (JsonNode variable : c.node().path("env")) {
            JsonNode from = variable.path("valueFrom");
            if (from.has("configMapKeyRef")) {
                references.add(new Reference(false, from.path("configMapKeyRef").path("name").asText(),
                        from.path("configMapKeyRef").path("key").asText()));
            }
            if (from.has("secretKeyRef")) {
                references.add(new Reference(true, from.path("secretKeyRef").path("name").asText(),
                        from.path("secretKeyRef").path("key").asText()));
            }
        }
        Set<String> mounted = new TreeSet<>();
        c.node().path("volumeMounts").forEach(v -> mounted.add(v.path("name").asText()));
        for (JsonNode volume : c.pod().path("spec").path("volumes")) {
            if (!mounted.contains(volume.path("name").asText())) {
                continue;
            }
            if (volume.has("configMap")) {
                references.add(new Reference(false, volume.path("configMap").path("name").asText(), null));
                for (JsonNode item : volume.path("configMap").path("items")) {
                    references.add(new Reference(false, volume.path("configMap").path("name").asText(), item.path("key").asText()));
                }
            }
            if (volume.has("secret")) {
                references.add(new Reference(true, volume.path("secret").path("secretName").asText(), null));
            }
            for (JsonNode source : volume.path("projected").path("sources")) {
                if (source.has("configMap")) {
                    references.add(new Reference(false, source.path("configMap").path("name").asText(), null));
                }
                if (source.has("secret")) {
                    references.add(new Reference(true, source.path("secret").path("name").asText(), null));
                }
            }
        }
        return references;
    }

    /** ConfigMap name -> keys, from ConfigMap manifests and every configMapGenerator. */
    private static Map<String, Set<String>> definedConfigMaps() {
        return defined("ConfigMap", "configMapGenerator");
    }

    private static Map<String, Set<String>> definedSecrets() {
        return defined("Secret", "secretGenerator");
    }

    private static Map<String, Set<String>> defined(String kind, String generatorField) {
        Map<String, Set<String>> defined = new TreeMap<>();
        for (Manifest m : manifests(kind)) {
            Set<String> keys = defined.computeIfAbsent(m.name(), k -> new TreeSet<>());
            m.node().path("data").fieldNames().forEachRemaining(keys::add);
            m.node().path("stringData").fieldNames().forEachRemaining(keys::add);
        }
        for (Kustomization k : kustomizations()) {
            for (JsonNode generator : k.node().path(generatorField)) {
                defined.computeIfAbsent(generator.path("name").asText(), n -> new TreeSet<>()).addAll(generatorData(k, generator).keySet());
            }
        }
        return defined;
    }

    /** What a generator puts in its ConfigMap or Secret: key -> value (file contents for files). */
    private static Map<String, String> generatorData(Kustomization k, JsonNode generator) {
        Map<String, String> data = new LinkedHashMap<>();
        for (String literal : strings(generator.path("literals"))) {
            int eq = literal.indexOf('=');
            data.put(literal.substring(0, eq), literal.substring(eq + 1));
        }
        for (String entry : strings(generator.path("files"))) {
            String key = entry.contains("=") ? entry.substring(0, entry.indexOf('=')) : Path.of(entry).getFileName().toString();
            Path file = k.directory().resolve(entry.contains("=") ? entry.substring(entry.indexOf('=') + 1) : entry);
            try {
                data.put(key, Files.readString(file));
            } catch (IOException e) {
                data.put(key, "");
            }
        }
        return data;
    }

    /** The generated ConfigMap of that name: key -> value. */
    private static Map<String, String> configMapData(String name) {
        for (Kustomization k : kustomizations()) {
            for (JsonNode generator : k.node().path("configMapGenerator")) {
                if (generator.path("name").asText().equals(name)) {
                    return generatorData(k, generator);
                }
            }
        }
        for (Manifest m : manifests("ConfigMap")) {
            if (m.name().equals(name)) {
                Map<String, String> data = new LinkedHashMap<>();
                m.node().path("data").properties().forEach(e -> data.put(e.getKey(), e.getValue().asText()));
                return data;
            }
        }
        return Map.of();
    }

    /** The container's environment: envFrom ConfigMaps' keys and values, then env (Secrets as a placeholder). */
    private static Map<String, String> environment(Container c) {
        Map<String, String> env = new TreeMap<>();
        for (JsonNode from : c.node().path("envFrom")) {
            if (from.has("configMapRef")) {
                env.putAll(configMapData(from.path("configMapRef").path("name").asText()));
            }
        }
        for (JsonNode variable : c.node().path("env")) {
            JsonNode from = variable.path("valueFrom");
            String value;
            if (from.has("configMapKeyRef")) {
                value = configMapData(from.path("configMapKeyRef").path("name").asText())
                        .getOrDefault(from.path("configMapKeyRef").path("key").asText(), "");
            } else if (from.has("secretKeyRef")) {
                value = "secret-from-" + from.path("secretKeyRef").path("name").asText();
            } else {
                value = variable.path("value").asText("");
            }
            env.put(variable.path("name").asText(), value);
        }
        return env;
    }

    /** The spec file a container's --spec names, from the ConfigMap volume mounted there. */
    record MountedSpec(String text, String where, String failure) {
    }

    private static MountedSpec mountedSpec(Container c) {
        CommandLine.Model.OptionSpec option = leaf(parse(c.args())).commandSpec().findOption("--spec");
        if (option == null || option.getValue() == null) {
            return new MountedSpec(null, null, "no --spec");
        }
        String spec = option.getValue().toString();
        for (JsonNode mount : c.node().path("volumeMounts")) {
            String path = mount.path("mountPath").asText();
            if (!spec.startsWith(path + "/")) {
                continue;
            }
            String key = mount.has("subPath") ? mount.path("subPath").asText() : spec.substring(path.length() + 1);
            for (JsonNode volume : c.pod().path("spec").path("volumes")) {
                if (volume.path("name").asText().equals(mount.path("name").asText()) && volume.has("configMap")) {
                    String configMap = volume.path("configMap").path("name").asText();
                    String text = configMapData(configMap).get(key);
                    return text == null
                            ? new MountedSpec(null, null, "--spec " + spec + ": ConfigMap " + configMap + " has no key " + key)
                            : new MountedSpec(text, "ConfigMap " + configMap + " key " + key, null);
                }
            }
        }
        return new MountedSpec(null, null, "--spec " + spec + " is not in a ConfigMap volume the container mounts");
    }

    private static Spec parsedSpec() {
        for (Container c : containers()) {
            if (c.owner().kind().equals("Deployment")) {
                MountedSpec mounted = mountedSpec(c);
                Map<String, String> env = environment(c);
                return new SpecParser(env::get).parse(mounted.text(), mounted.where());
            }
        }
        throw new AssertionError("no Deployment in " + name(K8S));
    }

    // --- the command line ---

    private static ParseResult parse(List<String> args) {
        return new CommandLine(new Main()).parseArgs(args.toArray(String[]::new));
    }

    private static ParseResult leaf(ParseResult result) {
        ParseResult leaf = result;
        while (leaf.hasSubcommand()) {
            leaf = leaf.subcommand();
        }
        return leaf;
    }

    private static List<String> subcommands(ParseResult result) {
        List<String> names = new ArrayList<>();
        for (ParseResult r = result; r.hasSubcommand(); r = r.subcommand()) {
            names.add(r.subcommand().commandSpec().name());
        }
        return names;
    }

    // --- small things ---

    private static boolean selects(JsonNode selector, JsonNode labels) {
        JsonNode matchLabels = selector.has("matchLabels") ? selector.path("matchLabels") : selector;
        if (matchLabels.isEmpty()) {
            return false;
        }
        Set<String> keys = new LinkedHashSet<>();
        matchLabels.fieldNames().forEachRemaining(keys::add);
        return keys.stream().allMatch(k -> labels.path(k).asText("\u0000").equals(matchLabels.path(k).asText()));
    }

    private static Integer resolvePort(JsonNode port, Map<String, Integer> named) {
        if (port.isInt() || port.asText().matches("\\d+")) {
            return Integer.parseInt(port.asText());
        }
        return named.get(port.asText());
    }

    /** A Kubernetes quantity of memory in bytes (Ki, Mi, Gi, Ti; k, M, G, T; plain). */
    private static long bytes(String quantity) {
        Matcher m = Pattern.compile("(\\d+)([KMGT]i?|k)?").matcher(quantity);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a memory quantity: " + quantity);
        }
        long value = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2);
        return switch (unit) {
            case "Ki" -> value << 10;
            case "Mi" -> value << 20;
            case "Gi" -> value << 30;
            case "Ti" -> value << 40;
            case "k", "K" -> value * 1_000L;
            case "M" -> value * 1_000_000L;
            case "G" -> value * 1_000_000_000L;
            case "T" -> value * 1_000_000_000_000L;
            default -> value;
        };
    }

    private static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }
}
