package dev.cdcmigrator.avro;

import org.apache.avro.Schema;

/**
 * A schema as registered under a subject.
 *
 * @param subject the subject, e.g. {@code app.v2.tasks-value}
 * @param version its version under the subject (from 1)
 * @param id its registry-wide id, the one the wire format carries
 * @param schema the schema
 */
public record RegisteredSchema(String subject, int version, int id, Schema schema) {
}
