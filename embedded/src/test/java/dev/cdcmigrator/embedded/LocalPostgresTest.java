package dev.cdcmigrator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.Socket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalPostgresTest {

    @TempDir
    static Path tempDir;

    private static LocalPostgres postgres;

    @BeforeAll
    static void startCluster() {
        // A not-yet-existing directory below JUnit's 0700 temp dir: start() must create it and make it reachable.
        postgres = LocalPostgres.start(tempDir.resolve("shared"));
    }

    @AfterAll
    static void closeCluster() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void runsOnAPrivateLoopbackPortReadyForLogicalReplication() throws SQLException {
        assertThat(postgres.host()).isEqualTo("127.0.0.1");
        assertThat(postgres.port()).isNotEqualTo(5432);
        assertThat(postgres.jdbcUrl("app")).isEqualTo("jdbc:postgresql://127.0.0.1:" + postgres.port() + "/app");

        postgres.createDatabase("logical_ready");

        try (Connection connection = connect("logical_ready")) {
            assertThat(queryString(connection, "SELECT current_database()")).isEqualTo("logical_ready");
            assertThat(queryString(connection, "SHOW wal_level")).isEqualTo("logical");
            assertThat(queryString(connection, "SELECT slot_name FROM pg_create_logical_replication_slot('t', 'pgoutput')"))
                    .isEqualTo("t");
            queryString(connection, "SELECT pg_drop_replication_slot('t')");
        }
    }

    @Test
    void acceptsReplicationProtocolConnections() throws SQLException {
        // What Debezium opens for streaming; it needs its own pg_hba.conf rules and max_wal_senders.
        Properties properties = new Properties();
        properties.setProperty("user", postgres.user());
        properties.setProperty("replication", "database");
        properties.setProperty("assumeMinServerVersion", "10");
        properties.setProperty("preferQueryMode", "simple");
        try (Connection connection = DriverManager.getConnection(postgres.jdbcUrl("postgres"), properties);
                Statement statement = connection.createStatement();
                ResultSet identity = statement.executeQuery("IDENTIFY_SYSTEM")) {
            assertThat(identity.next()).isTrue();
            assertThat(identity.getString("dbname")).isEqualTo("postgres");
        }
    }

    @Test
    void createDatabaseFailsLoudlyForAnExistingName() {
        postgres.createDatabase("twice");

        assertThatThrownBy(() -> postgres.createDatabase("twice"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already exists");
    }

    @Test
    void keepsDataAcrossStopAndRestartOnTheSamePort() throws SQLException {
        postgres.createDatabase("durable");
        try (Connection connection = connect("durable"); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE kept (id int PRIMARY KEY)");
            statement.execute("INSERT INTO kept VALUES (1), (2)");
        }
        int port = postgres.port();

        postgres.stop();
        assertThatThrownBy(() -> connect("durable")).isInstanceOf(SQLException.class);

        postgres.restart();
        assertThat(postgres.port()).isEqualTo(port);
        try (Connection connection = connect("durable")) {
            assertThat(queryString(connection, "SELECT count(*) FROM kept")).isEqualTo("2");
        }
    }

    @Test
    void closeStopsTheServerAndDeletesTheDirectory() {
        Path dataDir = tempDir.resolve("closed");
        LocalPostgres closing = LocalPostgres.start(dataDir);
        assertThat(dataDir.resolve("PG_VERSION")).exists();

        closing.close();

        assertThat(dataDir).doesNotExist();
        assertThatThrownBy(() -> new Socket(closing.host(), closing.port()).close())
                .isInstanceOf(ConnectException.class);
        closing.close();
    }

    @Test
    void startReusesAnExistingCluster() throws SQLException {
        Path dataDir = tempDir.resolve("reused");
        LocalPostgres first = LocalPostgres.start(dataDir);
        first.createDatabase("survivor");
        first.stop();

        try (LocalPostgres second = LocalPostgres.start(dataDir);
                Connection connection = DriverManager.getConnection(second.jdbcUrl("survivor"), second.user(), "")) {
            assertThat(queryString(connection, "SELECT current_database()")).isEqualTo("survivor");
        }
        assertThat(dataDir).doesNotExist();
        first.close();
    }

    private static Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(postgres.jdbcUrl(database), postgres.user(), "");
    }

    private static String queryString(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet result = statement.executeQuery(sql)) {
            assertThat(result.next()).isTrue();
            return result.getString(1);
        }
    }
}
