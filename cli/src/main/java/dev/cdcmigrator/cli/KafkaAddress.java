package dev.cdcmigrator.cli;

import dev.cdcmigrator.common.spec.Spec;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Which Kafka an operator command talks to: {@code --bootstrap}, else the spec's, which must not be the embedded one. */
final class KafkaAddress {

    static final String OPTION_DESCRIPTION = "Kafka to use instead of the spec's kafka.bootstrap; required when that is "
            + "`embedded`: the embedded broker lives in the running `migrator run`, which logs its address at start "
            + "(\"pipeline started kafka=127.0.0.1:PORT\").";

    private KafkaAddress() {
    }

    static String resolve(Spec spec, String bootstrap, CommandLine commandLine) {
        if (bootstrap != null) {
            return bootstrap;
        }
        if (spec.kafka().embedded()) {
            throw new ParameterException(commandLine, "The spec says kafka.bootstrap: embedded, a broker that lives inside "
                    + "the running `migrator run`: pass --bootstrap with the address it logged at start "
                    + "(\"pipeline started kafka=127.0.0.1:PORT\").");
        }
        return spec.kafka().bootstrap();
    }
}
