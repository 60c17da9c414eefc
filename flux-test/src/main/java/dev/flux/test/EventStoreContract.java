package dev.flux.test;

import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The promises of {@link EventStore}, as a JUnit 5 suite every store runs unchanged. A store's test
 * extends it and supplies a fresh, empty store; a durable store also says how to close and reopen it:
 *
 * <pre>{@code
 * class InMemoryEventStoreTest extends EventStoreContract {
 *     protected EventStore newStore() { return new InMemoryEventStore(); }
 * }
 * }</pre>
 *
 * The contract reads as a caller must (in pages, until an empty page), so it also holds for stores
 * that return short pages; run it once more through {@link OneEventPerReadStore} to prove that the
 * store's own callers do the same. It covers empty reads, byte-for-byte round trips, versions,
 * expected versions, conflicts, all-or-none appends, event id uniqueness, reads by category and by
 * id, message-db stream names, bad arguments, concurrency (one stream and many streams, with a
 * reader tailing the global log) and, for durable stores, reopening.
 */
public abstract class EventStoreContract {
    /** Threads in the concurrency tests. */
    protected static final int WRITERS = 8;

    /** The store under test; a fresh one for every test, closed after it. */
    protected EventStore store;

    /** A new, empty store. */
    protected abstract EventStore newStore() throws Exception;

    /**
     * Closes {@code current} and opens the same store again, as a process restart would. A durable
     * store overrides this together with {@link #isDurable()}; the default refuses.
     */
    protected EventStore reopen(EventStore current) throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " declares a store that cannot be reopened");
    }

    /** Whether the store keeps its events across {@link #reopen}. Declared by the store's test. */
    protected boolean isDurable() {
        return false;
    }

    /** Appends per writer thread in the concurrency tests; a slow durable store may lower it, not below 20. */
    protected int appendsPerWriter() {
        return 100;
    }

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
    }

    // ---- empty store ----

    @Test
    void anEmptyStoreHasNothingToRead() {
        assertEquals(List.of(), store.readStream("account-1", 0, 10));
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("account-1"));
        assertEquals(List.of(), store.readAll(0, 10));
        assertEquals(List.of(), store.readCategory("account", 0, 10));
        assertEquals(Optional.empty(), store.readEvent(UUID.randomUUID()));
    }

    // ---- append and read back ----

    @Test
    void anAppendedEventReadsBackByteForByte() {
        byte[] body = "{\"amount\":100,\"note\":\"caf\u00e9 \u2615\"}".getBytes(StandardCharsets.UTF_8);
        Map<String, String> metadata = Map.of("correlation_id", UUID.randomUUID().toString(),
                "causation_id", UUID.randomUUID().toString(), "user", "ana");
        EventData event = new EventData(UUID.randomUUID(), "AccountCredited", body, metadata);
        Instant before = Instant.now().minusSeconds(5);

        long version = store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event));

        assertEquals(0, version);
        List<RecordedEvent> stream = readStream("account-1");
        assertEquals(1, stream.size());
        RecordedEvent recorded = stream.get(0);
        assertEquals("account-1", recorded.streamId());
        assertEquals(0, recorded.version());
        assertTrue(recorded.position() >= 1, "positions start at 1, was " + recorded.position());
        assertEquals(event.eventId(), recorded.eventId());
        assertEquals("AccountCredited", recorded.type());
        assertArrayEquals(body, recorded.data());
        assertEquals(metadata, recorded.metadata());
        assertTrue(!recorded.recordedAt().isBefore(before) && !recorded.recordedAt().isAfter(Instant.now().plusSeconds(5)),
                "recordedAt is about now, was " + recorded.recordedAt());
        assertEquals(stream, readAll());
        assertEquals(Optional.of(recorded), store.readEvent(event.eventId()));
    }

    @Test
    void emptyBodiesEmptyMetadataAndLargeBodiesRoundTrip() {
        byte[] large = new byte[256 * 1024];
        for (int i = 0; i < large.length; i++) {
            large[i] = (byte) (i * 31);
        }
        List<EventData> events = List.of(event("Empty", new byte[0], Map.of()), event("Large", large, Map.of()),
                event("Binary", new byte[] {0, -1, 127, -128, 10, 13}, Map.of("k", "")));

        store.append("blob-1", ExpectedVersion.NO_STREAM, events);

        List<RecordedEvent> stream = readStream("blob-1");
        assertEquals(3, stream.size());
        for (int i = 0; i < events.size(); i++) {
            assertArrayEquals(events.get(i).data(), stream.get(i).data(), "body of " + events.get(i).type());
            assertEquals(events.get(i).metadata(), stream.get(i).metadata());
        }
    }

    @Test
    void versionsCountFromZeroAcrossAppends() {
        assertEquals(2, store.append("account-1", ExpectedVersion.NO_STREAM, events(3)));
        assertEquals(4, store.append("account-1", 2, events(2)));
        assertEquals(5, store.append("account-1", ExpectedVersion.ANY, events(1)));

        assertEquals(5, store.streamVersion("account-1"));
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), readStream("account-1").stream().map(RecordedEvent::version).toList());
    }

    @Test
    void readStreamStartsAtTheGivenVersionAndReturnsAtMostMaxCount() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(10));

        List<RecordedEvent> page = store.readStream("account-1", 4, 3);

        assertFalse(page.isEmpty(), "events exist from version 4");
        assertTrue(page.size() <= 3, "at most maxCount, got " + page.size());
        assertEquals(4, page.get(0).version());
        for (int i = 1; i < page.size(); i++) {
            assertEquals(page.get(i - 1).version() + 1, page.get(i).version());
        }
        assertEquals(List.of(), store.readStream("account-1", 10, 5));
        assertEquals(List.of(), store.readStream("account-1", 0, 0));
    }

    @Test
    void streamsAreKeptApart() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        store.append("account-2", ExpectedVersion.NO_STREAM, events(3));
        store.append("account-1", 1, events(1));

        assertEquals(3, readStream("account-1").size());
        assertEquals(3, readStream("account-2").size());
        assertTrue(readStream("account-1").stream().allMatch(e -> e.streamId().equals("account-1")));
        assertEquals(2, store.streamVersion("account-1"));
        assertEquals(2, store.streamVersion("account-2"));
    }

    // ---- expected versions and conflicts ----

    @Test
    void noStreamIsRefusedOnAStreamThatExists() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));

        ConcurrencyConflictException conflict = assertThrows(ConcurrencyConflictException.class,
                () -> store.append("account-1", ExpectedVersion.NO_STREAM, events(1)));

        assertEquals("account-1", conflict.streamId());
        assertEquals(ExpectedVersion.NO_STREAM, conflict.expectedVersion());
        assertEquals(0, conflict.actualVersion());
        assertTrue(conflict.getMessage().contains("account-1"), conflict.getMessage());
    }

    @Test
    void aWrongExactVersionIsRefusedNamingExpectedAndActual() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(3));

        ConcurrencyConflictException behind = assertThrows(ConcurrencyConflictException.class,
                () -> store.append("account-1", 1, events(1)));
        ConcurrencyConflictException ahead = assertThrows(ConcurrencyConflictException.class,
                () -> store.append("account-1", 5, events(1)));
        ConcurrencyConflictException missing = assertThrows(ConcurrencyConflictException.class,
                () -> store.append("account-2", 0, events(1)));

        assertEquals(1, behind.expectedVersion());
        assertEquals(2, behind.actualVersion());
        assertEquals(5, ahead.expectedVersion());
        assertEquals(ExpectedVersion.NO_STREAM, missing.actualVersion());
    }

    @Test
    void anyAppendsToNewAndExistingStreams() {
        assertEquals(0, store.append("account-1", ExpectedVersion.ANY, events(1)));
        assertEquals(2, store.append("account-1", ExpectedVersion.ANY, events(2)));
    }

    @Test
    void aConflictLeavesNothingWritten() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        List<RecordedEvent> logBefore = readAll();
        List<EventData> refused = events(3);

        assertThrows(ConcurrencyConflictException.class, () -> store.append("account-1", 0, refused));

        assertEquals(logBefore, readAll());
        assertEquals(1, store.streamVersion("account-1"));
        for (EventData event : refused) {
            assertEquals(Optional.empty(), store.readEvent(event.eventId()));
        }
        assertEquals(2, store.append("account-1", 1, refused.subList(0, 1)), "the refused events can be appended later");
    }

    // ---- atomicity and event ids ----

    @Test
    void aBatchWithAnExistingEventIdIsRefusedWhole() {
        EventData first = event("Opened");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(first));
        List<RecordedEvent> logBefore = readAll();
        EventData fresh = event("Credited");
        EventData reused = new EventData(first.eventId(), "Credited", bytes("{}"), Map.of());

        DuplicateEventIdException duplicate = assertThrows(DuplicateEventIdException.class,
                () -> store.append("account-2", ExpectedVersion.ANY, List.of(fresh, reused)));

        assertEquals(first.eventId(), duplicate.eventId());
        assertTrue(duplicate.getMessage().contains(first.eventId().toString()), duplicate.getMessage());
        assertEquals(logBefore, readAll());
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("account-2"));
        assertEquals(Optional.empty(), store.readEvent(fresh.eventId()));
    }

    @Test
    void anEventIdRepeatedInOneBatchIsRefusedWhole() {
        EventData event = event("Credited");

        assertThrows(DuplicateEventIdException.class,
                () -> store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event, event)));

        assertEquals(List.of(), readAll());
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("account-1"));
    }

    @Test
    void anEventIdIsUniqueAcrossStreams() {
        EventData event = event("Credited");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event));

        assertThrows(DuplicateEventIdException.class,
                () -> store.append("account-2", ExpectedVersion.NO_STREAM, List.of(event)));

        assertEquals(1, readAll().size());
    }

    @Test
    void aMultiEventAppendIsContiguousInStreamAndLog() {
        store.append("other-1", ExpectedVersion.NO_STREAM, events(1));
        List<EventData> batch = events(5);

        store.append("account-1", ExpectedVersion.NO_STREAM, batch);

        List<RecordedEvent> all = readAll();
        List<RecordedEvent> tail = all.subList(1, all.size());
        assertEquals(batch.stream().map(EventData::eventId).toList(), tail.stream().map(RecordedEvent::eventId).toList());
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L), tail.stream().map(RecordedEvent::version).toList());
    }

    // ---- the global log ----

    @Test
    void theGlobalLogIsInCommitOrderWithGrowingPositions() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        store.append("account-2", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-1", 1, events(1));

        List<RecordedEvent> all = readAll();

        assertEquals(List.of("account-1", "account-1", "account-2", "account-1"),
                all.stream().map(RecordedEvent::streamId).toList());
        assertStrictlyIncreasing(all);
        assertTrue(all.get(0).position() >= 1);
        List<RecordedEvent> afterSecond = readAllAfter(all.get(1).position());
        assertEquals(all.subList(2, 4), afterSecond);
        assertEquals(List.of(), store.readAll(all.get(3).position(), 10));
    }

    @Test
    void lastPositionIsThePositionOfTheNewestEvent() {
        assertEquals(0, store.lastPosition(), "an empty log");
        for (int i = 0; i < 37; i++) {
            store.append("last-" + (i % 3), ExpectedVersion.ANY, events(1 + i % 4));
            List<RecordedEvent> all = readAll();
            assertEquals(all.get(all.size() - 1).position(), store.lastPosition(), "after append " + i);
        }
    }

    @Test
    void readAllReturnsAtMostMaxCount() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(10));

        assertTrue(store.readAll(0, 4).size() <= 4);
        assertFalse(store.readAll(0, 4).isEmpty());
        assertEquals(List.of(), store.readAll(0, 0));
    }

    @Test
    void readEventFindsEveryEventByItsId() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(3));
        store.append("order-9", ExpectedVersion.NO_STREAM, events(2));

        for (RecordedEvent event : readAll()) {
            assertEquals(Optional.of(event), store.readEvent(event.eventId()));
        }
    }

    // ---- categories and stream names ----

    @Test
    void categoriesFollowMessageDbStreamNames() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-1+2", ExpectedVersion.NO_STREAM, events(1));
        store.append("account:command-5", ExpectedVersion.NO_STREAM, events(1));
        store.append("accountant-1", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-7-x", ExpectedVersion.NO_STREAM, events(1));
        store.append("account", ExpectedVersion.NO_STREAM, events(1));

        assertEquals(List.of("account-1", "account-1+2", "account-7-x", "account"), streamsOf(readCategory("account", 0)));
        assertEquals(List.of("account:command-5"), streamsOf(readCategory("account:command", 0)));
        assertEquals(List.of("accountant-1"), streamsOf(readCategory("accountant", 0)));
        assertEquals(List.of(), readCategory("acc", 0));
    }

    @Test
    void readCategoryIsInPositionOrderAfterTheGivenPosition() {
        for (int i = 0; i < 5; i++) {
            store.append("account-" + i, ExpectedVersion.NO_STREAM, events(1));
            store.append("order-" + i, ExpectedVersion.NO_STREAM, events(1));
        }
        List<RecordedEvent> accounts = readCategory("account", 0);
        assertEquals(5, accounts.size());
        assertStrictlyIncreasing(accounts);

        List<RecordedEvent> afterSecond = readCategory("account", accounts.get(1).position());

        assertEquals(accounts.subList(2, 5), afterSecond);
        List<RecordedEvent> page = store.readCategory("account", 0, 2);
        assertFalse(page.isEmpty());
        assertTrue(page.size() <= 2);
        assertEquals(accounts.get(0), page.get(0));
    }

    // ---- bad arguments ----

    @Test
    void badArgumentsAreRefusedWithIllegalArgumentException() {
        List<EventData> one = events(1);
        List<EventData> withNull = new ArrayList<>(events(1));
        withNull.add(null);
        assertThrows(IllegalArgumentException.class, () -> store.append(null, ExpectedVersion.ANY, one));
        assertThrows(IllegalArgumentException.class, () -> store.append("", ExpectedVersion.ANY, one));
        assertThrows(IllegalArgumentException.class, () -> store.append("  ", ExpectedVersion.ANY, one));
        assertThrows(IllegalArgumentException.class, () -> store.append("account-1", ExpectedVersion.ANY, List.of()));
        assertThrows(IllegalArgumentException.class, () -> store.append("account-1", ExpectedVersion.ANY, null));
        assertThrows(IllegalArgumentException.class, () -> store.append("account-1", ExpectedVersion.ANY, withNull));
        assertThrows(IllegalArgumentException.class, () -> store.append("account-1", -3, one));
        assertThrows(IllegalArgumentException.class, () -> store.readStream(null, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readStream(" ", 0, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readStream("account-1", -1, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readStream("account-1", 0, -1));
        assertThrows(IllegalArgumentException.class, () -> store.streamVersion(null));
        assertThrows(IllegalArgumentException.class, () -> store.streamVersion(""));
        assertThrows(IllegalArgumentException.class, () -> store.readAll(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readAll(0, -1));
        assertThrows(IllegalArgumentException.class, () -> store.readCategory(null, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readCategory("", 0, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readCategory("account-1", 0, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readCategory("account", -1, 10));
        assertThrows(IllegalArgumentException.class, () -> store.readCategory("account", 0, -1));
        assertThrows(IllegalArgumentException.class, () -> store.readEvent(null));

        assertEquals(List.of(), readAll(), "no refused call wrote anything");
    }

    @Test
    void aStreamIdUtf8CannotHoldIsRefusedAndSupplementaryCharactersRoundTrip() {
        List<EventData> one = events(1);
        for (String lone : List.of("account-\uD800", "account-\uDC00x", "account-a\uDBFF")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> store.append(lone, ExpectedVersion.ANY, one));
            assertTrue(refused.getMessage().contains("lone surrogate"), refused.getMessage());
            assertThrows(IllegalArgumentException.class, () -> store.readStream(lone, 0, 10));
            assertThrows(IllegalArgumentException.class, () -> store.streamVersion(lone));
        }
        assertThrows(IllegalArgumentException.class, () -> store.readCategory("acc\uD800", 0, 10));
        assertEquals(List.of(), readAll(), "no refused call wrote anything");

        String emoji = "account-\uD83D\uDE00";       // U+1F600, a surrogate pair in Java
        String replacement = "account-\uFFFD";        // what an encoder writes for a lone surrogate
        store.append(emoji, ExpectedVersion.NO_STREAM, one);
        store.append(replacement, ExpectedVersion.NO_STREAM, events(2));

        List<RecordedEvent> read = readStream(emoji);
        assertEquals(1, read.size());
        assertEquals(emoji, read.get(0).streamId());
        assertEquals(one.get(0).eventId(), read.get(0).eventId());
        assertEquals(2, readStream(replacement).size(), "the streams are kept apart");
        assertEquals(0, store.streamVersion(emoji));
    }

    // ---- concurrency ----

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void twoWritersAtTheSameExpectedVersionExactlyOneWins() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 20; round++) {
                String streamId = "race-" + round;
                store.append(streamId, ExpectedVersion.NO_STREAM, events(1));
                CyclicBarrier start = new CyclicBarrier(2);
                Callable<Outcome> writer = () -> {
                    start.await();
                    return attempt(() -> store.append(streamId, 0, events(2)));
                };
                Future<Outcome> first = pool.submit(writer);
                Future<Outcome> second = pool.submit(writer);
                List<Outcome> outcomes = List.of(first.get(), second.get());

                assertEquals(1, outcomes.stream().filter(o -> o == Outcome.APPENDED).count(), "round " + round + ": " + outcomes);
                assertEquals(1, outcomes.stream().filter(o -> o == Outcome.CONFLICT).count(), "round " + round + ": " + outcomes);
                assertEquals(2, store.streamVersion(streamId));
                assertEquals(3, readStream(streamId).size());
            }
        } finally {
            shutdown(pool);
        }
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void concurrentWritersOnManyStreamsWithATailingReaderLoseNothing() throws Exception {
        int perWriter = appendsPerWriter();
        int expected = WRITERS * perWriter * 2;
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
        try {
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<List<RecordedEvent>> tail = pool.submit(() -> tailUntil(writing, expected));
            List<Future<?>> writers = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            for (int w = 0; w < WRITERS; w++) {
                String streamId = "writer-" + w;
                writers.add(pool.submit(() -> {
                    start.await();
                    long version = ExpectedVersion.NO_STREAM;
                    for (int i = 0; i < perWriter; i++) {
                        version = store.append(streamId, version, events(2));
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> writer : writers) {
                writer.get();
            }
            writing.set(false);
            List<RecordedEvent> seen = tail.get();

            List<RecordedEvent> all = readAll();
            assertEquals(expected, all.size());
            assertStrictlyIncreasing(all);
            assertEquals(ids(all), ids(seen), "the tailing reader saw every event once, in log order");
            for (int w = 0; w < WRITERS; w++) {
                List<RecordedEvent> stream = readStream("writer-" + w);
                assertEquals(perWriter * 2, stream.size());
                for (int v = 0; v < stream.size(); v++) {
                    assertEquals(v, stream.get(v).version(), "writer-" + w + " has no gap");
                }
            }
        } finally {
            shutdown(pool);
        }
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void concurrentWritersOnOneStreamGetGaplessVersionsAndExactConflicts() throws Exception {
        int perWriter = Math.max(20, appendsPerWriter() / 2);
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
        try {
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<List<RecordedEvent>> tail = pool.submit(() -> tailUntil(writing, 0));
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<UUID>>> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                writers.add(pool.submit(() -> {
                    start.await();
                    List<UUID> committed = new ArrayList<>();
                    int done = 0;
                    while (done < perWriter) {
                        long version = store.streamVersion("shared-1");
                        List<EventData> batch = events(1 + done % 3);
                        if (attempt(() -> store.append("shared-1", version, batch)) == Outcome.APPENDED) {
                            batch.forEach(e -> committed.add(e.eventId()));
                            done++;
                        }
                    }
                    return committed;
                }));
            }
            start.countDown();
            Set<UUID> committed = new HashSet<>();
            for (Future<List<UUID>> writer : writers) {
                committed.addAll(writer.get());
            }
            writing.set(false);
            List<RecordedEvent> seen = tail.get();

            List<RecordedEvent> stream = readStream("shared-1");
            assertEquals(committed.size(), stream.size(), "every acknowledged event is there, nothing else");
            assertEquals(committed, new HashSet<>(ids(stream)));
            for (int v = 0; v < stream.size(); v++) {
                assertEquals(v, stream.get(v).version());
            }
            List<RecordedEvent> all = readAll();
            assertStrictlyIncreasing(all);
            assertEquals(ids(all), ids(seen), "the tailing reader saw every event once, in log order");
        } finally {
            shutdown(pool);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void anEventAReaderHasSeenInTheLogIsFoundByIdAtOnce() throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<List<UUID>> reader = pool.submit(() -> {
                List<UUID> missed = new ArrayList<>();
                long seen = 0;
                boolean last = false;
                while (!last) {
                    last = !writing.get();
                    for (RecordedEvent event : store.readAll(seen, 100)) {
                        seen = event.position();
                        if (store.readEvent(event.eventId()).isEmpty()) {
                            missed.add(event.eventId());
                        }
                    }
                }
                return missed;
            });
            for (int i = 0; i < 300; i++) {
                store.append("seen-" + (i % 7), ExpectedVersion.ANY, events(1 + i % 2));
            }
            writing.set(false);

            assertEquals(List.of(), reader.get(), "readEvent found nothing for events readAll had returned");
        } finally {
            writing.set(false);
            shutdown(pool);
        }
    }

    @Test
    void anAppendListenerIsToldOnlyAfterTheEventsAreVisible() {
        List<Integer> seenByListener = new ArrayList<>();
        Runnable stop = store.onAppend(() -> seenByListener.add(readAll().size()));

        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        stop.run();
        store.append("account-1", 1, events(1));

        assertTrue(seenByListener.isEmpty() || seenByListener.equals(List.of(2)),
                "a store either never calls the listener (readers poll) or calls it once the events are readable: "
                        + seenByListener);
        assertThrows(IllegalArgumentException.class, () -> store.onAppend(null));
    }

    // ---- durability ----

    @Test
    void reopeningKeepsEverything() throws Exception {
        assumeTrue(isDurable(), "this store declares itself not durable: nothing to reopen");
        store.append("account-1", ExpectedVersion.NO_STREAM, events(3));
        store.append("order-1", ExpectedVersion.NO_STREAM, events(2));
        List<RecordedEvent> before = readAll();

        store = reopen(store);

        assertEquals(before, readAll());
        assertEquals(2, store.streamVersion("account-1"));
        assertEquals(before.subList(0, 3), readStream("account-1"));
        assertEquals(before.subList(0, 3), readCategory("account", 0));
        assertEquals(Optional.of(before.get(4)), store.readEvent(before.get(4).eventId()));
        assertThrows(ConcurrencyConflictException.class, () -> store.append("account-1", 1, events(1)));
        assertThrows(DuplicateEventIdException.class,
                () -> store.append("account-9", ExpectedVersion.ANY, List.of(before.get(0).toEventData())));
        store.append("account-1", 2, events(1));
        List<RecordedEvent> after = readAll();
        assertEquals(6, after.size());
        assertTrue(after.get(5).position() > before.get(4).position(), "positions keep growing after a reopen");
    }

    // ---- helpers for subclasses and the tests above ----

    /** A new event with a JSON body naming its type. */
    protected static EventData event(String type) {
        return event(type, bytes("{\"type\":\"" + type + "\",\"n\":" + System.nanoTime() + "}"), Map.of("source", "contract"));
    }

    /** A new event of this type, body and metadata. */
    protected static EventData event(String type, byte[] data, Map<String, String> metadata) {
        return new EventData(UUID.randomUUID(), type, data, metadata);
    }

    /** {@code count} new events. */
    protected static List<EventData> events(int count) {
        List<EventData> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            events.add(event("Event" + i));
        }
        return events;
    }

    /** The whole stream, read in pages until an empty page. */
    protected List<RecordedEvent> readStream(String streamId) {
        List<RecordedEvent> events = new ArrayList<>();
        while (true) {
            List<RecordedEvent> page = store.readStream(streamId, events.size(), 100);
            if (page.isEmpty()) {
                return events;
            }
            assertEquals(events.size(), page.get(0).version(), "a stream page starts at the version asked for");
            events.addAll(page);
        }
    }

    /** The whole global log, read in pages until an empty page. */
    protected List<RecordedEvent> readAll() {
        return readAllAfter(0);
    }

    /** The global log after {@code position}, read in pages until an empty page. */
    protected List<RecordedEvent> readAllAfter(long position) {
        List<RecordedEvent> events = new ArrayList<>();
        long after = position;
        while (true) {
            List<RecordedEvent> page = store.readAll(after, 100);
            if (page.isEmpty()) {
                return events;
            }
            events.addAll(page);
            after = page.get(page.size() - 1).position();
        }
    }

    /** A category after {@code position}, read in pages until an empty page. */
    protected List<RecordedEvent> readCategory(String category, long position) {
        List<RecordedEvent> events = new ArrayList<>();
        long after = position;
        while (true) {
            List<RecordedEvent> page = store.readCategory(category, after, 100);
            if (page.isEmpty()) {
                return events;
            }
            events.addAll(page);
            after = page.get(page.size() - 1).position();
        }
    }

    protected static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Fails unless positions strictly increase. */
    protected static void assertStrictlyIncreasing(List<RecordedEvent> events) {
        for (int i = 1; i < events.size(); i++) {
            if (events.get(i).position() <= events.get(i - 1).position()) {
                fail("positions must strictly increase, but " + events.get(i - 1) + " is followed by " + events.get(i));
            }
        }
    }

    private enum Outcome { APPENDED, CONFLICT }

    private static Outcome attempt(Runnable append) {
        try {
            append.run();
            return Outcome.APPENDED;
        } catch (ConcurrencyConflictException conflict) {
            return Outcome.CONFLICT;
        }
    }

    /**
     * Polls the global log as a subscription would until writing has stopped and a final read finds
     * nothing more; returns what it saw, checking as it goes that no position repeats or goes back.
     */
    private List<RecordedEvent> tailUntil(AtomicBoolean writing, int expected) {
        List<RecordedEvent> seen = new ArrayList<>();
        long after = 0;
        while (true) {
            boolean lastRound = !writing.get();
            List<RecordedEvent> page = store.readAll(after, 50);
            for (RecordedEvent event : page) {
                assertTrue(event.position() > after, "a tailing reader got position " + event.position()
                        + " after having seen " + after);
                after = event.position();
                seen.add(event);
            }
            if (page.isEmpty()) {
                if (lastRound && (expected == 0 || seen.size() >= expected) || Thread.currentThread().isInterrupted()) {
                    return seen;
                }
                LockSupport.parkNanos(200_000);
            }
        }
    }

    private static List<UUID> ids(List<RecordedEvent> events) {
        return events.stream().map(RecordedEvent::eventId).toList();
    }

    private static List<String> streamsOf(List<RecordedEvent> events) {
        return events.stream().map(RecordedEvent::streamId).toList();
    }

    private static void shutdown(ExecutorService pool) throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "the test's threads stopped");
    }
}
