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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

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

    @Test
    void anEventAReaderHasSeenIsFoundByIdWhileAppendsGoOn() throws Exception {
        try (InMemoryEventStore store = new InMemoryEventStore()) {
            AtomicBoolean done = new AtomicBoolean();
            AtomicLong checked = new AtomicLong();
            List<UUID> missed = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                long seen = 0;
                while (!done.get()) {
                    for (RecordedEvent event : store.readAll(seen, 16)) {
                        seen = event.position();
                        checked.incrementAndGet();
                        if (store.readEvent(event.eventId()).isEmpty()) {
                            missed.add(event.eventId());
                        }
                    }
                }
            });
            reader.start();
            byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            for (int i = 0; System.nanoTime() < end; i++) {
                store.append("Seen-" + (i % 50), ExpectedVersion.ANY, List.of(EventData.of("Noted", body, Map.of())));
            }
            done.set(true);
            reader.join();

            assertTrue(checked.get() > 10_000, "the reader kept up with the writer, checked " + checked.get());
            assertEquals(0, missed.size(), () -> "readEvent found nothing for " + missed.size() + " of " + checked.get()
                    + " events readAll had returned, first " + missed.subList(0, Math.min(3, missed.size())));
        }
    }

    @Test
    void idsWhoseHashesCollideAreToldApart() {
        // The table hashes msb ^ lsb: flipping the same bits in both halves keeps the hash.
        UUID first = new UUID(0x0123_4567_89AB_7DEFL, 0x8FED_CBA9_8765_4321L);
        UUID second = new UUID(first.getMostSignificantBits() ^ 0xFF00L, first.getLeastSignificantBits() ^ 0xFF00L);
        UUID unknown = new UUID(first.getMostSignificantBits() ^ 0x0F0F_0000L, first.getLeastSignificantBits() ^ 0x0F0F_0000L);
        try (InMemoryEventStore store = new InMemoryEventStore()) {
            store.append("Hash-1", ExpectedVersion.NO_STREAM, List.of(event(first, "first")));
            store.append("Hash-2", ExpectedVersion.NO_STREAM, List.of(event(second, "second")));

            assertEquals("Hash-1", store.readEvent(first).orElseThrow().streamId());
            assertEquals("Hash-2", store.readEvent(second).orElseThrow().streamId());
            assertTrue(store.readEvent(unknown).isEmpty(), "an id that only shares a hash is not found");
            assertThrows(DuplicateEventIdException.class,
                    () -> store.append("Hash-3", ExpectedVersion.ANY, List.of(event(second, "again"))));
            assertEquals(1, store.append("Hash-3", ExpectedVersion.NO_STREAM,
                    List.of(event(unknown, "third"), event(UUID.randomUUID(), "fourth"))));
            assertEquals("Hash-3", store.readEvent(unknown).orElseThrow().streamId());
        }
    }

    private static EventData event(UUID id, String text) {
        return new EventData(id, "Noted", ("{\"text\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
    }
}
