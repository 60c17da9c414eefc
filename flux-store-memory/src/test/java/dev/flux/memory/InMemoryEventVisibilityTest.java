package dev.flux.memory;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.ToLongFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory store shows an append in its stream, its category, the log and the id index at one
 * instant: a reader that has seen an event in any of them finds it in all of them at once. Its
 * stream, category and log are separate arrays, each published by its own size; these tests race a
 * reader against a writer for long enough to land between two of those publications.
 */
class InMemoryEventVisibilityTest {
    private static final byte[] BODY = "{}".getBytes(StandardCharsets.UTF_8);

    @Test
    void anEventAReaderHasSeenInItsStreamIsInTheLogAndFoundByIdAtOnce() throws Exception {
        assertSeenEverywhere((store, after) -> store.readStream("Seen-1", after, 64), RecordedEvent::version);
    }

    @Test
    void anEventAReaderHasSeenInItsCategoryIsInTheLogAndFoundByIdAtOnce() throws Exception {
        assertSeenEverywhere((store, after) -> store.readCategory("Seen", after, 64), event -> event.position() - 1);
    }

    /**
     * Appends to {@code Seen-1} for a while as a reader tails it through {@code read} (from the cursor after
     * the last event seen) and checks each event it sees against the log, the id index and the stream.
     */
    private static void assertSeenEverywhere(BiFunction<InMemoryEventStore, Long, List<RecordedEvent>> read,
                                             ToLongFunction<RecordedEvent> cursorBefore)
            throws Exception {
        try (InMemoryEventStore store = new InMemoryEventStore()) {
            AtomicBoolean done = new AtomicBoolean();
            AtomicLong checked = new AtomicLong();
            ConcurrentLinkedQueue<String> missed = new ConcurrentLinkedQueue<>();
            Thread reader = new Thread(() -> {
                long after = 0;
                while (!done.get()) {
                    for (RecordedEvent event : read.apply(store, after)) {
                        after = cursorBefore.applyAsLong(event) + 1;
                        checked.incrementAndGet();
                        if (store.readEvent(event.eventId()).isEmpty()) {
                            missed.add("not found by id: " + event);
                        }
                        if (!store.readAll(event.position() - 1, 1).equals(List.of(event))) {
                            missed.add("not in the log: " + event);
                        }
                    }
                }
            });
            reader.start();
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            while (System.nanoTime() < end) {
                store.append("Seen-1", ExpectedVersion.ANY, List.of(EventData.of("Noted", BODY, Map.of())));
            }
            done.set(true);
            reader.join();

            assertTrue(checked.get() > 10_000, "the reader kept up with the writer, checked " + checked.get());
            assertEquals(0, missed.size(), () -> missed.size() + " of " + checked.get()
                    + " events the reader had seen were missing elsewhere, first " + missed.peek());
        }
    }
}
