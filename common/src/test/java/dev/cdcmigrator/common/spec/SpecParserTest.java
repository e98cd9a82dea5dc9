package dev.cdcmigrator.common.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpecParserTest {

    private static final String VALID = """
            version: 1
            source: { url: "jdbc:postgresql://db1:5433/keiko", user: migrator, password: "${env:V1_PASSWORD}" }
            target: { url: "jdbc:postgresql://db2/keiko_v2", user: migrator, schema: app }
            kafka: { bootstrap: "k1:9092,k2:9092", topicPrefix: keiko, partitions: 6 }
            tables:
              users:
                into: accounts
                columns:
                  id: { from: id }
                  display_name: { from: name }
            """;

    private final SpecParser parser = new SpecParser(name -> Map.of("V1_PASSWORD", "s3cret").get(name));

    @Test
    void readsAValidSpecWithDefaultsAndResolvedReferences() {
        Spec spec = parser.parse(VALID, "spec.yaml");

        assertThat(spec.source().jdbcUrl()).isEqualTo(new JdbcUrl("db1", 5433, "keiko", java.util.Map.of()));
        assertThat(spec.source().password()).isEqualTo("s3cret");
        assertThat(spec.source().schema()).isEqualTo("public");
        assertThat(spec.target().jdbcUrl()).isEqualTo(new JdbcUrl("db2", 5432, "keiko_v2", java.util.Map.of()));
        assertThat(spec.target().schema()).isEqualTo("app");
        assertThat(spec.target().stateSchema()).isEqualTo("migrator_state");
        assertThat(spec.kafka().embedded()).isFalse();
        assertThat(spec.kafka().partitions()).isEqualTo(6);
        MappingSpec users = spec.tables().get("users").mappings().get(0);
        assertThat(spec.tables().get("users").mappings()).hasSize(1);
        assertThat(users.v2Table("users")).isEqualTo("accounts");
        assertThat(users.columns().keySet()).containsExactly("id", "display_name");
        assertThat(users.columns().get("display_name").from()).isEqualTo("name");
        assertThat(users.explicitKey()).isEmpty();
    }

    @Test
    void kafkaDefaultsToTheEmbeddedBroker() {
        Spec spec = parser.parse(VALID.replace("kafka: { bootstrap: \"k1:9092,k2:9092\", topicPrefix: keiko, partitions: 6 }\n", ""), "spec.yaml");

        assertThat(spec.kafka().embedded()).isTrue();
        assertThat(spec.kafka().topicPrefix()).isEqualTo("migrator");
        assertThat(spec.kafka().partitions()).isEqualTo(3);
    }

    @Test
    void readsTheSlotLimitAsASizeWithAUnit() {
        String withLimit = VALID.replace("password: \"${env:V1_PASSWORD}\" }",
                "password: \"${env:V1_PASSWORD}\", slot: { maxRetainedWal: %s } }");

        assertThat(parser.parse(VALID, "spec.yaml").source().slot().maxRetainedWal()).isNull();
        assertThat(parser.parse(withLimit.formatted("50GB"), "spec.yaml").source().slot().maxRetainedWal())
                .isEqualTo(new ByteSize(50L << 30)).hasToString("50GB");
        assertThat(parser.parse(withLimit.formatted("\"512 mb\""), "spec.yaml").source().slot().maxRetainedWal())
                .isEqualTo(new ByteSize(512L << 20));
        assertThat(ByteSize.parse("1536kB")).hasToString("1536kB");
        assertThatThrownBy(() -> parser.parse(withLimit.formatted("50G"), "spec.yaml"))
                .hasMessage("spec.yaml: source.slot.maxRetainedWal: expected a size such as 50GB (a whole number and B,"
                        + " kB, MB, GB or TB; 1024-based), got '50G'");
        assertThatThrownBy(() -> parser.parse(withLimit.formatted("1000"), "spec.yaml"))
                .hasMessageStartingWith("spec.yaml: source.slot.maxRetainedWal: expected a size such as 50GB");
        assertThatThrownBy(() -> parser.parse(withLimit.formatted("0MB"), "spec.yaml"))
                .hasMessage("spec.yaml: source.slot.maxRetainedWal: a size must be at least 1B, was 0 bytes");
        assertThatThrownBy(() -> parser.parse(withLimit.formatted("50GB, maxRetained: 1GB"), "spec.yaml"))
                .hasMessageStartingWith("spec.yaml: source.slot.maxRetained: unknown key 'maxRetained'");
    }

    @Test
    void readsFileReferences(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("pw"), "from-file\n");
        Path specFile = Files.writeString(dir.resolve("spec.yaml"), VALID.replace("${env:V1_PASSWORD}", "${file:" + secret + "}"));

        assertThat(parser.parse(specFile).source().password()).isEqualTo("from-file");
    }

    @Test
    void unknownKeyIsAnErrorNamingThePathAndTheExpectedKeys() {
        String yaml = VALID.replace("display_name: { from: name }", "display_name: { frm: name }");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: tables.users.columns.display_name.frm: unknown key 'frm'"
                        + " (expected one of: default, expr, from, java, map, nonDeterministic, otherwise, value)");
    }

    @Test
    void duplicateKeyIsAnErrorNamingThePath() {
        String yaml = VALID.replace("      display_name: { from: name }", "      display_name: { from: name }\n      display_name: { from: id }");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessageContaining("spec.yaml: tables.users.columns.display_name: ")
                .hasMessageContaining("Duplicate field 'display_name'");
    }

    @Test
    void wrongTypeIsAnErrorNamingThePath() {
        String yaml = VALID.replace("partitions: 6", "partitions: many");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: kafka.partitions: expected a whole number, got 'many'");
    }

    @Test
    void appendIsABooleanAndNothingElse() {
        String yaml = VALID.replace("      display_name: { from: name }", "      display_name: { from: name }\n    append: %s");

        assertThat(parser.parse(yaml.formatted("true"), "spec.yaml").tables().get("users").appendOnly()).isTrue();
        assertThat(parser.parse(VALID, "spec.yaml").tables().get("users").appendOnly()).isFalse();
        for (String notABoolean : List.of("\"true\"", "1", "[true]")) {
            assertThatThrownBy(() -> parser.parse(yaml.formatted(notABoolean), "spec.yaml"))
                    .as(notABoolean)
                    .isInstanceOf(SpecException.class)
                    .hasMessageStartingWith("spec.yaml: tables.users.append: ");
        }
    }

    @Test
    void aSourceUrlNamingSeveralHostsIsRefused() {
        String yaml = VALID.replace("jdbc:postgresql://db1:5433/keiko", "jdbc:postgresql://db1:5433,db2:5433/keiko");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessageContaining("spec.yaml: source")
                .hasMessageContaining("url names several hosts, but capture streams from one server");
    }

    @Test
    void invalidValueIsAnErrorNamingThePathAndWhatIsExpected() {
        String tooLong = "ä".repeat(32);
        String yaml = VALID.replace("from: name", "from: \"" + tooLong + "\"");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: tables.users.columns.display_name: '" + tooLong + "' is not valid as a v1 column"
                        + " name: it is 64 bytes long in UTF-8 (PostgreSQL takes any name of 1 to 63 bytes in UTF-8"
                        + " without NUL)");
        assertThatThrownBy(() -> parser.parse(VALID.replace("from: name", "from: \"\""), "spec.yaml"))
                .hasMessageContaining("tables.users.columns.display_name: '' is not valid as a v1 column name: it is empty");
    }

    @Test
    void takesEveryNamePostgresqlTakes() {
        String yaml = """
                version: 1
                source: { url: "jdbc:postgresql://db1/app", user: migrator, schema: "Old Schema" }
                target: { url: "jdbc:postgresql://db2/app", user: migrator, schema: "New Schema",
                          triggers: ["Order Lines.audit trigger"] }
                tables:
                  "Order Lines":
                    into: 'x"; DROP TABLE y; --'
                    columns:
                      "select": { from: "select" }
                      "Größe": { from: 'a"b' }
                      "%s": { from: "with.dot, and comma" }
                """.formatted("n".repeat(63));

        Spec spec = parser.parse(yaml, "spec.yaml");

        assertThat(spec.source().schema()).isEqualTo("Old Schema");
        assertThat(spec.target().schema()).isEqualTo("New Schema");
        MappingSpec lines = spec.tables().get("Order Lines").mappings().get(0);
        assertThat(lines.v2Table("Order Lines")).isEqualTo("x\"; DROP TABLE y; --");
        assertThat(lines.columns().keySet()).containsExactly("select", "Größe", "n".repeat(63));
        assertThat(lines.columns().get("Größe").from()).isEqualTo("a\"b");
    }

    @Test
    void keyMustNameMappedColumns() {
        String yaml = VALID.replace("into: accounts", "into: accounts\n    key: [uid]");

        assertThatThrownBy(() -> parser.parse(yaml, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: tables.users: key column 'uid' is not one of the mapped or dimension columns [id, display_name]");
    }

    @Test
    void missingEnvironmentVariableIsAnErrorNamingThePath() {
        SpecParser noEnv = new SpecParser(name -> null);

        assertThatThrownBy(() -> noEnv.parse(VALID, "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: source.password: environment variable V1_PASSWORD is not set");
    }

    @Test
    void missingSectionsAndBadUrlsAreErrors() {
        assertThatThrownBy(() -> parser.parse("version: 1\n", "s.yaml"))
                .isInstanceOf(SpecException.class).hasMessage("s.yaml: source is required");
        assertThatThrownBy(() -> parser.parse(VALID.replace("jdbc:postgresql://db2/keiko_v2", "postgres://db2"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessageStartingWith("s.yaml: target: url must look like jdbc:postgresql://host:port/database");
        assertThatThrownBy(() -> parser.parse(VALID.replace("version: 1", "version: 2"), "s.yaml"))
                .isInstanceOf(SpecException.class).hasMessage("s.yaml: unsupported spec version 2 (expected 1)");
        assertThatThrownBy(() -> parser.parse("- a\n- b\n", "s.yaml"))
                .isInstanceOf(SpecException.class).hasMessageContaining("expected a YAML mapping");
    }

    @Test
    void topicPrefixMustBeUsableAsASlotName() {
        assertThatThrownBy(() -> parser.parse(VALID.replace("topicPrefix: keiko", "topicPrefix: Keiko-1"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessageStartingWith("s.yaml: kafka: topicPrefix 'Keiko-1' must be");
        assertThat(List.of(parser.parse(VALID, "s.yaml").kafka().topicPrefix())).containsExactly("keiko");
    }

    @Test
    void readsEveryColumnSourceAndAdjustment() {
        Spec spec = parser.parse(VALID.replace("      display_name: { from: name }\n", String.join("\n",
                "      display_name: { from: name, default: \"'anonymous'\" }",
                "      status: { from: status, map: { created: pending, \"1\": one }, otherwise: pending }",
                "      kind: { value: human }",
                "      score: { expr: \"row.points * 2\" }",
                "      shout: { java: com.example.Shout }",
                "      migrated_at: { expr: \"'now'\", nonDeterministic: true }",
                "    drop: [legacy]",
                "")), "spec.yaml");

        TableSpec users = spec.tables().get("users");
        MappingSpec mapping = users.mappings().get(0);
        assertThat(mapping.columns().get("display_name").defaultValue().asText()).isEqualTo("'anonymous'");
        assertThat(mapping.columns().get("status").map()).containsOnlyKeys("created", "1");
        assertThat(mapping.columns().get("status").otherwise().asText()).isEqualTo("pending");
        assertThat(mapping.columns().get("kind").value().asText()).isEqualTo("human");
        assertThat(mapping.columns().get("score").expr()).isEqualTo("row.points * 2");
        assertThat(mapping.columns().get("shout").java()).isEqualTo("com.example.Shout");
        assertThat(mapping.columns().get("migrated_at").nonDeterministic()).isTrue();
        assertThat(mapping.columns().get("kind").nonDeterministic()).isFalse();
        assertThat(users.drop()).containsExactly("legacy");
    }

    @Test
    void splitListsSeveralMappingsAndExcludesTheDirectForm() {
        String split = VALID.replace(String.join("\n",
                "    into: accounts",
                "    columns:",
                "      id: { from: id }",
                "      display_name: { from: name }"), String.join("\n",
                "    split:",
                "      - into: accounts",
                "        columns: { id: { from: id } }",
                "      - into: preferences",
                "        key: [user_id]",
                "        where: \"row.theme != null\"",
                "        columns: { user_id: { from: id }, theme: { from: theme } }"));
        TableSpec users = parser.parse(split, "spec.yaml").tables().get("users");

        assertThat(users.v2Tables("users")).containsExactly("accounts", "preferences");
        assertThat(parser.parse(split, "spec.yaml").v2Columns())
                .isEqualTo(Map.of("accounts", new java.util.TreeSet<>(List.of("id")),
                        "preferences", new java.util.TreeSet<>(List.of("theme", "user_id"))));
        assertThat(users.mappings().get(1).where()).isEqualTo("row.theme != null");
        assertThat(users.mappings().get(1).explicitKey()).contains(List.of("user_id"));
        assertThatThrownBy(() -> parser.parse(split.replace("    split:", "    into: x\n    split:"), "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: tables.users: use either split or into/key/where/columns/copy, not both");
    }

    @Test
    void columnSourcesAreExclusiveAndOtherwiseNeedsAMap() {
        assertThatThrownBy(() -> parser.parse(VALID.replace("display_name: { from: name }", "display_name: { default: 1 }"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("s.yaml: tables.users.columns.display_name: a column needs one of from, expr, value or java");
        assertThatThrownBy(() -> parser.parse(VALID.replace("display_name: { from: name }", "display_name: { from: name, value: 1 }"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("s.yaml: tables.users.columns.display_name: a column takes only one of from, expr, value or java, not from and value");
        assertThatThrownBy(() -> parser.parse(VALID.replace("display_name: { from: name }", "display_name: { from: name, otherwise: x }"), "s.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("s.yaml: tables.users.columns.display_name: otherwise is only meaningful with map");
    }

    private static final String TENANTS = VALID.replace("""
              users:
                into: accounts
            """, """
              users:
                into: accounts
                key: [tenant_id, id]
                dimensions:
                  tenant: { lookup: { table: orgs, key: org_id, column: tenant }, default: "'t0'" }
                  platform: { column: plat, expr: "row.name.split(':')[0]" }
                  stream: { value: general }
                  agent: { from: agent_id }
            """) + """
            tenancy: { holdSeconds: 30, rowLevelSecurity: app.tenant_id }
            """;

    @Test
    void readsDimensionsAndTheirLookupTables() {
        Spec spec = parser.parse(TENANTS, "spec.yaml");

        TableSpec users = spec.tables().get("users");
        assertThat(users.dimensionsByKind().keySet()).containsExactly(DimensionSpec.Kind.TENANT, DimensionSpec.Kind.AGENT,
                DimensionSpec.Kind.STREAM, DimensionSpec.Kind.PLATFORM);
        assertThat(users.dimensionsByKind().get(DimensionSpec.Kind.TENANT).lookup())
                .isEqualTo(new DimensionSpec.LookupSpec("orgs", "org_id", "tenant"));
        assertThat(users.dimensionsByKind().get(DimensionSpec.Kind.PLATFORM).column(DimensionSpec.Kind.PLATFORM)).isEqualTo("plat");
        assertThat(users.dimensionsByKind().get(DimensionSpec.Kind.AGENT).column(DimensionSpec.Kind.AGENT)).isEqualTo("agent_id");
        assertThat(users.mappings().get(0).explicitKey()).contains(List.of("tenant_id", "id"));
        assertThat(spec.capturedTables()).containsExactly("orgs", "users");
        assertThat(spec.lookupTables()).containsOnlyKeys("orgs");
        // The columns written into v2: the mapped ones, then those the dimensions fill.
        assertThat(users.writtenColumns(users.mappings().get(0)))
                .containsExactly("id", "display_name", "tenant_id", "agent_id", "chat_stream", "plat");
        assertThat(spec.v2Columns()).containsOnlyKeys("accounts");
        assertThat(spec.tenancy()).isEqualTo(new TenancySpec(30, false, "app.tenant_id"));
        assertThat(parser.parse(VALID, "spec.yaml").tenancy().holdSeconds()).isEqualTo(300);
    }

    @Test
    void dimensionErrorsNameTheirPath() {
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("stream: { value: general }", "chat: { value: general }"), "spec.yaml"))
                .hasMessage("spec.yaml: tables.users: unknown dimension 'chat' (expected one of: tenant, agent, stream, platform)");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("stream: { value: general }", "stream: { value: general, from: x }"), "spec.yaml"))
                .hasMessage("spec.yaml: tables.users.dimensions.stream: a dimension takes only one of from, expr, value or lookup, not from and value");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("key: org_id, ", ""), "spec.yaml"))
                .hasMessage("spec.yaml: tables.users.dimensions.tenant.lookup: lookup.key (a v1 column name) is required");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("table: orgs", "table: users"), "spec.yaml"))
                .hasMessage("spec.yaml: table users looks up a dimension in itself; use from or expr");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("display_name: { from: name }", "tenant_id: { from: name }"), "spec.yaml"))
                .hasMessage("spec.yaml: tables.users: column 'tenant_id' is also filled by a dimension; drop one of them");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("holdSeconds: 30", "holdSeconds: -1"), "spec.yaml"))
                .hasMessage("spec.yaml: tenancy: holdSeconds must be 0 or more, was -1");
        assertThatThrownBy(() -> parser.parse(TENANTS.replace("holdSeconds: 30", "holdSecs: 30"), "spec.yaml"))
                .hasMessageStartingWith("spec.yaml: tenancy.holdSecs: unknown key 'holdSecs'");
    }

    private static final String AVRO = VALID.replace("kafka: { bootstrap: \"k1:9092,k2:9092\", topicPrefix: keiko, partitions: 6 }", """
            kafka:
              bootstrap: "k1:9092"
              v2Format: avro
              schemaRegistry:
                url: "https://registry-a:8081, https://registry-b:8081/ccompat"
                basicAuth: { user: svc-migrator, password: "${env:REGISTRY_PASSWORD}" }
                settings: { normalize.schemas: true, http.read.timeout.ms: 5000 }""");

    private final SpecParser avroParser = new SpecParser(name -> Map.of("V1_PASSWORD", "s3cret", "REGISTRY_PASSWORD", "r3g").get(name));

    @Test
    void v2TopicsAreJsonUnlessTheSpecChoosesAvroWithARegistry() {
        assertThat(parser.parse(VALID, "spec.yaml").kafka().v2Format()).isEqualTo(V2Format.JSON);
        assertThat(parser.parse(VALID, "spec.yaml").kafka().schemaRegistry()).isNull();

        KafkaSpec kafka = avroParser.parse(AVRO, "spec.yaml").kafka();

        assertThat(kafka.v2Format()).isEqualTo(V2Format.AVRO);
        assertThat(kafka.schemaRegistry().urls()).containsExactly("https://registry-a:8081", "https://registry-b:8081/ccompat");
        assertThat(kafka.schemaRegistry().basicAuth()).isEqualTo(new SchemaRegistrySpec.BasicAuth("svc-migrator", "r3g"));
        assertThat(kafka.schemaRegistry().clientConfigs()).containsExactly(
                Map.entry("schema.registry.url", "https://registry-a:8081,https://registry-b:8081/ccompat"),
                Map.entry("basic.auth.credentials.source", "USER_INFO"),
                Map.entry("basic.auth.user.info", "svc-migrator:r3g"),
                Map.entry("normalize.schemas", "true"),
                Map.entry("http.read.timeout.ms", "5000"));
        assertThat(kafka.schemaRegistry().toString()).doesNotContain("r3g");
        // A registry without v2Format avro is allowed: the sink reads Avro records a format switch left in the topics.
        KafkaSpec switchedBack = avroParser.parse(AVRO.replace("v2Format: avro", "v2Format: json"), "spec.yaml").kafka();
        assertThat(switchedBack.v2Format()).isEqualTo(V2Format.JSON);
        assertThat(switchedBack.schemaRegistry().urls()).hasSize(2);
        assertThat(avroParser.parse(AVRO.replace(
                "basicAuth: { user: svc-migrator, password: \"${env:REGISTRY_PASSWORD}\" }",
                "settings: { bearer.auth.credentials.source: STATIC_TOKEN, bearer.auth.token: \"${env:REGISTRY_PASSWORD}\" }")
                .replace("\n    settings: { normalize.schemas: true, http.read.timeout.ms: 5000 }", ""), "spec.yaml")
                .kafka().schemaRegistry().clientConfigs()).containsExactly(
                Map.entry("schema.registry.url", "https://registry-a:8081,https://registry-b:8081/ccompat"),
                Map.entry("bearer.auth.credentials.source", "STATIC_TOKEN"),
                Map.entry("bearer.auth.token", "r3g"));
    }

    @Test
    void v2FormatAndRegistryErrorsNameTheirPath() {
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("v2Format: avro", "v2Format: Avro"), "spec.yaml"))
                .isInstanceOf(SpecException.class)
                .hasMessage("spec.yaml: kafka.v2Format: v2Format must be json or avro, was 'Avro'");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replaceAll("(?s)\n  schemaRegistry:.*5000 }", ""), "spec.yaml"))
                .hasMessage("spec.yaml: kafka: v2Format avro needs schemaRegistry: { url: ... } (where the v2 topics' Avro schemas are registered)");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("url: \"https", "urls: \"https"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry.urls: unknown key 'urls' (expected one of: basicAuth, settings, url)");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("password: \"${env:REG", "pass: \"${env:REG"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry.basicAuth.pass: unknown key 'pass' (expected one of: password, user)");
        assertThatThrownBy(() -> parser.parse(AVRO, "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry.basicAuth.password: environment variable REGISTRY_PASSWORD is not set");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace(", password: \"${env:REGISTRY_PASSWORD}\"", ""), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry.basicAuth: password is required with user");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("https://registry-a:8081", "https://svc:pw@registry-a:8081"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: url 'https://registry-a...' carries credentials;"
                        + " give them as basicAuth: { user: ..., password: ... } so that they stay out of logs");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("https://registry-a:8081", "registry-a:8081"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: url 'registry-a:8081' must be http://host[:port][/path] or https://...;"
                        + " several are separated by commas");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("normalize.schemas: true", "use.latest.version: true"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: unknown setting 'use.latest.version' (expected one of: auto.register.schemas,"
                        + " bearer.auth.credentials.source, bearer.auth.token, http.connect.timeout.ms, http.read.timeout.ms,"
                        + " max.schemas.per.subject, normalize.schemas, schema.registry.ssl.key.password,"
                        + " schema.registry.ssl.keystore.location, schema.registry.ssl.keystore.password,"
                        + " schema.registry.ssl.keystore.type, schema.registry.ssl.truststore.location,"
                        + " schema.registry.ssl.truststore.password, schema.registry.ssl.truststore.type)");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("normalize.schemas: true", "basic.auth.user.info: \"a:b\""), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: setting basic.auth.user.info: use schemaRegistry.basicAuth instead");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("normalize.schemas: true", "normalize.schemas: yes please"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: setting normalize.schemas must be true or false, was 'yes please'");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("5000", "0"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: setting http.read.timeout.ms must be a whole number from 1 to 2147483647, was '0'");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("normalize.schemas: true", "bearer.auth.token: t"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: settings bearer.auth.credentials.source and bearer.auth.token go together");
        assertThatThrownBy(() -> avroParser.parse(AVRO.replace("normalize.schemas: true",
                "bearer.auth.credentials.source: STATIC_TOKEN, bearer.auth.token: t"), "spec.yaml"))
                .hasMessage("spec.yaml: kafka.schemaRegistry: use basicAuth or a bearer token (settings bearer.auth.*), not both");
    }
}
