package dev.flux;

import dev.flux.snapshot.Snapshot;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordsTest {
    private static final byte[] BODY = "{\"amount\":5}".getBytes(StandardCharsets.UTF_8);

    @Test
    void eventDataCopiesItsBodyAndMetadataOnTheWayInAndOut() {
        byte[] body = BODY.clone();
        Map<String, String> metadata = new HashMap<>(Map.of("user", "ana"));
        EventData event = EventData.of("Credited", body, metadata);

        body[0] = 'X';
        metadata.put("user", "bob");
        event.data()[1] = 'Y';

        assertArrayEquals(BODY, event.data());
        assertEquals(Map.of("user", "ana"), event.metadata());
        assertThrows(UnsupportedOperationException.class, () -> event.metadata().put("k", "v"));
    }

    @Test
    void eventDataRefusesMissingParts() {
        assertThrows(IllegalArgumentException.class, () -> new EventData(null, "T", BODY, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new EventData(UUID.randomUUID(), " ", BODY, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new EventData(UUID.randomUUID(), "T", null, Map.of()));
        Map<String, String> withNull = new HashMap<>();
        withNull.put("k", null);
        IllegalArgumentException nullValue = assertThrows(IllegalArgumentException.class,
                () -> new EventData(UUID.randomUUID(), "T", BODY, withNull));
        assertTrue(nullValue.getMessage().contains("k"), nullValue.getMessage());
        assertEquals(Map.of(), new EventData(UUID.randomUUID(), "T", BODY, null).metadata());
    }

    @Test
    void eventDataRefusesTextUtf8CannotHoldNamingWhereItIs() {
        UUID id = UUID.randomUUID();
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                () -> new EventData(id, "Credited\uD800", BODY, Map.of()));
        IllegalArgumentException key = assertThrows(IllegalArgumentException.class,
                () -> new EventData(id, "Credited", BODY, Map.of("us\uDC00er", "ana")));
        IllegalArgumentException value = assertThrows(IllegalArgumentException.class,
                () -> new EventData(id, "Credited", BODY, Map.of("user", "an\uD83Da")));

        assertTrue(type.getMessage().startsWith("type of event " + id) && type.getMessage().contains("at index 8"),
                type.getMessage());
        assertTrue(key.getMessage().startsWith("metadata key of event " + id) && key.getMessage().contains("\\uDC00"),
                key.getMessage());
        assertTrue(value.getMessage().startsWith("metadata value of event " + id), value.getMessage());
        assertEquals("ana \uD83D\uDE00", new EventData(id, "Credited", BODY, Map.of("user", "ana \uD83D\uDE00"))
                .metadata().get("user"), "a surrogate pair is a character like any other");
    }

    @Test
    void aSnapshotRefusesAStreamIdOrTypeUtf8CannotHold() {
        Instant now = Instant.now();
        IllegalArgumentException stream = assertThrows(IllegalArgumentException.class,
                () -> new Snapshot("Account-\uD800", 0, "T", BODY, now));
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                () -> new Snapshot("Account-1", 0, "T\uDC00", BODY, now));

        assertTrue(stream.getMessage().contains("lone surrogate"), stream.getMessage());
        assertTrue(type.getMessage().startsWith("type of the snapshot of Account-1"), type.getMessage());
        assertEquals("Account-\uD83D\uDE00", new Snapshot("Account-\uD83D\uDE00", 0, "T", BODY, now).streamId());
    }

    @Test
    void eventsWithEqualContentAreEqual() {
        UUID id = UUID.randomUUID();
        assertEquals(new EventData(id, "T", BODY.clone(), Map.of()), new EventData(id, "T", BODY.clone(), Map.of()));
        Instant now = Instant.now();
        EventData data = new EventData(id, "T", BODY, Map.of("a", "b"));
        assertEquals(RecordedEvent.of("s-1", 0, 1, data, now), RecordedEvent.of("s-1", 0, 1, data, now));
        assertEquals(data, RecordedEvent.of("s-1", 0, 1, data, now).toEventData());
    }

    @Test
    void newEventIdsAreTimeOrderedVersion7AndUnique() {
        Set<UUID> ids = new HashSet<>();
        UUID previous = EventData.newEventId();
        for (int i = 0; i < 100_000; i++) {
            UUID id = EventData.newEventId();
            assertEquals(7, id.version());
            assertEquals(2, id.variant());
            assertTrue((id.getMostSignificantBits() >>> 16) >= (previous.getMostSignificantBits() >>> 16),
                    "the millisecond part never goes back");
            assertTrue(ids.add(id));
            previous = id;
        }
    }

    @Test
    void aRecordedEventsBodyReadsTheSameAsACopyOrAStreamAndNeitherChangesIt() throws Exception {
        RecordedEvent recorded = RecordedEvent.of("s-1", 0, 1, EventData.of("T", BODY, Map.of()), Instant.now());

        recorded.data()[0] = 'X';
        byte[] streamed = recorded.dataStream().readAllBytes();
        streamed[1] = 'Y';

        assertArrayEquals(BODY, recorded.dataStream().readAllBytes());
        assertArrayEquals(BODY, recorded.data());
        assertEquals(BODY.length, recorded.dataStream().available(), "each call is a new stream from the start");
        assertEquals(BODY.length, recorded.dataLength());
    }

    @Test
    void recordedEventRefusesImpossiblePlaces() {
        EventData data = EventData.of("T", BODY, Map.of());
        Instant now = Instant.now();
        assertThrows(IllegalArgumentException.class, () -> RecordedEvent.of("s-1", -1, 1, data, now));
        assertThrows(IllegalArgumentException.class, () -> RecordedEvent.of("s-1", 0, 0, data, now));
        assertThrows(IllegalArgumentException.class, () -> RecordedEvent.of("", 0, 1, data, now));
        assertThrows(IllegalArgumentException.class, () -> RecordedEvent.of("s-1", 0, 1, data, null));
        assertEquals("s", RecordedEvent.of("s-1", 0, 1, data, now).category());
    }

    @Test
    void expectedVersionsMatchAsDocumented() {
        assertTrue(ExpectedVersion.matches(ExpectedVersion.ANY, 17));
        assertTrue(ExpectedVersion.matches(ExpectedVersion.NO_STREAM, -1));
        assertTrue(ExpectedVersion.matches(3, 3));
        assertEquals(false, ExpectedVersion.matches(3, 4));
        assertThrows(IllegalArgumentException.class, () -> ExpectedVersion.requireValid(-3));
        ConcurrencyConflictException conflict = assertThrows(ConcurrencyConflictException.class,
                () -> ExpectedVersion.check("Account-42", 3, 5));
        assertTrue(conflict.getMessage().contains("Account-42") && conflict.getMessage().contains("version 3")
                && conflict.getMessage().contains("version 5"), conflict.getMessage());
    }
}
