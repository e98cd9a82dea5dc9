package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.Pipeline;
import dev.cdcmigrator.common.spec.Spec;
import dev.cdcmigrator.common.KafkaClients;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Which Kafka an operator command talks to (a picocli mixin): {@code --bootstrap}; else, when the spec's broker is
 * embedded, the one of the {@code migrator run} whose {@code --data-dir} is given (it writes its address there);
 * else the spec's {@code kafka.bootstrap}.
 */
final class KafkaAddress {

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", description = "Kafka to use instead of the spec's"
            + " kafka.bootstrap. When that is `embedded`, the broker of the running `migrator run` is found in its"
            + " --data-dir without it.")
    String bootstrap;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = ".migrator", description = "When the spec says"
            + " kafka.bootstrap: embedded: the --data-dir of the running `migrator run`, which holds its broker's address"
            + " (default: ${DEFAULT-VALUE}; .migrator-reverse with --reverse).")
    Path dataDir;

    String resolve(Spec spec, CommandLine commandLine) {
        if (bootstrap != null) {
            return bootstrap;
        }
        if (!spec.kafka().embedded()) {
            return spec.kafka().bootstrap();
        }
        Path dataDir = Direction.dataDir(spec, this.dataDir, commandLine);
        Path file = Pipeline.embeddedAddressFile(dataDir);
        String address;
        try {
            address = Files.readString(file).strip();
        } catch (IOException e) {
            throw new ParameterException(commandLine, "The spec says kafka.bootstrap: embedded, a broker that lives inside"
                    + " the running `migrator run`, and " + file + " does not name one: is `migrator run --data-dir "
                    + dataDir + "` running? Pass its --data-dir, or --bootstrap with the address it logged at start"
                    + " (\"pipeline started kafka=127.0.0.1:PORT\").");
        }
        if (KafkaClients.refusedConnections(address, Duration.ofSeconds(2)).isPresent()) {
            throw new ParameterException(commandLine, "The spec says kafka.bootstrap: embedded, and " + file + " names "
                    + address + ", where no broker listens: the `migrator run` that wrote it has stopped. Start it"
                    + " again, or pass --bootstrap with the address of a broker that holds the topics.");
        }
        return address;
    }
}
