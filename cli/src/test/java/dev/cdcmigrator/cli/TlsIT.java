package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.spec.SpecParser;
import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.testkit.PostgresServer;
import dev.cdcmigrator.testkit.TestKafka;
import dev.cdcmigrator.testkit.TestPostgres;
import dev.cdcmigrator.testkit.TlsPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A v1 that takes only TLS connections with a client certificate ({@code hostssl ... cert}), the URL carrying
 * {@code sslmode=verify-full}, the root certificate and the client's certificate and key: every connection of the
 * migrator, capture's replication connection included, must use them.
 */
class TlsIT {

    private static final String DATABASE = "shop";

    private final PostgresServer pg = TestPostgres.shared();
    private TlsPostgres v1;
    private String v2;
    private Path specFile;
    private Pipeline pipeline;

    @BeforeEach
    void start(@TempDir Path dir) throws Exception {
        v1 = TlsPostgres.start(dir.resolve("v1"), DATABASE, """
                CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);
                INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
                """);
        v2 = pg.createDatabase("tls_v2");
        pg.execute(v2, "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)");
        specFile = Files.writeString(dir.resolve("spec.yaml"), """
                version: 1
                source: { url: "%s", user: "%s" }
                target: { url: "%s", user: "%s", password: "%s" }
                kafka: { bootstrap: "%s", topicPrefix: tls_%s }
                tables:
                  items: { columns: { id: { from: id }, name: { from: name } } }
                """.formatted(v1.jdbcUrl(DATABASE), v1.user(), pg.jdbcUrl(v2), pg.user(), pg.password(),
                TestKafka.bootstrapServers(), UUID.randomUUID().toString().replace("-", "").substring(0, 10)));
    }

    @AfterEach
    void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        v1.close();
    }

    @Test
    void theServerRefusesAConnectionWithoutTheCertificate() {
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> DriverManager.getConnection(
                v1.plainJdbcUrl(DATABASE), v1.user(), "").close()))
                .as("the setup this test relies on").isInstanceOf(SQLException.class);
    }

    @Test
    void checkReportsTheVerifiedTlsConnectionAndRunStreamsThroughIt() throws Exception {
        CliRun check = CliRun.of("check", "--spec", specFile.toString());

        assertThat(check.exit()).as(check.toString()).isZero();
        assertThat(check.lines()).anySatisfy(line -> assertThat(line).startsWith("OK      source: TLS (TLSv1.")
                .endsWith(", the server's certificate and host name verified (sslmode=verify-full)"));
        assertThat(check.lines()).contains("OK      target: not encrypted, on a loopback address (127.0.0.1):"
                + " nothing crosses a network");

        Spec spec = new SpecParser().parse(Files.readString(specFile), specFile.toString());
        pipeline = Pipeline.start(spec, specFile.getParent().resolve("data"), 0, new SimpleMeterRegistry());
        awaitV2Equals("the snapshot");
        try (Connection c = DriverManager.getConnection(v1.jdbcUrl(DATABASE), v1.user(), "");
             Statement st = c.createStatement()) {
            st.execute("INSERT INTO items VALUES (51, 'streamed'); UPDATE items SET name = 'renamed' WHERE id = 1;"
                    + " DELETE FROM items WHERE id = 2");
        }
        awaitV2Equals("the streamed changes");
        assertThat(pg.rows(v2, "SELECT name FROM items WHERE id IN (1, 51) ORDER BY id"))
                .containsExactly(List.of("renamed"), List.of("streamed"));
    }

    private void awaitV2Equals(String what) {
        await(what).atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            assertThat(pipeline.failure()).isEmpty();
            assertThat(pg.rows(v2, "SELECT id, name FROM items ORDER BY id")).isEqualTo(v1Rows());
        });
    }

    private List<List<String>> v1Rows() throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(v1.jdbcUrl(DATABASE), v1.user(), "");
             Statement st = c.createStatement(); var rs = st.executeQuery("SELECT id, name FROM items ORDER BY id")) {
            while (rs.next()) {
                rows.add(List.of(rs.getString(1), rs.getString(2)));
            }
        }
        return rows;
    }
}
