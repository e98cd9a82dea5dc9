package dev.cdcmigrator.common.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class JdbcUrlTest {

    @Test
    void everyPropertyOfTheUrlIsKeptDecoded() {
        JdbcUrl url = JdbcUrl.parse("jdbc:postgresql://db.example.com:6432/shop?sslmode=verify-full"
                + "&sslrootcert=/etc/ssl/ca%20bundle.pem&targetServerType=primary");

        assertThat(url).isEqualTo(new JdbcUrl("db.example.com", 6432, "shop", Map.of("sslmode", "verify-full",
                "sslrootcert", "/etc/ssl/ca bundle.pem", "targetServerType", "primary")));
        assertThat(url.verifiesServer()).isTrue();
        assertThat(JdbcUrl.parse("jdbc:postgresql://db/shop").port()).isEqualTo(5432);
        assertThat(JdbcUrl.parse("jdbc:postgresql://db/shop?sslmode=require").verifiesServer()).isFalse();
    }

    @Test
    void aMultiHostUrlIsReadAsPgJdbcReadsIt() {
        JdbcUrl url = JdbcUrl.parse("jdbc:postgresql://a:5433,b:5434/shop");

        assertThat(url.multiHost()).isTrue();
        assertThat(url.host()).isEqualTo("a,b");
        assertThat(url.port()).isEqualTo(5433);
    }

    @Test
    void credentialsInTheUrlAreRefusedForTheSpecsOwn() {
        assertThatThrownBy(() -> JdbcUrl.parse("jdbc:postgresql://db/shop?user=admin"))
                .hasMessage("url carries the user: give it as the spec's user instead, which every connection of the"
                        + " migrator uses");
        assertThatThrownBy(() -> JdbcUrl.parse("jdbc:postgresql://db/shop?password=secret"))
                .hasMessageContaining("url carries the password").hasMessageNotContaining("secret");
    }

    @Test
    void whatIsShownLeavesThePropertiesOut() {
        assertThat(JdbcUrl.shown("jdbc:postgresql://db/shop?sslpassword=secret")).isEqualTo("jdbc:postgresql://db/shop");
        assertThatThrownBy(() -> JdbcUrl.parse("jdbc:mysql://db/shop?sslpassword=secret"))
                .hasMessageNotContaining("secret");
        assertThatThrownBy(() -> JdbcUrl.parse("jdbc:postgresql://db/")).hasMessageContaining("must name a database");
    }
}
