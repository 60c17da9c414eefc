package dev.flux.test;

import dev.flux.AppendListeners;
import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The promises of {@link EventStore}, as a JUnit 5 suite every store runs unchanged. A store's test
 * extends it and supplies a fresh, empty store; a durable store also says how to close and reopen it
 * (without, the reopening test is skipped as for a store that keeps nothing):
 *
 * <pre>{@code
 * class InMemoryEventStoreTest extends EventStoreContract {
 *     protected EventStore newStore() { return new InMemoryEventStore(); }
 * }
 *
 * class XodusEventStoreTest extends EventStoreContract {
 *     private @TempDir Path directory;
 *     protected EventStore newStore() { return new XodusEventStore(directory); }
 *     protected boolean isDurable() { return true; }
 *     protected EventStore reopen(EventStore current) { current.close(); return newStore(); }
 * }
 * }</pre>
 *
 * A decorator of another store (metrics, logging) extends {@link dev.flux.ForwardingEventStore}, or
 * forwards all nine of its methods itself, the three with defaults too: kept, {@code onAppend}'s default
 * never tells the wrapped store's appends (subscriptions poll instead of being woken) and cannot refuse
 * after close, which the contract catches, and the defaults of {@code readCategory} and
 * {@code lastPosition} scan the global log. A store written from scratch that keeps the defaults of
 * {@code onAppend} or {@code readCategory} overrides them to refuse after close (then answers as the
 * default does): the defaults cannot tell that the store closed. A case a store fails says what the
 * store did and, where it can tell, what to override.
 *
 * The contract reads as a caller must (in pages, until an empty page), so it also holds for stores
 * that return short pages; run it once more through {@link OneEventPerReadStore} to prove that the
 * store's own callers do the same. It covers empty reads, byte-for-byte round trips (metadata and
 * types of any text too), recorded times (to the millisecond, one per append), versions, pages (each
 * one the next slice of its stream, category or log), expected versions, conflicts and what they name,
 * all-or-none appends (one too large for the store too: kept whole or refused whole), event id
 * uniqueness (a batch repeating one is a duplicate whatever the version), reads by category (names a
 * query language would take for a pattern too) and by id, message-db stream names (prefixes of one
 * another, odd and very long ones), bad arguments, calls from a thread whose interrupt flag is set,
 * concurrency (one stream and many streams, with readers tailing the global log and a category; racing
 * appends of one event id; an event seen in one read found in every other at once), append listeners
 * (on the appending thread) and what removes them, calls after close (each an
 * {@link IllegalStateException}, {@code onAppend} too; closing twice) and, for durable stores, reopening.
 */
public abstract class EventStoreContract {
    /** Threads in the concurrency tests. */
    protected static final int WRITERS = 8;

    /** How long a reader tailing the log waits, once writing stopped, for events it has not seen yet. */
    private static final long CATCH_UP_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Page sizes the paging tests ask for: one, below and above a batch's size, and unbounded. */
    private static final int[] PAGE_SIZES = {1, 2, 3, 6, 100, Integer.MAX_VALUE};

    /** The store under test; a fresh one for every test, closed after it. */
    protected EventStore store;

    /** A new, empty store. */
    protected abstract EventStore newStore() throws Exception;

    /**
     * Closes {@code current} and opens the same store again, as a process restart would. A durable
     * store overrides this together with {@link #isDurable()}; the default refuses.
     */
    protected EventStore reopen(EventStore current) throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " declares a durable store (isDurable()"
                + " returns true) but does not override reopen(EventStore): override it to close the store it is given"
                + " and open the same store again, as a process restart would");
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
    void metadataOfManyEntriesAndAnyTextRoundTrips() {
        Map<String, String> many = new LinkedHashMap<>();
        for (int i = 0; i < 300; i++) {
            many.put("key-" + i, "value-" + i);
        }
        Map<String, String> odd = Map.of("", "an empty key", "a.b", "dotted", "$set", "dollar", "_id", "underscore id",
                "caf\u00e9 \u2615 \uD83D\uDE00", "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \u4e2d\u6587",
                "nul\u0000key", "nul\u0000value", "long", "x".repeat(70_000), "json", "{\"nested\":[1,2]}",
                "correlation_id", UUID.randomUUID().toString());
        List<EventData> events = List.of(event("Many", bytes("{}"), many), event("Odd", bytes("{}"), odd));

        store.append("meta-1", ExpectedVersion.NO_STREAM, events);

        List<RecordedEvent> stream = readStream("meta-1");
        assertEquals(many, stream.get(0).metadata());
        assertEquals(odd, stream.get(1).metadata());
        assertEquals(stream, readAll());
        assertEquals(stream, readCategory("meta", 0));
        assertEquals(Optional.of(stream.get(1)), store.readEvent(events.get(1).eventId()));
    }

    @Test
    void eventTypesOfAnyTextRoundTrip() {
        List<String> types = List.of("AccountCredited", "account.credited.v2", "Account$Credited", "Caf\u00e9 \u2615 \uD83D\uDE00",
                "\u4e2d\u6587", "with space", "nul\u0000type", "T".repeat(10_000), "{\"json\":true}");
        List<EventData> events = types.stream().map(type -> event(type, bytes("{}"), Map.of())).toList();

        store.append("typed-1", ExpectedVersion.NO_STREAM, events);

        assertEquals(types, readStream("typed-1").stream().map(RecordedEvent::type).toList());
        assertEquals(types, readAll().stream().map(RecordedEvent::type).toList());
        for (EventData event : events) {
            assertEquals(event.type(), store.readEvent(event.eventId()).orElseThrow().type());
        }
    }

    @Test
    void recordedAtIsToTheMillisecondAndTheSameForEveryEventOfAnAppend() {
        Instant before = Instant.now().minusSeconds(5);
        store.append("account-1", ExpectedVersion.NO_STREAM, events(3));
        store.append("account-2", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-1", 2, events(2));

        List<RecordedEvent> all = readAll();

        for (RecordedEvent event : all) {
            assertEquals(0, event.recordedAt().getNano() % 1_000_000, "every store records the time to the millisecond"
                    + " (MongoDB's dates hold no finer), so that an event's time reads the same whichever store holds it: "
                    + event);
            assertTrue(!event.recordedAt().isBefore(before) && !event.recordedAt().isAfter(Instant.now().plusSeconds(5)),
                    "recordedAt is about now, was " + event.recordedAt());
        }
        assertEquals(1, all.subList(0, 3).stream().map(RecordedEvent::recordedAt).distinct().count(),
                "one append, one time: " + all);
        assertEquals(1, all.subList(4, 6).stream().map(RecordedEvent::recordedAt).distinct().count(),
                "one append, one time: " + all);
        assertEquals(all.subList(0, 3), readCategory("account", 0).subList(0, 3), "the same time from every read");
        assertEquals(Optional.of(all.get(5)), store.readEvent(all.get(5).eventId()));
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
    void everyReadStreamPageIsTheNextSliceOfTheStream() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-1", 0, events(4));
        store.append("account-1", 4, events(5));
        store.append("account-1", 9, events(1));
        List<RecordedEvent> stream = readStream("account-1");
        assertEquals(11, stream.size());

        for (int from = 0; from <= stream.size(); from++) {
            for (int maxCount : PAGE_SIZES) {
                assertNextSlice(stream, from, maxCount, store.readStream("account-1", from, maxCount),
                        "readStream(account-1, " + from + ", " + maxCount + ")");
            }
        }
        assertEquals(List.of(), store.readStream("account-1", 0, 0));
        assertEquals(List.of(), store.readStream("account-1", Integer.MAX_VALUE + 5L, 3));
        assertEquals(List.of(), store.readStream("account-1", Long.MAX_VALUE, Integer.MAX_VALUE));
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

        assertEquals("account-1", behind.streamId());
        assertEquals(1, behind.expectedVersion());
        assertEquals(2, behind.actualVersion());
        assertEquals(5, ahead.expectedVersion());
        assertEquals(2, ahead.actualVersion());
        assertEquals("account-2", missing.streamId());
        assertEquals(0, missing.expectedVersion());
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
        assertEquals("account-2", duplicate.streamId(), "the stream of the refused append, not the one holding the id");
        assertTrue(duplicate.getMessage().contains(first.eventId().toString()), duplicate.getMessage());
        assertEquals(logBefore, readAll());
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("account-2"));
        assertEquals(Optional.empty(), store.readEvent(fresh.eventId()));
    }

    @Test
    void aBatchWhoseLaterEventTakesAnExistingIdLeavesItsStreamAsItWas() {
        EventData first = event("Opened");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(first));
        List<RecordedEvent> logBefore = readAll();
        EventData fresh = event("Credited");
        EventData reused = new EventData(first.eventId(), "Credited", bytes("{}"), Map.of());

        assertThrows(DuplicateEventIdException.class,
                () -> store.append("account-1", 0, List.of(fresh, reused, event("Debited"))));

        assertEquals(logBefore, readAll());
        assertEquals(0, store.streamVersion("account-1"));
        assertEquals(Optional.empty(), store.readEvent(fresh.eventId()));
        assertEquals(1, store.append("account-1", 0, List.of(fresh)), "the version and the fresh id are still free");
    }

    @Test
    void anEventIdRepeatedInOneBatchIsRefusedWhole() {
        EventData repeated = event("Credited");
        EventData other = event("Opened");

        DuplicateEventIdException duplicate = assertThrows(DuplicateEventIdException.class, () -> store.append(
                "account-1", ExpectedVersion.NO_STREAM, List.of(other, repeated, event("Debited"), repeated)));

        assertEquals(repeated.eventId(), duplicate.eventId());
        assertEquals("account-1", duplicate.streamId());
        assertEquals(List.of(), readAll());
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("account-1"));
        assertEquals(Optional.empty(), store.readEvent(other.eventId()));
    }

    @Test
    void anEventIdRepeatedInOneBatchIsRefusedAsADuplicateWhateverTheStreamsVersion() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        EventData repeated = event("Credited");
        List<EventData> batch = List.of(repeated, event("Debited"), repeated);

        for (long expected : new long[] {ExpectedVersion.NO_STREAM, 0, 1, 7, ExpectedVersion.ANY}) {
            DuplicateEventIdException duplicate = assertThrows(DuplicateEventIdException.class,
                    () -> store.append("account-1", expected, batch),
                    "a batch that repeats an id can never be appended, so it is refused as such, not as a conflict"
                            + " (which says to reload and retry) when expecting version " + expected);
            assertEquals(repeated.eventId(), duplicate.eventId());
            assertEquals("account-1", duplicate.streamId());
        }
        assertEquals(2, readAll().size());
        assertEquals(1, store.streamVersion("account-1"));
    }

    @Test
    void aBatchWithATakenIdAndAWrongVersionWritesNothing() {
        EventData first = event("Opened");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(first, event("Credited")));
        List<RecordedEvent> logBefore = readAll();
        EventData fresh = event("Debited");

        FluxException refused = assertThrows(FluxException.class,
                () -> store.append("account-1", 0, List.of(fresh, first)));

        assertTrue(refused instanceof ConcurrencyConflictException || refused instanceof DuplicateEventIdException,
                "either refusal may come first, but it is one of them: " + refused);
        assertEquals(logBefore, readAll());
        assertEquals(1, store.streamVersion("account-1"));
        assertEquals(Optional.empty(), store.readEvent(fresh.eventId()));
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
    void anAppendTooLargeForTheStoreIsKeptWholeOrRefusedWholeNamingItsStream() {
        store.append("blob-1", ExpectedVersion.NO_STREAM, events(1));
        byte[] seventeenMegabytes = new byte[17 << 20];
        byte[] sixMegabytes = new byte[6 << 20];
        seventeenMegabytes[seventeenMegabytes.length - 1] = 17;
        sixMegabytes[sixMegabytes.length - 1] = 6;
        List<List<EventData>> appends = List.of(
                List.of(event("Small"), event("Huge", seventeenMegabytes, Map.of())),
                List.of(event("Large", sixMegabytes, Map.of()), event("Large", sixMegabytes, Map.of()),
                        event("Large", sixMegabytes, Map.of())));

        for (List<EventData> batch : appends) {
            long version = store.streamVersion("blob-1");
            long lastPosition = store.lastPosition();
            try {
                assertEquals(version + batch.size(), store.append("blob-1", version, batch));
                List<RecordedEvent> written = store.readStream("blob-1", version + 1, batch.size());
                assertFalse(written.isEmpty());
                for (int i = 0; i < written.size(); i++) {
                    assertEquals(batch.get(i).eventId(), written.get(i).eventId());
                    assertArrayEquals(batch.get(i).data(), written.get(i).data(), "kept whole");
                }
                assertEquals(version + batch.size(), store.streamVersion("blob-1"));
            } catch (FluxException | IllegalArgumentException refused) {
                assertFalse(refused instanceof ConcurrencyConflictException || refused instanceof DuplicateEventIdException,
                        "a refusal for its size, not " + refused);
                assertTrue(refused.getMessage().contains("blob-1"), refused.getMessage());
                assertEquals(version, store.streamVersion("blob-1"), "nothing of a refused append is written");
                assertEquals(lastPosition, store.lastPosition(), "nothing of a refused append is written");
                for (EventData event : batch) {
                    assertEquals(Optional.empty(), store.readEvent(event.eventId()));
                }
            }
        }
        long version = store.streamVersion("blob-1");
        assertEquals(version + 1, store.append("blob-1", version, events(1)), "the store goes on");
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
    void everyReadAllPageIsTheNextSliceOfTheLog() {
        List<RecordedEvent> all = appendBatchesToTwoCategories();

        for (int from = 0; from <= all.size(); from++) {
            long after = from == 0 ? 0 : all.get(from - 1).position();
            for (int maxCount : PAGE_SIZES) {
                assertNextSlice(all, from, maxCount, store.readAll(after, maxCount), "readAll(" + after + ", " + maxCount + ")");
            }
        }
        long last = all.get(all.size() - 1).position();
        assertEquals(List.of(), store.readAll(0, 0));
        assertEquals(List.of(), store.readAll(last + 1, 10));
        assertEquals(List.of(), store.readAll(Long.MAX_VALUE, 10));
        assertEquals(List.of(), store.readAll(Long.MAX_VALUE - 1, Integer.MAX_VALUE));
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
        store.append("account--2", ExpectedVersion.NO_STREAM, events(1));
        store.append("account-", ExpectedVersion.NO_STREAM, events(1));
        store.append("ledger-account-9", ExpectedVersion.NO_STREAM, events(1));

        assertEquals(List.of("account-1", "account-1+2", "account-7-x", "account", "account--2", "account-"),
                streamsOf(readCategory("account", 0)));
        assertEquals(List.of("account:command-5"), streamsOf(readCategory("account:command", 0)));
        assertEquals(List.of("accountant-1"), streamsOf(readCategory("accountant", 0)));
        assertEquals(List.of("ledger-account-9"), streamsOf(readCategory("ledger", 0)));
        assertEquals(List.of(), readCategory("acc", 0));
        assertEquals(List.of(), readCategory("x", 0), "only the part before the first '-' is a category");
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
    }

    @Test
    void everyReadCategoryPageIsTheNextSliceOfTheCategory() {
        List<RecordedEvent> all = appendBatchesToTwoCategories();

        for (String category : List.of("account", "order")) {
            List<RecordedEvent> events = all.stream().filter(e -> e.category().equals(category)).toList();
            for (int from = 0; from <= events.size(); from++) {
                long after = from == 0 ? 0 : events.get(from - 1).position();
                for (int maxCount : PAGE_SIZES) {
                    assertNextSlice(events, from, maxCount, store.readCategory(category, after, maxCount),
                            "readCategory(" + category + ", " + after + ", " + maxCount + ")");
                }
            }
            for (RecordedEvent event : events) {
                assertEquals(List.of(event), store.readCategory(category, event.position() - 1, 1),
                        "after a position that is not one of the category's own");
            }
            assertEquals(List.of(), store.readCategory(category, 0, 0));
            assertEquals(List.of(), store.readCategory(category, Long.MAX_VALUE, 10));
            assertEquals(List.of(), store.readCategory(category, Long.MAX_VALUE - 1, Integer.MAX_VALUE));
        }
    }

    @Test
    void streamIdsDifferingOnlyInCaseOrUnicodeNormalizationAreDifferentStreams() {
        String composed = "caf\u00e9-1";          // the accented e as one code point (NFC)
        String decomposed = "cafe\u0301-1";       // e followed by a combining accent (NFD)
        List<String> streamIds = List.of("account-1", "Account-1", "ACCOUNT-1", "account-\u0130", "account-i",
                composed, decomposed);

        for (int i = 0; i < streamIds.size(); i++) {
            store.append(streamIds.get(i), ExpectedVersion.NO_STREAM, events(i + 1));
        }

        for (int i = 0; i < streamIds.size(); i++) {
            String streamId = streamIds.get(i);
            assertEquals(i, store.streamVersion(streamId), streamId);
            List<RecordedEvent> stream = readStream(streamId);
            assertEquals(i + 1, stream.size(), streamId);
            assertTrue(stream.stream().allMatch(e -> e.streamId().equals(streamId)), "read back as written: " + streamId);
        }
        assertEquals(List.of("account-1", "account-\u0130", "account-i"),
                streamsOf(readCategory("account", 0)).stream().distinct().toList());
        assertEquals(List.of("Account-1"), streamsOf(readCategory("Account", 0)).stream().distinct().toList());
        assertEquals(List.of("ACCOUNT-1"), streamsOf(readCategory("ACCOUNT", 0)).stream().distinct().toList());
        assertEquals(List.of(composed), streamsOf(readCategory("caf\u00e9", 0)).stream().distinct().toList());
        assertEquals(List.of(decomposed), streamsOf(readCategory("cafe\u0301", 0)).stream().distinct().toList());
    }

    @Test
    void streamIdsThatArePrefixesOfOneAnotherOrVeryLongAreDifferentStreams() {
        String longId = "account-" + "\u00e9".repeat(10_000);
        List<String> streamIds = List.of("account-1", "account-10", "account-1 ", "account-1\u0000", " account-1",
                "account-1-1", longId, longId + "x");

        for (int i = 0; i < streamIds.size(); i++) {
            assertEquals(i, store.append(streamIds.get(i), ExpectedVersion.NO_STREAM, events(i + 1)), streamIds.get(i));
        }

        for (int i = 0; i < streamIds.size(); i++) {
            String streamId = streamIds.get(i);
            assertEquals(i, store.streamVersion(streamId), streamId);
            List<RecordedEvent> stream = readStream(streamId);
            assertEquals(i + 1, stream.size(), streamId);
            assertTrue(stream.stream().allMatch(e -> e.streamId().equals(streamId)), "read back as written: " + streamId);
            assertEquals(Optional.of(stream.get(i)), store.readEvent(stream.get(i).eventId()));
        }
        assertEquals(streamIds.stream().filter(id -> id.startsWith("account-")).toList(),
                streamsOf(readCategory("account", 0)).stream().distinct().toList());
        assertEquals(List.of(" account-1"), streamsOf(readCategory(" account", 0)).stream().distinct().toList());
        assertThrows(ConcurrencyConflictException.class, () -> store.append(longId, 5, events(1)));
        assertEquals(7, store.append(longId, 6, events(1)));
    }

    @Test
    void categoriesWithCharactersQueryLanguagesTreatAsSpecialAreReadExactly() {
        List<String> categories = List.of("account", "acc_unt", "acc%", "acc.unt", "acc.*", "^acc", "acc$", "$where",
                "acc\\unt", "acc'unt", "acc\u0000", "ACC", "acc");
        for (String category : categories) {
            store.append(category + "-1", ExpectedVersion.NO_STREAM, events(1));
        }

        for (String category : categories) {
            assertEquals(List.of(category + "-1"), streamsOf(readCategory(category, 0)),
                    "the category '" + category + "' holds its own stream only (not a pattern, nor a prefix)");
        }
        assertEquals(List.of(), readCategory("ac", 0));
        assertEquals(List.of(), readCategory("acc_", 0));
    }

    // ---- bad arguments ----

    @Test
    void badArgumentsAreRefusedWithIllegalArgumentException() {
        List<EventData> one = events(1);
        List<EventData> withNull = new ArrayList<>(events(1));
        withNull.add(null);
        assertRefused("store.append(null, ExpectedVersion.ANY, one)", () -> store.append(null, ExpectedVersion.ANY, one));
        assertRefused("store.append(\"\", ExpectedVersion.ANY, one)", () -> store.append("", ExpectedVersion.ANY, one));
        assertRefused("store.append(\"  \", ExpectedVersion.ANY, one)", () -> store.append("  ", ExpectedVersion.ANY, one));
        assertRefused("store.append(\"account-1\", ExpectedVersion.ANY, List.of())", () -> store.append("account-1", ExpectedVersion.ANY, List.of()));
        assertRefused("store.append(\"account-1\", ExpectedVersion.ANY, null)", () -> store.append("account-1", ExpectedVersion.ANY, null));
        assertRefused("store.append(\"account-1\", ExpectedVersion.ANY, withNull)", () -> store.append("account-1", ExpectedVersion.ANY, withNull));
        assertRefused("store.append(\"account-1\", -3, one)", () -> store.append("account-1", -3, one));
        assertRefused("store.readStream(null, 0, 10)", () -> store.readStream(null, 0, 10));
        assertRefused("store.readStream(\" \", 0, 10)", () -> store.readStream(" ", 0, 10));
        assertRefused("store.readStream(\"account-1\", -1, 10)", () -> store.readStream("account-1", -1, 10));
        assertRefused("store.readStream(\"account-1\", 0, -1)", () -> store.readStream("account-1", 0, -1));
        assertRefused("store.streamVersion(null)", () -> store.streamVersion(null));
        assertRefused("store.streamVersion(\"\")", () -> store.streamVersion(""));
        assertRefused("store.readAll(-1, 10)", () -> store.readAll(-1, 10));
        assertRefused("store.readAll(0, -1)", () -> store.readAll(0, -1));
        assertRefused("store.readCategory(null, 0, 10)", () -> store.readCategory(null, 0, 10));
        assertRefused("store.readCategory(\"\", 0, 10)", () -> store.readCategory("", 0, 10));
        assertRefused("store.readCategory(\"account-1\", 0, 10)", () -> store.readCategory("account-1", 0, 10));
        assertRefused("store.readCategory(\"account\", -1, 10)", () -> store.readCategory("account", -1, 10));
        assertRefused("store.readCategory(\"account\", 0, -1)", () -> store.readCategory("account", 0, -1));
        assertRefused("store.readEvent(null)", () -> store.readEvent(null));

        assertEquals(List.of(), readAll(), "no refused call wrote anything");
    }

    @Test
    void aStreamIdUtf8CannotHoldIsRefusedAndSupplementaryCharactersRoundTrip() {
        List<EventData> one = events(1);
        for (String lone : List.of("account-\uD800", "account-\uDC00x", "account-a\uDBFF")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> store.append(lone, ExpectedVersion.ANY, one));
            assertTrue(refused.getMessage().contains("lone surrogate"), refused.getMessage());
            assertRefused("store.readStream(lone, 0, 10)", () -> store.readStream(lone, 0, 10));
            assertRefused("store.streamVersion(lone)", () -> store.streamVersion(lone));
        }
        assertRefused("store.readCategory(\"acc\\uD800\", 0, 10)", () -> store.readCategory("acc\uD800", 0, 10));
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
    void writersAtTheSameExpectedVersionExactlyOneWinsAndTheOthersAreToldItsVersion() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        try {
            for (int round = 0; round < 21; round++) {
                String streamId = "race-" + round;
                long expected = round % 3 == 0 ? ExpectedVersion.NO_STREAM
                        : store.append(streamId, ExpectedVersion.NO_STREAM, events(round % 3));
                List<Attempt> attempts = together(pool, w -> () -> Attempt.of(() -> store.append(streamId, expected, events(2))));

                String outcomes = "round " + round + ": " + attempts;
                assertEquals(1, attempts.stream().filter(Attempt::appended).count(), outcomes);
                for (Attempt attempt : attempts) {
                    if (attempt.appended()) {
                        assertEquals(expected + 2, attempt.version(), outcomes);
                    } else {
                        assertEquals(expected, attempt.conflict().expectedVersion(), outcomes);
                        assertEquals(expected + 2, attempt.conflict().actualVersion(), outcomes);
                    }
                }
                assertEquals(expected + 2, store.streamVersion(streamId));
                assertEquals(expected + 3, readStream(streamId).size());
            }
        } finally {
            shutdown(pool);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void ofWritersRacingToAppendOneEventIdToDifferentStreamsExactlyOneLandsIt() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        try {
            for (int round = 0; round < 10; round++) {
                String category = "dup" + round;
                EventData shared = event("Shared");
                List<Object> outcomes = together(pool, w -> {
                    String streamId = category + "-" + w;
                    long expected = w % 2 == 0 ? ExpectedVersion.NO_STREAM : ExpectedVersion.ANY;
                    List<EventData> batch = List.of(event("Own"), shared);
                    return () -> {
                        try {
                            return store.append(streamId, expected, batch);
                        } catch (DuplicateEventIdException refused) {
                            return refused;
                        }
                    };
                });
                List<String> landed = new ArrayList<>();
                for (int w = 0; w < WRITERS; w++) {
                    Object outcome = outcomes.get(w);
                    String streamId = category + "-" + w;
                    if (outcome instanceof DuplicateEventIdException refused) {
                        assertEquals(shared.eventId(), refused.eventId(), streamId);
                        assertEquals(streamId, refused.streamId());
                        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion(streamId), "nothing of " + streamId);
                    } else {
                        assertEquals(1L, outcome, streamId);
                        landed.add(streamId);
                    }
                }

                assertEquals(1, landed.size(), "round " + round + ": appends that landed the shared id: " + landed);
                assertEquals(landed.get(0), store.readEvent(shared.eventId()).orElseThrow().streamId());
                assertEquals(List.of(landed.get(0), landed.get(0)), streamsOf(readCategory(category, 0)));
            }
        } finally {
            shutdown(pool);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void concurrentAnyAppendsAllLandAndEachIsToldTheVersionOfItsOwnLastEvent() throws Exception {
        int perWriter = 20;
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        List<Map.Entry<List<EventData>, Long>> appended = new ArrayList<>();
        try {
            List<List<Map.Entry<List<EventData>, Long>>> byWriter = together(pool, writer -> () -> {
                List<Map.Entry<List<EventData>, Long>> mine = new ArrayList<>();
                for (int i = 0; i < perWriter; i++) {
                    List<EventData> batch = events(1 + (i + writer) % 3);
                    mine.add(Map.entry(batch, store.append("shared-1", ExpectedVersion.ANY, batch)));
                }
                return mine;
            });
            byWriter.forEach(appended::addAll);
        } finally {
            shutdown(pool);
        }

        List<RecordedEvent> stream = readStream("shared-1");
        Set<Long> versions = new HashSet<>();
        int total = 0;
        for (Map.Entry<List<EventData>, Long> append : appended) {
            List<EventData> batch = append.getKey();
            long version = append.getValue();
            assertTrue(versions.add(version), "two appends were told version " + version);
            assertTrue(version < stream.size(), "told version " + version + " of a stream of " + stream.size());
            for (int i = 0; i < batch.size(); i++) {
                assertEquals(batch.get(i).eventId(), stream.get((int) version - batch.size() + 1 + i).eventId(),
                        "a batch told version " + version + " ends there");
            }
            total += batch.size();
        }
        assertEquals(total, stream.size(), "every event landed once");
        assertEquals(total - 1, store.streamVersion("shared-1"));
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void concurrentWritersOnManyStreamsWithTailingReadersLoseNothing() throws Exception {
        int perWriter = appendsPerWriter();
        int expected = WRITERS * perWriter * 2;
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 2);
        try {
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<List<RecordedEvent>> tail = pool.submit(() -> tailUntil(writing, expected, after -> store.readAll(after, 50)));
            Future<List<RecordedEvent>> categoryTail = pool.submit(() -> tailUntil(writing, expected / 2,
                    after -> store.readCategory("writer", after, 50)));
            List<Future<?>> writers = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            for (int w = 0; w < WRITERS; w++) {
                String streamId = writerStream(w);
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
            List<RecordedEvent> seenInCategory = categoryTail.get();

            List<RecordedEvent> all = readAll();
            assertEquals(expected, all.size());
            assertStrictlyIncreasing(all);
            assertEquals(ids(all), ids(seen), "the tailing reader saw every event once, in log order");
            assertEquals(ids(all.stream().filter(e -> e.category().equals("writer")).toList()), ids(seenInCategory),
                    "the reader tailing a category saw every event of it once, in log order");
            for (int w = 0; w < WRITERS; w++) {
                List<RecordedEvent> stream = readStream(writerStream(w));
                assertEquals(perWriter * 2, stream.size());
                for (int v = 0; v < stream.size(); v++) {
                    assertEquals(v, stream.get(v).version(), writerStream(w) + " has no gap");
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
            Future<List<RecordedEvent>> tail = pool.submit(() -> tailUntil(writing, 0, after -> store.readAll(after, 50)));
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<UUID>>> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                writers.add(pool.submit(() -> {
                    start.await();
                    List<UUID> committed = new ArrayList<>();
                    int done = 0;
                    int refusedInARow = 0;
                    while (done < perWriter) {
                        long version = store.streamVersion("shared-1");
                        List<EventData> batch = events(1 + done % 3);
                        if (Attempt.of(() -> store.append("shared-1", version, batch)).appended()) {
                            batch.forEach(e -> committed.add(e.eventId()));
                            done++;
                            refusedInARow = 0;
                        } else if (++refusedInARow > WRITERS * perWriter) {
                            // Each refusal means another writer appended since streamVersion answered; they append
                            // fewer times than this in all. So streamVersion and append disagree.
                            fail("an append at the version streamVersion had just answered was refused " + refusedInARow
                                    + " times in a row, more than the other writers append in all: the version"
                                    + " streamVersion answers is not the one append checks against");
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
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void anEventAReaderHasSeenInItsStreamOrCategoryIsInTheLogAndFoundByIdAtOnce() throws Exception {
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<String>> streamReader = pool.submit(() -> missedElsewhere(writing,
                    after -> store.readStream("seen-0", after, 100), event -> event.version() + 1));
            Future<List<String>> categoryReader = pool.submit(() -> missedElsewhere(writing,
                    after -> store.readCategory("seen", after, 100), RecordedEvent::position));
            for (int i = 0; i < 300; i++) {
                store.append("seen-" + (i % 3), ExpectedVersion.ANY, events(1 + i % 2));
            }
            writing.set(false);

            assertEquals(List.of(), streamReader.get(), "events seen in a stream but missing from other reads");
            assertEquals(List.of(), categoryReader.get(), "events seen in a category but missing from other reads");
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

    @Test
    void aListenerThatThrowsFailsNeitherTheAppendNorTheListenersAfterIt() {
        List<String> told = new ArrayList<>();
        Runnable stopFailing = store.onAppend(() -> {
            throw new IllegalStateException("a listener that broke");
        });
        Runnable stopTelling = store.onAppend(() -> told.add("told"));

        assertEquals(0, store.append("account-1", ExpectedVersion.NO_STREAM, events(1)), "the append stands");
        stopFailing.run();
        stopTelling.run();

        assertTrue(told.isEmpty() || told.equals(List.of("told")), "the next listener is told all the same: " + told);
        assertEquals(1, readAll().size());
    }

    @Test
    void aRemoverTakesBackOnlyItsOwnAdditionAndRunningItAgainDoesNothing() {
        List<String> told = new ArrayList<>();
        Runnable listener = () -> told.add("told");
        Runnable stopFirst = store.onAppend(listener);
        Runnable stopSecond = store.onAppend(listener);
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        boolean tells = !told.isEmpty();
        assertTrue(!tells || told.equals(List.of("told", "told")), "a listener added twice is told twice: " + told);
        told.clear();

        stopFirst.run();
        stopFirst.run();
        store.append("account-1", 0, events(1));
        stopSecond.run();
        store.append("account-1", 1, events(1));

        assertEquals(tells ? List.of("told") : List.of(), told,
                "the second addition is told until its own remover runs, whatever the first one's did");
    }

    @Test
    void aStreamListenerIsToldOfAppendsToTheStreamsItWants() {
        List<String> toldPlain = new ArrayList<>();
        List<String> asked = new CopyOnWriteArrayList<>();
        List<String> told = new ArrayList<>();
        Runnable stopPlain = store.onAppend(() -> toldPlain.add("told"));
        Runnable stopWanting = store.onAppend(new AppendListeners.StreamListener() {
            @Override
            public boolean wants(String streamId) {
                asked.add(streamId);
                return streamId.equals("account-2");
            }

            @Override
            public void run() {
                told.add("told");
            }
        });

        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        int toldOfOther = told.size();
        store.append("account-2", ExpectedVersion.NO_STREAM, events(2));
        stopPlain.run();
        stopWanting.run();

        assertTrue(List.of("account-1", "account-2").containsAll(asked),
                "a StreamListener is asked whether it wants the stream appended to, by its id: " + asked);
        if (!toldPlain.isEmpty()) {
            assertEquals(toldOfOther + 1, told.size(), "a store that tells its listeners tells a StreamListener of each"
                    + " append to a stream it wants (it may skip the others: AppendListeners does): told " + told.size()
                    + " times, " + toldOfOther + " of them for another stream");
        }
    }

    @Test
    void aStoreThatTellsItsListenersTellsThemOnTheAppendingThreadBeforeAppendReturns() throws InterruptedException {
        Thread appender = Thread.currentThread();
        AtomicBoolean returned = new AtomicBoolean();
        List<String> told = new CopyOnWriteArrayList<>();
        Runnable stop = store.onAppend(() -> told.add((Thread.currentThread() == appender ? "on the appending thread"
                : "on thread " + Thread.currentThread().getName()) + (returned.get() ? ", after append returned" : "")));

        store.append("account-1", ExpectedVersion.NO_STREAM, events(2));
        returned.set(true);
        if (told.isEmpty()) {
            Thread.sleep(200);      // a store that tells later, on another thread, shows it now
        }
        stop.run();

        assertTrue(told.isEmpty() || told.equals(List.of("on the appending thread")),
                "a store either never calls its listeners (readers poll) or calls each once per append, on the"
                        + " appending thread before append returns: " + told);
    }

    @Test
    void callsFromAThreadWhoseInterruptFlagIsSetAnswerAndLeaveTheFlagSet() {
        EventData first = event("Opened");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(first));
        Map<String, Callable<Object>> calls = new LinkedHashMap<>();
        calls.put("append", () -> store.append("account-1", 0, events(1)));
        calls.put("readStream", () -> readStream("account-1").size());
        calls.put("streamVersion", () -> store.streamVersion("account-1"));
        calls.put("readAll", () -> readAll().size());
        calls.put("readCategory", () -> readCategory("account", 0).size());
        calls.put("readEvent", () -> store.readEvent(first.eventId()).isPresent());
        calls.put("lastPosition", () -> store.lastPosition() == readAll().get(1).position());
        calls.put("onAppend", () -> {
            store.onAppend(() -> { }).run();
            return "added and removed";
        });
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("append", 1L);
        expected.put("readStream", 2);
        expected.put("streamVersion", 1L);
        expected.put("readAll", 2);
        expected.put("readCategory", 2);
        expected.put("readEvent", true);
        expected.put("lastPosition", true);
        expected.put("onAppend", "added and removed");

        Map<String, Object> answered = InterruptedCalls.answers(calls);

        assertEquals(expected, answered, "a call from a thread whose interrupt flag is set (a task an executor's"
                + " shutdownNow reached, a cancelled future) does its work as it would without, and leaves the flag set"
                + " for the caller to act on");
    }

    /**
     * Asserts that {@code call} is refused with an {@link IllegalArgumentException}, the message naming
     * the call and the helpers a store checks its arguments with.
     */
    private static void assertRefused(String call, Executable executable) {
        assertThrows(IllegalArgumentException.class, executable, call + " must be refused with an"
                + " IllegalArgumentException naming the bad argument, before the store does anything: check arguments"
                + " with the helpers the built-in stores use (StreamName.requireStreamId / requireCategory,"
                + " ExpectedVersion.requireValid, EventData.requireBatch, EventReader.requireRange; null ids refused"
                + " by name)");
    }

    /**
     * For a call a closed store answered: when it went to a default method of {@link EventStore} that the
     * store keeps (which cannot tell that the store is closed), what to do about it; else nothing.
     */
    private static String throughDefault(EventStore closed, String call) {
        String method = call.split(" ")[0];
        for (java.lang.reflect.Method declared : EventStore.class.getMethods()) {
            if (declared.getName().equals(method) && declared.isDefault()) {
                try {
                    Class<?> owner = closed.getClass().getMethod(method, declared.getParameterTypes()).getDeclaringClass();
                    if (owner.isInterface()) {
                        return " (through " + owner.getSimpleName() + "'s default " + method + ", which cannot tell that"
                                + " the store is closed" + (method.equals("readCategory") ? " and reads nothing to ask for"
                                + " none" : "") + ": override " + method + " to refuse after close, then answer as the"
                                + " default does)";
                    }
                } catch (NoSuchMethodException e) {
                    return "";
                }
            }
        }
        return "";
    }

    // ---- closing ----

    @Test
    void everyCallAfterCloseFails() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        UUID eventId = readAll().get(0).eventId();
        EventStore closed = store;
        store = null;           // closed here, not again after the test
        closed.close();

        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("append", () -> closed.append("account-1", ExpectedVersion.ANY, events(1)));
        calls.put("readStream", () -> closed.readStream("account-1", 0, 10));
        calls.put("readStream of none", () -> closed.readStream("account-1", 0, 0));
        calls.put("readAll", () -> closed.readAll(0, 10));
        calls.put("readAll past the end", () -> closed.readAll(Long.MAX_VALUE, 10));
        calls.put("readCategory", () -> closed.readCategory("account", 0, 10));
        calls.put("readCategory past the end", () -> closed.readCategory("account", Long.MAX_VALUE, 10));
        calls.put("readEvent", () -> closed.readEvent(eventId));
        calls.put("streamVersion", () -> closed.streamVersion("account-1"));
        calls.put("lastPosition", closed::lastPosition);
        calls.put("onAppend", () -> closed.onAppend(() -> { }));

        List<String> answered = calls.keySet().stream().filter(name -> !fails(calls.get(name)))
                .map(name -> name + throughDefault(closed, name)).toList();

        assertEquals(List.of(), answered, "calls a closed store answered instead of failing with IllegalStateException"
                + " (onAppend's default cannot tell that its store closed: a store overrides it to refuse then, and a"
                + " decorator forwards it to the store it wraps, as it does readCategory and lastPosition, or extends"
                + " ForwardingEventStore)");
    }

    @Test
    void onAppendAfterCloseIsRefusedAndARemoverFromBeforeStillRuns() {
        List<String> told = new ArrayList<>();
        Runnable stopTelling = store.onAppend(() -> told.add("told"));
        EventStore closed = store;
        store = null;           // closed here, not again after the test
        closed.close();

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> closed.onAppend(() -> told.add("added after close")),
                "a listener added to a closed store would wait for appends that cannot come: onAppend's default cannot"
                        + " tell that its store closed, so a store overrides it to refuse then (a decorator forwards it to"
                        + " the store it wraps)");
        assertThrows(IllegalArgumentException.class, () -> closed.onAppend(null), "the listener is checked first");
        stopTelling.run();
        stopTelling.run();

        assertTrue(refused.getMessage() != null && refused.getMessage().contains("closed"),
                "the refusal says that the store is closed: " + refused.getMessage());
        assertEquals(List.of(), told);
    }

    @Test
    void aClosedStoreRefusesEveryCallWithIllegalStateExceptionWhateverTheAppendHolds() {
        EventData taken = event("Opened");
        store.append("account-1", ExpectedVersion.NO_STREAM, List.of(taken));
        EventData repeated = event("Credited");
        EventStore closed = store;
        store = null;           // closed here, not again after the test
        closed.close();

        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("append", () -> closed.append("account-1", 0, events(1)));
        calls.put("append at a wrong version", () -> closed.append("account-1", 5, events(1)));
        calls.put("append of NO_STREAM to a stream that exists", () -> closed.append("account-1", ExpectedVersion.NO_STREAM, events(1)));
        calls.put("append of a taken id", () -> closed.append("account-2", ExpectedVersion.ANY, List.of(taken)));
        calls.put("append repeating an id", () -> closed.append("account-2", ExpectedVersion.ANY, List.of(repeated, repeated)));
        calls.put("readStream", () -> closed.readStream("account-1", 0, 10));
        calls.put("readStream of none", () -> closed.readStream("account-1", 0, 0));
        calls.put("readStream past the end", () -> closed.readStream("account-1", Long.MAX_VALUE, 10));
        calls.put("readAll", () -> closed.readAll(0, 10));
        calls.put("readAll of none", () -> closed.readAll(0, 0));
        calls.put("readAll past the end", () -> closed.readAll(Long.MAX_VALUE, 10));
        calls.put("readCategory", () -> closed.readCategory("account", 0, 10));
        calls.put("readCategory of none", () -> closed.readCategory("account", 0, 0));
        calls.put("readCategory past the end", () -> closed.readCategory("account", Long.MAX_VALUE, 10));
        calls.put("readEvent", () -> closed.readEvent(taken.eventId()));
        calls.put("readEvent of an unknown id", () -> closed.readEvent(UUID.randomUUID()));
        calls.put("streamVersion", () -> closed.streamVersion("account-1"));
        calls.put("streamVersion of a stream that never existed", () -> closed.streamVersion("account-9"));
        calls.put("lastPosition", closed::lastPosition);
        calls.put("onAppend", () -> closed.onAppend(() -> { }));

        Map<String, String> notRefusedAsClosed = new LinkedHashMap<>();
        calls.forEach((name, call) -> {
            try {
                call.run();
                notRefusedAsClosed.put(name, "answered" + throughDefault(closed, name));
            } catch (IllegalStateException refused) {
                if (refused.getMessage() == null || !refused.getMessage().contains("closed")) {
                    notRefusedAsClosed.put(name, "refused without saying the store is closed: " + refused);
                }
            } catch (RuntimeException other) {
                notRefusedAsClosed.put(name, other.toString());
            }
        });

        assertEquals(Map.of(), notRefusedAsClosed, "every call after close fails with an IllegalStateException saying"
                + " the store is closed, whatever it asks: a caller told of a conflict or a taken id would reload and"
                + " retry on a store that can no longer answer");
        assertThrows(IllegalArgumentException.class, () -> closed.append(null, ExpectedVersion.ANY, events(1)),
                "a bad argument is refused first, as such");
        assertThrows(IllegalArgumentException.class, () -> closed.readAll(-1, 10), "a bad argument is refused first");
    }

    @Test
    void closingAClosedStoreAgainDoesNothing() {
        store.append("account-1", ExpectedVersion.NO_STREAM, events(1));
        EventStore closed = store;
        store = null;           // closed here, not again after the test

        closed.close();
        closed.close();

        assertThrows(IllegalStateException.class, () -> closed.readAll(0, 10), "still closed");
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
        assertEquals(before.get(4).position(), store.lastPosition());
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
            requireProgress(page, after, "readAll");
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
            requireProgress(page, after, "readCategory('" + category + "')");
            events.addAll(page);
            after = page.get(page.size() - 1).position();
        }
    }

    /**
     * Fails unless a page read after {@code after} holds only later events, in growing positions: a store
     * answering the event at the position itself would have a caller read it twice, and one whose page does
     * not end past the position (newest first, say) would have a caller reading to the end loop for ever.
     */
    private static void requireProgress(List<RecordedEvent> page, long after, String read) {
        long previous = after;
        for (RecordedEvent event : page) {
            if (event.position() <= previous) {
                fail(read + " after position " + after + " returned position " + event.position() + " after "
                        + (previous == after ? "asking for events after " : "position ") + previous
                        + ": a page holds only events after the position asked for, in growing positions");
            }
            previous = event.position();
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

    /**
     * Runs {@code WRITERS} calls on {@code pool}, the {@code w}-th made by {@code writer.apply(w)}, all let go at
     * once by a barrier; their outcomes in that order.
     */
    private static <T> List<T> together(ExecutorService pool, IntFunction<Callable<T>> writer) throws Exception {
        CyclicBarrier start = new CyclicBarrier(WRITERS);
        List<Future<T>> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            Callable<T> call = writer.apply(w);
            writers.add(pool.submit(() -> {
                start.await();
                return call.call();
            }));
        }
        List<T> outcomes = new ArrayList<>();
        for (Future<T> future : writers) {
            outcomes.add(future.get());
        }
        return outcomes;
    }

    /** What one append came to, as a value: the stream's new version, or the conflict that refused it. */
    private record Attempt(long version, ConcurrencyConflictException conflict) {
        static Attempt of(LongSupplier append) {
            try {
                return new Attempt(append.getAsLong(), null);
            } catch (ConcurrencyConflictException conflict) {
                return new Attempt(ExpectedVersion.NO_STREAM, conflict);
            }
        }

        boolean appended() {
            return conflict == null;
        }
    }

    /** Batches of one to seven events to streams of two categories, interleaved; returns the log. */
    private List<RecordedEvent> appendBatchesToTwoCategories() {
        int[] sizes = {1, 4, 5, 1, 3, 7, 2, 1};
        for (int i = 0; i < sizes.length; i++) {
            store.append((i % 2 == 0 ? "account-" : "order-") + i % 3, ExpectedVersion.ANY, events(sizes[i]));
        }
        List<RecordedEvent> all = readAll();
        assertEquals(24, all.size());
        return all;
    }

    /**
     * Fails unless {@code page}, what {@code read} returned, is the next slice of {@code events} from
     * index {@code from}: at most {@code maxCount} of them, in order, and not empty while any are left.
     */
    private static void assertNextSlice(List<RecordedEvent> events, int from, int maxCount, List<RecordedEvent> page,
                                        String read) {
        assertTrue(page.size() <= maxCount, read + " returned " + page.size() + " events");
        if (from < events.size()) {
            assertFalse(page.isEmpty(), read + " returned nothing though events follow");
        }
        assertEquals(events.subList(from, Math.min(events.size(), from + page.size())), page, read);
    }

    /**
     * Polls the global log or a category ({@code read} after a position) as a subscription would until
     * writing has stopped and a final read finds nothing more, and {@code expected} events were seen (0: any
     * number); returns what it saw, checking as it goes that no position repeats or goes back. A store may
     * show its last events a moment after their appends return, so the reader waits for them, but at most
     * {@link #CATCH_UP_NANOS} after writing stopped: a store that lost events then fails the test's
     * comparison, which names them, instead of its time limit.
     */
    private static List<RecordedEvent> tailUntil(AtomicBoolean writing, int expected, LongFunction<List<RecordedEvent>> read) {
        List<RecordedEvent> seen = new ArrayList<>();
        long after = 0;
        long giveUpAt = 0;
        while (true) {
            boolean lastRound = !writing.get();
            List<RecordedEvent> page = read.apply(after);
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
                if (lastRound && giveUpAt == 0) {
                    giveUpAt = System.nanoTime() + CATCH_UP_NANOS;
                } else if (lastRound && System.nanoTime() - giveUpAt > 0) {
                    return seen;
                }
                LockSupport.parkNanos(200_000);
            }
        }
    }

    /**
     * Tails {@code read} (from a cursor, {@code cursorAfter} of the last event seen) until writing has stopped,
     * and checks at once that each event it sees is found by id, in the log, at or below
     * {@link EventStore#lastPosition()} and at or below its stream's version; returns what was missed.
     */
    private List<String> missedElsewhere(AtomicBoolean writing, LongFunction<List<RecordedEvent>> read,
                                         ToLongFunction<RecordedEvent> cursorAfter) {
        List<String> missed = new ArrayList<>();
        long after = 0;
        boolean lastRound = false;
        while (!lastRound) {
            lastRound = !writing.get();
            for (RecordedEvent event : read.apply(after)) {
                after = cursorAfter.applyAsLong(event);
                if (store.readEvent(event.eventId()).isEmpty()) {
                    missed.add("not found by id: " + event);
                }
                if (!store.readAll(event.position() - 1, 1).equals(List.of(event))) {
                    missed.add("not in the log at its position: " + event);
                }
                if (store.lastPosition() < event.position()) {
                    missed.add("above lastPosition: " + event);
                }
                if (store.streamVersion(event.streamId()) < event.version()) {
                    missed.add("above its stream's version: " + event);
                }
            }
        }
        return missed;
    }

    private static boolean fails(Runnable call) {
        try {
            call.run();
            return false;
        } catch (RuntimeException failure) {
            return true;
        }
    }

    private static List<UUID> ids(List<RecordedEvent> events) {
        return events.stream().map(RecordedEvent::eventId).toList();
    }

    /** The stream of writer {@code w} in the many-streams test: in two categories, {@code writer} and {@code scribe}. */
    private static String writerStream(int w) {
        return (w % 2 == 0 ? "writer-" : "scribe-") + w;
    }

    private static List<String> streamsOf(List<RecordedEvent> events) {
        return events.stream().map(RecordedEvent::streamId).toList();
    }

    private static void shutdown(ExecutorService pool) throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "the test's threads stopped");
    }
}
