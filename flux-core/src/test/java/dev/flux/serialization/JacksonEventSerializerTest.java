package dev.flux.serialization;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flux.EventData;
import dev.flux.FluxException;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JacksonEventSerializerTest {

    record Credited(long amount, Instant at, List<String> tags) {}

    /** A plain class: private final fields, no getters, a private no-argument constructor. */
    static final class Renamed {
        private final String from;
        private final String to;
        private final LocalDate on;

        @SuppressWarnings("unused")
        private Renamed() {
            this(null, null, null);
        }

        Renamed(String from, String to, LocalDate on) {
            this.from = from;
            this.to = to;
            this.on = on;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Renamed r && Objects.equals(from, r.from) && Objects.equals(to, r.to) && Objects.equals(on, r.on);
        }

        @Override
        public int hashCode() {
            return Objects.hash(from, to, on);
        }
    }

    private final EventTypes types = EventTypes.of(Credited.class).register("account-renamed", Renamed.class);
    private final JacksonEventSerializer serializer = new JacksonEventSerializer(types);

    @Test
    void aRecordedEventNeedsUpcastingExactlyWhenAnUpcasterReadsTheVersionItsMetadataNames() {
        EventTypes evolving = new EventTypes().register("Credited", Credited.class, 3)
                .upcaster("Credited", 1, json -> json).upcaster("Credited", 2, json -> json)
                .upcaster("Debited", 1, json -> json);

        assertTrue(evolving.needsUpcast(stored("Credited", Map.of())), "no schema version: version 1");
        assertTrue(evolving.needsUpcast(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "2"))));
        assertFalse(evolving.needsUpcast(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "3"))), "the current version");
        assertFalse(evolving.needsUpcast(stored("Debited", Map.of(Metadata.SCHEMA_VERSION, "2"))),
                "past the upcaster, of a type not registered here");
        assertTrue(evolving.needsUpcast(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "two"))),
                "not a version: decoding says what is wrong");
        assertTrue(evolving.needsUpcast(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "0"))));
        assertThrows(IllegalArgumentException.class, () -> evolving.needsUpcast((RecordedEvent) null));

        EventTypes gap = new EventTypes().upcaster("Moved", 1, json -> json).upcaster("Moved", 3, json -> json);
        assertTrue(gap.needsUpcast(stored("Moved", Map.of(Metadata.SCHEMA_VERSION, "2"))),
                "below a version an upcaster reads, of a type not registered here: not current, so upcasting says the chain skips it");
        assertFalse(gap.needsUpcast(stored("Moved", Map.of(Metadata.SCHEMA_VERSION, "4"))), "past every upcaster");
    }

    @Test
    void anEventIsNewerThanKnownWhenItsRegisteredTypeIsAtALowerVersionAndNoUpcasterReadsIt() {
        EventTypes release3 = new EventTypes().register("Credited", Credited.class, 3)
                .upcaster("Credited", 1, json -> json).upcaster("Credited", 2, json -> json);

        assertTrue(release3.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "4"))), "a later release's");
        assertFalse(release3.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "3"))), "the current version");
        assertFalse(release3.isNewerThanKnown(stored("Credited", Map.of())), "version 1, which an upcaster reads");
        assertFalse(release3.isNewerThanKnown(stored("Debited", Map.of(Metadata.SCHEMA_VERSION, "9"))), "a type not registered");
        assertFalse(release3.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "four"))),
                "not a version: decoding says what is wrong");
        EventTypes lowered = new EventTypes().register("Credited", Credited.class, 2).upcaster("Credited", 3, json -> json);
        assertFalse(lowered.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "3"))),
                "an upcaster reads it: the class's version was lowered by mistake, not a newer release");
        assertThrows(IllegalArgumentException.class, () -> release3.isNewerThanKnown(null));
    }

    @Test
    void noEventIsNewerThanKnownWhileUpcastersReadItsTypeAtOrAboveTheVersionItsClassIsRegisteredAt() {
        EventTypes lowered = new EventTypes().register("Credited", Credited.class, 2).upcaster("Credited", 3, json -> json);

        assertFalse(lowered.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "4"))),
                "the version the upcaster from 3 gives: the class's version was lowered by mistake, not a newer release");
        assertFalse(lowered.isNewerThanKnown(stored("Credited", Map.of(Metadata.SCHEMA_VERSION, "5"))),
                "above it too: the chain is misconfigured, so nothing tells a newer release's event from it");
    }

    private static RecordedEvent stored(String type, Map<String, String> metadata) {
        return RecordedEvent.of("Account-1", 0, 1, new EventData(java.util.UUID.randomUUID(), type,
                "{}".getBytes(StandardCharsets.UTF_8), metadata), Instant.EPOCH);
    }

    @Test
    void recordsAndPlainClassesRoundTrip() {
        Credited credited = new Credited(100, Instant.parse("2026-11-22T10:15:30.123Z"), List.of("a", "b"));
        Renamed renamed = new Renamed("ana", "anna", LocalDate.of(2026, 11, 22));

        assertEquals(credited, serializer.deserialize(recorded(serializer.serialize(credited, Map.of()))));
        assertEquals(renamed, serializer.deserialize(recorded(serializer.serialize(renamed, Map.of()))));
    }

    @Test
    void theTypeNameIsTheRegisteredNameAndDatesAreIsoStrings() {
        EventData data = serializer.serialize(new Credited(1, Instant.parse("2026-11-22T10:15:30Z"), List.of()), Map.of("k", "v"));

        assertEquals("Credited", data.type());
        assertEquals("{\"amount\":1,\"at\":\"2026-11-22T10:15:30Z\",\"tags\":[]}", new String(data.data(), StandardCharsets.UTF_8));
        assertEquals(Map.of("k", "v"), data.metadata());
        assertEquals("account-renamed", serializer.serialize(new Renamed("a", "b", null), Map.of()).type());
    }

    @Test
    void anUnknownTypeNameIsRefusedNamingStreamVersionAndType() {
        RecordedEvent unknown = recorded("java.lang.Runtime", "{}");

        EventDecodingException error = assertThrows(EventDecodingException.class, () -> serializer.deserialize(unknown));

        assertTrue(error.getMessage().contains("Account-42@3") && error.getMessage().contains("java.lang.Runtime"),
                error.getMessage());
        assertEquals("Account-42", error.streamId());
        assertEquals(3, error.version());
        assertEquals("java.lang.Runtime", error.type());
    }

    @Test
    void anUnknownTypeNameIsRefusedSayingToRegisterItsClass() {
        EventDecodingException error = assertThrows(EventDecodingException.class,
                () -> serializer.deserialize(recorded("Debited", "{}")));

        assertTrue(error.getMessage().contains("Debited': the type is not registered in EventTypes"), error.getMessage());
        assertTrue(error.getMessage().endsWith("register its class in the EventTypes this serializer decodes with"
                + " (EventTypes.register, or EventTypes.of listing every event class)"), error.getMessage());
    }

    @Test
    void anUnregisteredTypeThatUpcastersReadAtOtherVersionsIsRefusedSayingSo() {
        // The upcasters of the process that writes Debited, shared by one that never registered its class.
        JacksonEventSerializer reader = new JacksonEventSerializer(EventTypes.of(Credited.class).upcaster("Debited", 1, json -> json));
        RecordedEvent current = recorded(EventData.of("Debited", "{}".getBytes(StandardCharsets.UTF_8),
                Map.of(Metadata.SCHEMA_VERSION, "2")));

        EventDecodingException error = assertThrows(EventDecodingException.class, () -> reader.deserialize(current));

        assertTrue(error.getMessage().contains("upcasters read 'Debited', but not at schema version 2, the one it was stored at"
                + ": register its class"), error.getMessage());
    }

    @Test
    void jsonThatDoesNotFitTheClassIsRefusedNamingStreamVersionAndType() {
        for (String body : List.of("{\"amount\":\"lots\"}", "{\"amount\":", "not json", "{\"amount\":1,\"unknown\":2}")) {
            EventDecodingException error = assertThrows(EventDecodingException.class,
                    () -> serializer.deserialize(recorded("Credited", body)), body);
            assertTrue(error.getMessage().contains("Account-42@3") && error.getMessage().contains("Credited"),
                    error.getMessage());
        }
    }

    @Test
    void jsonThatDoesNotFitNamesTheSchemaVersionItWasStoredAtAndTheUpcasterToWrite() {
        EventTypes evolving = new EventTypes().register("Credited", Credited.class, 2)
                .upcaster("Credited", 1, body -> body.put("currency", "EUR"));
        JacksonEventSerializer json = new JacksonEventSerializer(evolving);

        EventDecodingException current = assertThrows(EventDecodingException.class, () -> json.deserialize(recorded(EventData.of(
                "Credited", "{\"value\":1}".getBytes(StandardCharsets.UTF_8), Map.of(Metadata.SCHEMA_VERSION, "2")))));
        EventDecodingException upcast = assertThrows(EventDecodingException.class,
                () -> json.deserialize(recorded("Credited", "{\"amount\":1}")));

        assertTrue(current.getMessage().contains("Account-42@3") && current.getMessage().contains("schema version 2")
                && current.getMessage().contains("raise its @SchemaVersion to 3")
                && current.getMessage().contains("upcaster from version 2"), current.getMessage());
        assertTrue(upcast.getMessage().contains("upcast from 'Credited' v1 to 'Credited' v2")
                && upcast.getMessage().contains("currency") && upcast.getMessage().contains("Make the upcasters"), upcast.getMessage());
    }

    @Test
    void aBodyWithMoreAfterItsJsonValueIsRefusedAsTheFeedRefusesItWhateverTheMapperSays() {
        ObjectMapper lenient = JacksonEventSerializer.defaultObjectMapper()
                .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        JacksonEventSerializer own = new JacksonEventSerializer(EventTypes.of(Credited.class), lenient);
        JacksonEventSerializer upcasting = new JacksonEventSerializer(new EventTypes().register("Credited", Credited.class, 2)
                .upcaster("Credited", 1, json -> json));

        for (JacksonEventSerializer json : List.of(serializer, own, upcasting)) {
            for (String body : List.of("{\"amount\":1} {\"amount\":2}", "{\"amount\":1} garbage", "{\"amount\":1}]")) {
                EventDecodingException error = assertThrows(EventDecodingException.class,
                        () -> json.deserialize(recorded("Credited", body)), body);
                assertTrue(error.getMessage().startsWith("Cannot decode event Account-42@3 of type 'Credited'"), error.getMessage());
            }
        }
        assertEquals(1, ((Credited) serializer.deserialize(recorded("Credited", " {\"amount\":1} \n"))).amount(),
                "white space around the value is fine");
    }

    @Test
    void aBodyThatIsJsonNullIsRefusedRatherThanDecodedAsANullEvent() {
        EventDecodingException error = assertThrows(EventDecodingException.class,
                () -> serializer.deserialize(recorded("Credited", "null")));
        EventDecodingException empty = assertThrows(EventDecodingException.class, () -> new JacksonEventSerializer(
                new EventTypes().register("Credited", Credited.class, 2).upcaster("Credited", 1, json -> json))
                .deserialize(recorded("Credited", "")));

        assertTrue(error.getMessage().startsWith("Cannot decode event Account-42@3 of type 'Credited'")
                && error.getMessage().contains("JSON null"), error.getMessage());
        assertTrue(empty.getMessage().endsWith("the stored body is empty"), empty.getMessage());
    }

    @Test
    void anotherServicesJsonIsReadAsTheReadmeSays() {
        ObjectMapper strict = JacksonEventSerializer.defaultObjectMapper()
                .disable(com.fasterxml.jackson.databind.DeserializationFeature.ACCEPT_FLOAT_AS_INT);
        ObjectMapper lenient = JacksonEventSerializer.defaultObjectMapper()
                .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

        assertThrows(EventDecodingException.class, () -> serializer.deserialize(recorded("Credited", "{\"amount\":1,\"extra\":2}")));
        assertEquals(1, ((Credited) new JacksonEventSerializer(types, lenient)
                .deserialize(recorded("Credited", "{\"amount\":1,\"extra\":2}"))).amount());
        assertEquals(0, ((Credited) serializer.deserialize(recorded("Credited", "{\"amount\":null}"))).amount());
        assertEquals(5, ((Credited) serializer.deserialize(recorded("Credited", "{\"amount\":5.7}"))).amount(), "cut");
        assertThrows(EventDecodingException.class, () -> new JacksonEventSerializer(types, strict)
                .deserialize(recorded("Credited", "{\"amount\":5.0}")));
    }

    @Test
    void missingFieldsTakeTheirDefaults() {
        Credited partial = (Credited) serializer.deserialize(recorded("Credited", "{\"amount\":7}"));

        assertEquals(7, partial.amount());
        assertNull(partial.at());
    }

    @Test
    void anUpcasterAddedAfterATypeWasDecodedTakesEffectOnTheNextEvent() {
        RecordedEvent stored = recorded("account-renamed", "{\"from\":\"ana\",\"to\":\"anna\"}");
        assertEquals(new Renamed("ana", "anna", null), serializer.deserialize(stored));

        types.register("account-renamed-v2", RenamedTwice.class, 2);
        types.renamingUpcaster("account-renamed", 1, json -> new Upcasted("account-renamed-v2", json.put("times", 2)));

        assertEquals(new RenamedTwice("ana", "anna", 2), serializer.deserialize(stored));
    }

    record RenamedTwice(String from, String to, int times) {}

    @Test
    void anUnregisteredClassCannotBeSerialized() {
        FluxException error = assertThrows(FluxException.class, () -> serializer.serialize("a string", Map.of()));

        assertTrue(error.getMessage().contains("java.lang.String"), error.getMessage());
    }

    @Test
    void namesAndClassesAreRegisteredOnceEach() {
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class, () -> types.register("Credited", Renamed.class));
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> types.register("other", Credited.class));
        assertTrue(name.getMessage().contains("'Credited' is already registered for " + Credited.class.getName())
                && name.getMessage().contains("register Renamed under a name of its own"), name.getMessage());
        assertTrue(twice.getMessage().contains("as event type 'Credited', cannot register it as 'other' too: a class has one type"
                + " name"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> types.register(Runnable.class));
        assertThrows(IllegalArgumentException.class, () -> types.register(" ", Credited.class));
        types.register(Credited.class);
        assertEquals(java.util.Set.of("Credited", "account-renamed"), types.names());
    }

    @SchemaVersion(2)
    record Priced(BigDecimal price, String currency) {}

    record Noted(String note) {}

    @Test
    void aVersionCopiedInFromAnotherEventsMetadataIsReplacedByTheClasssOwn() {
        EventTypes versioned = EventTypes.of(Priced.class, Noted.class);
        JacksonEventSerializer json = new JacksonEventSerializer(versioned);
        // A process manager passes its cause's metadata on, for the correlation id, and the version with it.
        Map<String, String> cause = json.serialize(new Priced(BigDecimal.ONE, "EUR"), Map.of(Metadata.CORRELATION_ID, "c-1")).metadata();

        EventData effect = json.serialize(new Noted("paid"), cause);

        assertEquals(Map.of(Metadata.CORRELATION_ID, "c-1"), effect.metadata());
        assertEquals(new Noted("paid"), json.deserialize(recorded(effect)));
        assertEquals("2", json.serialize(new Priced(BigDecimal.TEN, "EUR"),
                Map.of(Metadata.SCHEMA_VERSION, "7")).metadata().get(Metadata.SCHEMA_VERSION));
    }

    @Test
    void upcastingKeepsEveryDigitOfADecimal() {
        EventTypes versioned = EventTypes.of(Priced.class).upcaster("Priced", 1, body -> body.put("currency", "EUR"));
        JacksonEventSerializer json = new JacksonEventSerializer(versioned);
        RecordedEvent version1 = recorded("Priced", "{\"price\": 12345678901234567.10}");

        assertEquals(new Priced(new BigDecimal("12345678901234567.10"), "EUR"), json.deserialize(version1));
        assertTrue(new String(json.upcast(version1).data(), StandardCharsets.UTF_8).contains("12345678901234567.10"),
                "the feed serves the upcast body with every digit");
    }

    @Test
    void anUpcasterFromTheVersionTheClassStillWritesIsNamedRatherThanTakenForANewerEvent() {
        // The upcaster from 2 came before the class's @SchemaVersion was raised to 3: an event stored at 2 before that.
        EventTypes ahead = EventTypes.of(Priced.class).upcaster("Priced", 2, body -> body.put("currency", "EUR"));
        JacksonEventSerializer json = new JacksonEventSerializer(ahead);
        RecordedEvent storedAtTwo = recorded(EventData.of("Priced", "{\"price\":1,\"currency\":\"USD\"}".getBytes(StandardCharsets.UTF_8),
                Map.of(Metadata.SCHEMA_VERSION, "2")));

        EventDecodingException refused = assertThrows(EventDecodingException.class, () -> json.deserialize(storedAtTwo));

        assertTrue(refused.getMessage().contains("'Priced' v2 ends as 'Priced' v3")
                && refused.getMessage().contains("past the version this code reads (2)")
                && !refused.getMessage().contains("deploy the newer"), refused.getMessage());
    }

    @SchemaVersion(3)
    record AccountCredited(long amount, String currency) {}

    @SchemaVersion(2)
    record AccountDebited(long amount) {}

    @Test
    void theUpcastersOfTheEventTypesJavadocReadEveryOldShapeToItsValues() {
        EventTypes types = EventTypes.of(AccountCredited.class, AccountDebited.class);
        // As in the Javadoc of EventTypes.
        types.upcaster("AccountCredited", 1, json -> json.put("currency", "EUR"));           // v1 -> v2: a new field
        types.upcaster("AccountCredited", 2, json -> (com.fasterxml.jackson.databind.node.ObjectNode) json.set("amount", json.remove("value")));
        types.renamingUpcaster("MoneyMoved", 1, json -> json.get("value").asLong() < 0     // one type split in two, each at v2
                ? new Upcasted("AccountDebited", json.objectNode().put("amount", -json.get("value").asLong()))
                : new Upcasted("AccountCredited", json.put("currency", "EUR")));
        JacksonEventSerializer json = new JacksonEventSerializer(types);

        assertEquals(new AccountCredited(100, "EUR"), json.deserialize(recorded("AccountCredited", "{\"value\":100}")));
        assertEquals(new AccountCredited(7, "EUR"), json.deserialize(recorded("MoneyMoved", "{\"value\":7}")));
        assertEquals(new AccountDebited(3), json.deserialize(recorded("MoneyMoved", "{\"value\":-3}")));
    }

    @Test
    void aRenameThatLeadsPastTheVersionOfTheClassItNamesSaysToRaiseThatVersionNotToDeployNewerClasses() {
        // FundsAdded was at version 3 when it was renamed Credited, whose class was left at version 1.
        types.renamingUpcaster("FundsAdded", 3, body -> new Upcasted("Credited", body));
        types.renamingUpcaster("Added", 1, body -> new Upcasted("Credited", body));
        RecordedEvent atThree = recorded(EventData.of("FundsAdded", "{\"amount\":5}".getBytes(StandardCharsets.UTF_8),
                Map.of(Metadata.SCHEMA_VERSION, "3")));

        EventDecodingException fromThree = assertThrows(EventDecodingException.class, () -> serializer.deserialize(atThree));
        EventDecodingException fromOne = assertThrows(EventDecodingException.class,
                () -> serializer.deserialize(recorded("Added", "{\"amount\":5}")));

        assertTrue(fromThree.getMessage().contains("'FundsAdded' v3 ends as 'Credited' v4")
                && fromThree.getMessage().contains("@SchemaVersion(4)") && !fromThree.getMessage().contains("deploy the newer"),
                fromThree.getMessage());
        assertTrue(fromOne.getMessage().contains("'Added' v1 ends as 'Credited' v2")
                && fromOne.getMessage().contains("@SchemaVersion(2)") && !fromOne.getMessage().contains("still writes"),
                fromOne.getMessage());
    }

    @Test
    void anEventAboveAVersionLoweredByMistakeSaysToRaiseItBackAsWellAsToDeployNewerClasses() {
        // Priced was at version 3, with upcasters from 1 and 2; a merge put its @SchemaVersion back to 2.
        EventTypes lowered = new EventTypes().register("Priced", Priced.class, 2)
                .upcaster("Priced", 1, body -> body).upcaster("Priced", 2, body -> body);
        RecordedEvent atThree = recorded(EventData.of("Priced", "{\"price\":1,\"currency\":\"USD\"}".getBytes(StandardCharsets.UTF_8),
                Map.of(Metadata.SCHEMA_VERSION, "3")));

        EventDecodingException refused = assertThrows(EventDecodingException.class,
                () -> new JacksonEventSerializer(lowered).deserialize(atThree));

        assertTrue(refused.getMessage().contains("newer than this code knows (version 2)")
                && refused.getMessage().contains("lowered by mistake: raise it back to 3"), refused.getMessage());
        EventDecodingException newer = assertThrows(EventDecodingException.class, () -> new JacksonEventSerializer(
                new EventTypes().register("Priced", Priced.class, 2).upcaster("Priced", 1, body -> body)).deserialize(atThree));
        assertTrue(newer.getMessage().contains("deploy the newer") && !newer.getMessage().contains("lowered"), newer.getMessage());
    }

    @Test
    void anEventThatAnUpcasterFromTheVersionItIsWrittenAtWouldNotLetReadBackIsNotStored() {
        // The class gained "currency" with the upcaster from 2, but its @SchemaVersion stayed at 2: an event written now
        // would never load, and once the version is raised it would load with the upcaster's "EUR" in place of "USD".
        EventTypes ahead = new EventTypes().register("Priced", Priced.class, 2).upcaster("Priced", 2, body -> body.put("currency", "EUR"));
        JacksonEventSerializer json = new JacksonEventSerializer(ahead);

        FluxException refused = assertThrows(FluxException.class, () -> json.serialize(new Priced(BigDecimal.ONE, "USD"), Map.of()));

        assertTrue(refused.getMessage().contains(Priced.class.getName()) && refused.getMessage().contains("schema version 2")
                && refused.getMessage().contains("past the version this code reads (2)")
                && refused.getMessage().contains("raise its @SchemaVersion to 3"), refused.getMessage());
    }

    @Test
    void anUpcasterFromTheWrittenVersionAddedAfterEventsWereWrittenRefusesTheNextOne() {
        EventTypes evolving = new EventTypes().register("Priced", Priced.class, 2);
        JacksonEventSerializer json = new JacksonEventSerializer(evolving);
        json.serialize(new Priced(BigDecimal.ONE, "USD"), Map.of());

        evolving.upcaster("Priced", 2, body -> body.put("currency", "EUR"));

        assertThrows(FluxException.class, () -> json.serialize(new Priced(BigDecimal.TEN, "USD"), Map.of()));
    }

    @Test
    void anEventThatAnUpcasterFromItsVersionTurnsIntoAReadableOneIsStored() {
        // The old class is still registered under the old name, whose events are read as the new type.
        types.register("account-renamed-v2", RenamedTwice.class, 2);
        types.renamingUpcaster("account-renamed", 1, body -> {
            body.remove("on");
            return new Upcasted("account-renamed-v2", body.put("times", 1));
        });

        EventData written = serializer.serialize(new Renamed("ana", "anna", null), Map.of());

        assertEquals("account-renamed", written.type());
        assertEquals(new RenamedTwice("ana", "anna", 1), serializer.deserialize(recorded(written)));
    }

    record Tagged(Map<String, Object> attributes) {}

    @Test
    void anUpcastEventHoldsTheSameValueClassesAsOneStoredAtTheCurrentVersion() {
        EventTypes versioned = new EventTypes().register("Tagged", Tagged.class, 2).upcaster("Tagged", 1, body -> body);
        JacksonEventSerializer json = new JacksonEventSerializer(versioned);
        String body = "{\"attributes\":{\"weight\":1.5}}";

        Tagged current = (Tagged) json.deserialize(recorded(EventData.of("Tagged", body.getBytes(StandardCharsets.UTF_8),
                Map.of(Metadata.SCHEMA_VERSION, "2"))));
        Tagged upcast = (Tagged) json.deserialize(recorded("Tagged", body));

        assertEquals(Double.class, current.attributes().get("weight").getClass());
        assertEquals(current, upcast);
    }

    record Booked(OffsetDateTime at) {}

    @Test
    void anOffsetDateTimeComesBackAtItsOwnOffset() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Booked.class));
        Booked booked = new Booked(OffsetDateTime.of(2026, 3, 1, 10, 0, 0, 0, ZoneOffset.ofHours(2)));

        assertEquals(booked, json.deserialize(recorded(json.serialize(booked, Map.of()))));
    }

    record Timed(java.time.Duration took, Instant at) {}

    @Test
    void aDurationIsWrittenAsAnIsoStringWithEveryNanosecondAndOneStoredAsSecondsStillReadsBack() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Timed.class));
        Timed timed = new Timed(java.time.Duration.ofSeconds(90, 123_456_789), Instant.parse("2026-11-22T10:15:30.000000001Z"));

        EventData written = json.serialize(timed, Map.of());

        assertEquals("{\"took\":\"PT1M30.123456789S\",\"at\":\"2026-11-22T10:15:30.000000001Z\"}",
                new String(written.data(), StandardCharsets.UTF_8));
        assertEquals(timed, json.deserialize(recorded(written)));
        assertEquals(timed, json.deserialize(recorded("Timed", "{\"took\":90.123456789,\"at\":\"2026-11-22T10:15:30.000000001Z\"}")),
                "as flux wrote durations before");
    }

    interface Shape {}

    record Circle(int radius) implements Shape {}

    record Drawn(Shape shape) {}

    @Test
    void aClassThatJacksonWritesButCannotReadIsRefusedBeforeAnyEventOfItIsStored() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Drawn.class, Noted.class));

        FluxException refused = assertThrows(FluxException.class, () -> json.serialize(new Drawn(new Circle(2)), Map.of()));

        assertTrue(refused.getMessage().contains(Drawn.class.getName()) && refused.getMessage().contains("not read back"),
                refused.getMessage());
        assertThrows(FluxException.class, () -> json.serialize(new Drawn(new Circle(3)), Map.of()), "refused every time");
        assertEquals(new Noted("n"), json.deserialize(recorded(json.serialize(new Noted("n"), Map.of()))));
    }

    /** Not final: a subclass may add fields that {@code Labelled} cannot read back into a {@code Label}. */
    static class Label {
        String text;
    }

    static final class ColouredLabel extends Label {
        String colour;
    }

    record Labelled(Label label) {}

    @Test
    void anEventOfAClassThatMayHoldOtherClassesIsRefusedWhenItCannotBeReadBackEvenAfterAReadableOne() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Drawn.class, Labelled.class));
        EventData empty = json.serialize(new Drawn(null), Map.of());
        Label plain = new Label();
        plain.text = "a";
        EventData labelled = json.serialize(new Labelled(plain), Map.of());

        FluxException circle = assertThrows(FluxException.class, () -> json.serialize(new Drawn(new Circle(2)), Map.of()));
        ColouredLabel coloured = new ColouredLabel();
        coloured.colour = "red";
        FluxException subclass = assertThrows(FluxException.class, () -> json.serialize(new Labelled(coloured), Map.of()));

        assertTrue(circle.getMessage().contains(Drawn.class.getName()) && circle.getMessage().contains("not read back")
                && circle.getMessage().contains("@JsonTypeInfo"), circle.getMessage());
        assertTrue(subclass.getMessage().contains(Labelled.class.getName()) && subclass.getMessage().contains("colour"),
                subclass.getMessage());
        assertEquals(new Drawn(null), json.deserialize(recorded(empty)));
        assertEquals("a", ((Labelled) json.deserialize(recorded(labelled))).label().text);
    }

    @com.fasterxml.jackson.annotation.JsonTypeInfo(use = com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME)
    @com.fasterxml.jackson.annotation.JsonSubTypes(@com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = Square.class, name = "square"))
    interface Tile {}

    record Square(int side) implements Tile {}

    record Tiled(List<Tile> tiles) {}

    @Test
    void aFieldThatNamesItsSubtypesForJacksonTakesThemInEveryEvent() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Tiled.class));
        json.serialize(new Tiled(List.of()), Map.of());

        EventData squares = json.serialize(new Tiled(List.of(new Square(1), new Square(2))), Map.of());

        assertEquals(new Tiled(List.of(new Square(1), new Square(2))), json.deserialize(recorded(squares)));
    }

    record Document(String text) {}

    record Modulus(BigInteger value) {}

    record Counted(Map<String, Integer> counts) {}

    record Measured(List<BigDecimal> values) {}

    @Test
    void anEventWithAValueTooLongForTheMapperToReadIsRefusedBeforeItIsStoredEvenAfterReadableOnes() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Document.class, Modulus.class, Counted.class,
                Measured.class));
        json.serialize(new Document("short"), Map.of());
        json.serialize(new Modulus(BigInteger.TWO), Map.of());
        json.serialize(new Counted(Map.of("a", 1)), Map.of());
        json.serialize(new Measured(List.of()), Map.of());

        // Over Jackson's default read limits: 20,000,000 characters a string, 1,000 digits a number, 50,000 a name.
        FluxException text = assertThrows(FluxException.class,
                () -> json.serialize(new Document("x".repeat(20_000_001)), Map.of()));
        FluxException number = assertThrows(FluxException.class,
                () -> json.serialize(new Modulus(BigInteger.TEN.pow(1_000)), Map.of()));
        FluxException decimal = assertThrows(FluxException.class, () -> json.serialize(new Measured(
                List.of(BigDecimal.ONE, new BigDecimal("9".repeat(600) + "." + "9".repeat(600)))), Map.of()));
        FluxException name = assertThrows(FluxException.class,
                () -> json.serialize(new Counted(Map.of("k".repeat(50_001), 1)), Map.of()));

        for (FluxException refused : List.of(text, number, decimal, name)) {
            assertTrue(refused.getMessage().contains("not read back, so it is not stored")
                    && refused.getMessage().contains("StreamReadConstraints")
                    && !refused.getMessage().contains("@JsonTypeInfo"), refused.getMessage());
        }
        assertTrue(text.getMessage().contains(Document.class.getName()), text.getMessage());
        assertEquals(new Modulus(BigInteger.TEN.pow(999)),
                json.deserialize(recorded(json.serialize(new Modulus(BigInteger.TEN.pow(999)), Map.of()))), "1,000 digits pass");
        Measured many = new Measured(java.util.Collections.nCopies(500, new BigDecimal("12345.67")));
        assertEquals(many, json.deserialize(recorded(json.serialize(many, Map.of()))), "many short numbers pass");
    }

    @Test
    void theFirstEventOfAClassTooLongForTheMapperToReadIsRefusedAsThatEventAloneAndALaterOneIsStored() {
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Modulus.class));

        FluxException refused = assertThrows(FluxException.class,
                () -> json.serialize(new Modulus(BigInteger.TEN.pow(1_000)), Map.of()));

        assertTrue(refused.getMessage().contains("so it is not stored") && refused.getMessage().contains("StreamReadConstraints"),
                refused.getMessage());
        assertEquals(new Modulus(BigInteger.ONE), json.deserialize(recorded(json.serialize(new Modulus(BigInteger.ONE), Map.of()))));
    }

    @Test
    void aMapperThatReadsLongerValuesStoresAndReadsThem() {
        ObjectMapper generous = JacksonEventSerializer.defaultObjectMapper();
        generous.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNumberLength(5_000).build());
        JacksonEventSerializer json = new JacksonEventSerializer(EventTypes.of(Modulus.class), generous);
        json.serialize(new Modulus(BigInteger.TWO), Map.of());
        Modulus large = new Modulus(BigInteger.TEN.pow(4_000));

        assertEquals(large, json.deserialize(recorded(json.serialize(large, Map.of()))));
    }

    private static RecordedEvent recorded(EventData data) {
        return RecordedEvent.of("Account-42", 3, 10, data, Instant.now());
    }

    private static RecordedEvent recorded(String type, String json) {
        return recorded(EventData.of(type, json.getBytes(StandardCharsets.UTF_8), Map.of()));
    }
}
