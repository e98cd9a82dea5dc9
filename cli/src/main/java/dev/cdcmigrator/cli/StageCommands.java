package dev.cdcmigrator.cli;

import dev.cdcmigrator.cli.internal.Pipeline;
import java.util.EnumSet;
import java.util.Set;
import picocli.CommandLine.Command;

/**
 * {@code migrator capture|transform|sink}: one stage per process, as separate services sharing an external Kafka.
 * Capture runs once per v1 database (one replication slot); transform and sink scale out by partitions: instances of
 * the same spec share them (give each its own --data-dir and --http-port).
 */
final class StageCommands {

    private StageCommands() {
    }

    @Command(name = "capture", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = "Run only capture (one instance per v1 database) against an external Kafka,"
            + " until stopped.")
    static final class CaptureCommand extends RunCommand {
        @Override
        Set<Pipeline.Stage> stages() {
            return EnumSet.of(Pipeline.Stage.CAPTURE);
        }
    }

    @Command(name = "transform", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = "Run only the transform against an external Kafka, until stopped;"
            + " instances of the same spec share the raw topics' partitions.")
    static final class TransformCommand extends RunCommand {
        @Override
        Set<Pipeline.Stage> stages() {
            return EnumSet.of(Pipeline.Stage.TRANSFORM);
        }
    }

    @Command(name = "sink", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
            description = "Run only the sink against an external Kafka, until stopped; instances of the"
            + " same spec share the v2 topics' partitions.")
    static final class SinkCommand extends RunCommand {
        @Override
        Set<Pipeline.Stage> stages() {
            return EnumSet.of(Pipeline.Stage.SINK);
        }
    }
}
