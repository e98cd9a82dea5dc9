package dev.cdcmigrator.common;

/**
 * Kafka did not answer a client built from the spec: the message is one line naming the setting, the address, why,
 * and the fix, fit for an operator ({@link KafkaClients#connectedAdmin}).
 */
public final class KafkaUnreachableException extends RuntimeException {

    KafkaUnreachableException(String message, Throwable cause) {
        super(message, cause);
    }
}
