package dev.cdcmigrator.transform.internal;

/**
 * v1 dropped or retyped a column the spec needs. Mapping on would write wrong or incomplete rows, and dead-lettering
 * would send every later change of the table after it, so the transform stops instead: nothing from this change on is
 * written, and a restart once the spec fits v1 again resumes from it.
 */
public final class SchemaChangedException extends RuntimeException {

    SchemaChangedException(String message) {
        super(message);
    }
}
