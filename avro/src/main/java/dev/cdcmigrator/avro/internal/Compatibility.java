package dev.cdcmigrator.avro.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaIncompatibilityType;

/**
 * Why a reader schema cannot read a writer schema, in field names. Avro's {@link SchemaCompatibility} (which
 * registries use too) reports a changed record inside a union, such as the envelope's {@code after}, only as
 * "reader union lacking writer type: RECORD"; this descends into the record of the same name to say which field.
 */
public final class Compatibility {

    private Compatibility() {
    }

    /** The reasons {@code reader} cannot read {@code writer}; empty if it can. */
    public static List<String> explain(Schema reader, Schema writer) {
        List<String> reasons = new ArrayList<>();
        explain(reader, writer, reasons);
        return reasons;
    }

    private static void explain(Schema reader, Schema writer, List<String> reasons) {
        SchemaCompatibility.SchemaCompatibilityResult result =
                SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getResult();
        for (Incompatibility incompatibility : result.getIncompatibilities()) {
            Schema writerPart = incompatibility.getWriterFragment();
            Schema readerPart = incompatibility.getReaderFragment();
            if (incompatibility.getType() == SchemaIncompatibilityType.MISSING_UNION_BRANCH) {
                // Avro reports the whole unions; descend into the records both have under one name.
                boolean descended = false;
                for (Schema writerRecord : branches(writerPart)) {
                    Optional<Schema> sameName = branches(readerPart).stream()
                            .filter(s -> s.getFullName().equals(writerRecord.getFullName())).findFirst();
                    if (sameName.isPresent()) {
                        explain(sameName.get(), writerRecord, reasons);
                        descended = true;
                    }
                }
                if (descended) {
                    continue;
                }
            }
            reasons.add(describe(reader, incompatibility));
        }
    }

    private static List<Schema> branches(Schema schema) {
        List<Schema> records = new ArrayList<>();
        for (Schema branch : schema.getType() == Schema.Type.UNION ? schema.getTypes() : List.of(schema)) {
            if (branch.getType() == Schema.Type.RECORD) {
                records.add(branch);
            }
        }
        return records;
    }

    private static String describe(Schema reader, Incompatibility incompatibility) {
        String where = names(reader, incompatibility.getLocation());
        return switch (incompatibility.getType()) {
            case READER_FIELD_MISSING_DEFAULT_VALUE -> where + ": the new field " + incompatibility.getMessage()
                    + " has no default, so records written before it existed cannot be read (make the column nullable or"
                    + " give it a constant default)";
            case TYPE_MISMATCH -> where + ": the type changed (" + incompatibility.getMessage() + ")";
            default -> where + ": " + incompatibility.getType() + " (" + incompatibility.getMessage() + ")";
        };
    }

    /** An Avro compatibility location ({@code /fields/1/type}) in names ({@code Value.qty}). */
    static String names(Schema schema, String location) {
        StringBuilder names = new StringBuilder(schema.getType() == Schema.Type.RECORD ? schema.getName() : schema.getType().getName());
        Schema current = schema;
        String[] parts = location.split("/");
        for (int i = 0; i < parts.length && current != null; i++) {
            String part = parts[i];
            try {
                if (part.equals("fields") && i + 1 < parts.length && current.getType() == Schema.Type.RECORD) {
                    Schema.Field field = current.getFields().get(Integer.parseInt(parts[++i]));
                    names.append('.').append(field.name());
                    current = field.schema();
                    if (i + 1 < parts.length && parts[i + 1].equals("type")) {
                        i++;
                    }
                } else if (current.getType() == Schema.Type.UNION && part.matches("\\d+")) {
                    current = current.getTypes().get(Integer.parseInt(part));
                } else if (part.equals("items") && current.getType() == Schema.Type.ARRAY) {
                    names.append("[]");
                    current = current.getElementType();
                } else if (part.equals("values") && current.getType() == Schema.Type.MAP) {
                    names.append("{}");
                    current = current.getValueType();
                }
            } catch (RuntimeException e) {
                return names + " (" + location + ")";
            }
        }
        return names.toString();
    }
}
