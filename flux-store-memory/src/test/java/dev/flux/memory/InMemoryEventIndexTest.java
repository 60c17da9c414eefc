package dev.flux.memory;

import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory store's event-id table past many growths: every id found, no false hits, duplicates refused. */
class InMemoryEventIndexTest {
    @Test
    void everyEventIsFoundByIdAfterTheTableGrewManyTimes() {
        try (InMemoryEventStore store = new InMemoryEventStore()) {
            List<EventData> written = new ArrayList<>();
            for (int i = 0; i < 20_000; i += 4) {
                List<EventData> batch = new ArrayList<>();
                for (int j = 0; j < 4; j++) {
                    batch.add(EventData.of("Noted", ("{\"n\":" + (i + j) + "}").getBytes(StandardCharsets.UTF_8), Map.of()));
                }
                store.append("Index-" + (i % 97), ExpectedVersion.ANY, batch);
                written.addAll(batch);
            }

            for (EventData event : written) {
                RecordedEvent found = store.readEvent(event.eventId()).orElseThrow(() -> new AssertionError("lost " + event.eventId()));
                assertEquals(event.eventId(), found.eventId());
                assertEquals(new String(event.data(), StandardCharsets.UTF_8), new String(found.data(), StandardCharsets.UTF_8));
            }
            for (int i = 0; i < 5_000; i++) {
                assertTrue(store.readEvent(UUID.randomUUID()).isEmpty(), "an unknown id is not found");
            }
            EventData again = written.get(12_345);
            assertThrows(DuplicateEventIdException.class,
                    () -> store.append("Index-0", ExpectedVersion.ANY, List.of(again)));
            assertEquals(20_000, store.lastPosition());
        }
    }
}
