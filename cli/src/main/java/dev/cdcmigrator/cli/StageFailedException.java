package dev.cdcmigrator.cli;

/** A pipeline stage stopped by itself; the message names the stage and the cause. */
final class StageFailedException extends RuntimeException {

    StageFailedException(String message) {
        super(message);
    }
}
