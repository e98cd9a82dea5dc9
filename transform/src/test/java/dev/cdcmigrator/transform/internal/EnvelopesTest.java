package dev.cdcmigrator.transform.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EnvelopesTest {

    private static final String SCHEMA = "{\"type\":\"struct\",\"fields\":["
            + "{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,\"field\":\"id\"},"
            + "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Json\",\"field\":\"params\"}],"
            + "\"optional\":true,\"name\":\"t.Value\",\"field\":\"after\"}],"
            + "\"optional\":false,\"name\":\"t.Envelope\"}";

    @Test
    void anEnvelopeAsTheConverterWritesItReadsTheSameWithAKnownSchemaAsWithoutIt() {
        // A schema no other test uses, so that the first read is the first sight of it.
        String schema = SCHEMA.replace("t.Envelope", "envelopes-test.Envelope");
        Envelopes.Envelope first = Envelopes.read(bytes("{\"schema\":" + schema + ",\"payload\":{\"after\":{\"id\":1,\"params\":\"{}\"},\"op\":\"c\"}}"));
        Envelopes.Envelope second = Envelopes.read(bytes("{\"schema\":" + schema + ",\"payload\":{\"after\":{\"id\":2,\"params\":\"[]\"},\"op\":\"u\"}}"));

        assertSame(first.schema(), second.schema(), "the second read recognises the schema");
        assertEquals(Set.of("params"), second.schema().after().jsonColumns());
        assertEquals(Map.of("id", "int64", "params", "io.debezium.data.Json"), second.schema().after().semanticTypes());
        assertEquals(2, second.payload().path("after").path("id").asLong());
        assertEquals("u", second.payload().path("op").asText());
        assertNull(second.backfilled());
    }

    @Test
    void otherLayoutsOfAKnownSchemaAreReadInFull() {
        Envelopes.read(bytes("{\"schema\":" + SCHEMA + ",\"payload\":{\"op\":\"c\"}}"));

        Envelopes.Envelope trailing = Envelopes.read(bytes("{\"schema\":" + SCHEMA + ",\"payload\":{\"op\":\"u\"},\"extra\":[1]}"));
        assertEquals("u", trailing.payload().path("op").asText());
        assertEquals(Set.of("params"), trailing.schema().after().jsonColumns());

        Envelopes.Envelope spaced = Envelopes.read(bytes("{\"schema\": " + SCHEMA + ", \"payload\": {\"op\": \"d\"}}"));
        assertEquals("d", spaced.payload().path("op").asText());
        assertEquals(Set.of("params"), spaced.schema().after().jsonColumns());

        Envelopes.Envelope payloadFirst = Envelopes.read(bytes("{\"payload\":{\"op\":\"r\"},\"schema\":" + SCHEMA + "}"));
        assertEquals("r", payloadFirst.payload().path("op").asText());
        assertEquals(Set.of("params"), payloadFirst.schema().after().jsonColumns());
    }

    @Test
    void aBrokenPayloadAfterAKnownSchemaIsStillAMappingError() {
        Envelopes.read(bytes("{\"schema\":" + SCHEMA + ",\"payload\":{\"op\":\"c\"}}"));
        assertThrows(MappingException.class, () -> Envelopes.read(bytes("{\"schema\":" + SCHEMA + ",\"payload\":{\"op\":}")));
        assertThrows(MappingException.class, () -> Envelopes.read(new byte[0]));
    }

    private static byte[] bytes(String json) {
        return json.getBytes(StandardCharsets.UTF_8);
    }
}
