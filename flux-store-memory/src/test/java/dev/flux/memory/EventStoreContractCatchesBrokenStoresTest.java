package dev.flux.memory;

import dev.flux.AppendListeners;
import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.ForwardingEventStore;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import dev.flux.test.EventStoreContract;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * {@link EventStoreContract} is what a user's own store is checked against, so it must fail for a
 * broken one. Each store here is the memory store behind a wrapper that makes one mistake a store's
 * author could make; the whole contract runs against it through the JUnit launcher and must fail at
 * least one test. The same wrapper without a mistake passes every test, so the failures are the
 * mistakes'. A mistake the contract let through would pass a store that loses, mixes up or
 * duplicates events.
 */
class EventStoreContractCatchesBrokenStoresTest {

    /**
     * One mistake: what it does, the store that makes it around a fresh memory store, and for a store
     * that declares itself durable, how it reopens (null for one that does not).
     */
    private record Mistake(String does, Function<InMemoryEventStore, EventStore> store, UnaryOperator<EventStore> reopen) {
        Mistake(String does, Function<InMemoryEventStore, EventStore> store) {
            this(does, store, null);
        }
    }

    /** A decorator (metrics, logging) that forwards the six methods a store must write, not onAppend's default. */
    private static final Mistake KEEPS_ON_APPEND_DEFAULT = new Mistake("keeps onAppend's default (a decorator that"
            + " forwards only the methods without one)", inner -> new Forwarding(inner) {
                @Override
                public Runnable onAppend(Runnable listener) {
                    if (listener == null) {
                        throw new IllegalArgumentException("listener must not be null");
                    }
                    return () -> { };       // EventReader's default: never tells, and cannot tell that the store closed
                }
            });

    private static final List<Mistake> MISTAKES = List.of(
            new Mistake("ignores the expected version", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    return inner.append(streamId, ExpectedVersion.ANY, events);
                }
            }),
            new Mistake("takes NO_STREAM on a stream that exists", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    return inner.append(streamId, expectedVersion == ExpectedVersion.NO_STREAM ? ExpectedVersion.ANY
                            : expectedVersion, events);
                }
            }),
            new Mistake("checks the version apart from the write (check, then act)", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    long actual = inner.streamVersion(streamId);
                    ExpectedVersion.check(streamId, expectedVersion, actual);
                    LockSupport.parkNanos(50_000);      // where another writer gets in
                    return inner.append(streamId, ExpectedVersion.ANY, events);
                }
            }),
            new Mistake("appends a batch one event at a time", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    long version = expectedVersion;
                    for (EventData event : events) {
                        version = inner.append(streamId, version, List.of(event));
                    }
                    return version;
                }
            }),
            new Mistake("drops an event whose id repeats in its batch", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    Map<UUID, EventData> once = new LinkedHashMap<>();
                    events.forEach(e -> once.putIfAbsent(e.eventId(), e));
                    return inner.append(streamId, expectedVersion, List.copyOf(once.values()));
                }
            }),
            new Mistake("answers the version of a batch's first event", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    return inner.append(streamId, expectedVersion, events) - (events.size() - 1);
                }
            }),
            new Mistake("lets an event id be taken again by another stream", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    try {
                        return inner.append(streamId, expectedVersion, events);
                    } catch (DuplicateEventIdException taken) {
                        return inner.append(streamId, expectedVersion, events.stream()
                                .map(e -> new EventData(UUID.randomUUID(), e.type(), e.data(), e.metadata())).toList());
                    }
                }
            }),
            new Mistake("names the wrong actual version in a conflict", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    try {
                        return inner.append(streamId, expectedVersion, events);
                    } catch (ConcurrencyConflictException conflict) {
                        throw new ConcurrencyConflictException(streamId, expectedVersion, conflict.actualVersion() + 1);
                    }
                }
            }),
            new Mistake("treats stream ids that differ only in case as one stream", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    return inner.append(StreamName.requireStreamId(streamId).toLowerCase(Locale.ROOT), expectedVersion,
                            events);
                }

                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(StreamName.requireStreamId(streamId).toLowerCase(Locale.ROOT), fromVersion,
                            maxCount);
                }

                @Override
                public long streamVersion(String streamId) {
                    return inner.streamVersion(StreamName.requireStreamId(streamId).toLowerCase(Locale.ROOT));
                }
            }),
            new Mistake("reads a stream from the version after the one asked for", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(streamId, fromVersion + 1, maxCount);
                }
            }),
            new Mistake("reads one event more of a stream than asked for", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(streamId, fromVersion, maxCount == Integer.MAX_VALUE ? maxCount : maxCount + 1);
                }
            }),
            new Mistake("reads a stream as every stream whose id starts with it", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readAll(0, Integer.MAX_VALUE).stream().filter(e -> e.streamId().startsWith(streamId))
                            .skip(fromVersion).limit(maxCount).toList();
                }
            }),
            new Mistake("answers version 0 for a stream that does not exist", inner -> new Forwarding(inner) {
                @Override
                public long streamVersion(String streamId) {
                    return Math.max(0, inner.streamVersion(streamId));
                }
            }),
            new Mistake("counts a stream's version from 1", inner -> new Forwarding(inner) {
                @Override
                public long streamVersion(String streamId) {
                    long version = inner.streamVersion(streamId);
                    return version == ExpectedVersion.NO_STREAM ? version : version + 1;
                }
            }),
            new Mistake("reads the log from the position asked for, not after it", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    return inner.readAll(Math.max(0, afterPosition - 1), maxCount);
                }
            }),
            new Mistake("skips the first event after the position asked for", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    return afterPosition == 0 ? inner.readAll(0, maxCount) : inner.readAll(afterPosition + 1, maxCount);
                }
            }),
            new Mistake("reads one event more of the log than asked for", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    return inner.readAll(afterPosition, maxCount == Integer.MAX_VALUE ? maxCount : maxCount + 1);
                }
            }),
            new Mistake("answers the newest events of the log after the position asked for, newest first",
                    inner -> new Forwarding(inner) {
                        @Override
                        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                            List<RecordedEvent> after = inner.readAll(afterPosition, Integer.MAX_VALUE);
                            List<RecordedEvent> newest = new ArrayList<>(after.subList(Math.max(0, after.size() - maxCount),
                                    after.size()));
                            java.util.Collections.reverse(newest);
                            return newest;
                        }
                    }),
            new Mistake("orders a page of the log by stream", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    return inner.readAll(afterPosition, maxCount).stream()
                            .sorted(Comparator.comparing(RecordedEvent::streamId).thenComparing(RecordedEvent::version))
                            .toList();
                }
            }),
            new Mistake("says the last position is one before the newest event's", inner -> new Forwarding(inner) {
                @Override
                public long lastPosition() {
                    return Math.max(0, inner.lastPosition() - 1);
                }
            }),
            new Mistake("takes a category to be every stream whose name starts with it", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
                    List<RecordedEvent> found = new ArrayList<>();
                    for (RecordedEvent event : inner.readAll(afterPosition, Integer.MAX_VALUE)) {
                        if (found.size() < maxCount && event.streamId().startsWith(category)) {
                            found.add(event);
                        }
                    }
                    return found;
                }
            }),
            new Mistake("finds no event by id", inner -> new Forwarding(inner) {
                @Override
                public Optional<RecordedEvent> readEvent(UUID eventId) {
                    return Optional.empty();
                }
            }),
            new Mistake("finds the newest event for an id it does not hold", inner -> new Forwarding(inner) {
                @Override
                public Optional<RecordedEvent> readEvent(UUID eventId) {
                    Optional<RecordedEvent> found = inner.readEvent(eventId);
                    long last = inner.lastPosition();
                    return found.isPresent() || last == 0 ? found : Optional.of(inner.readAll(last - 1, 1).get(0));
                }
            }),
            new Mistake("reads events back without their metadata", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(streamId, fromVersion, maxCount).stream()
                            .map(e -> changed(e, e.data(), Map.of(), e.recordedAt())).toList();
                }
            }),
            new Mistake("cuts bodies over 64 KiB", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(streamId, fromVersion, maxCount).stream()
                            .map(e -> e.data().length <= 65_536 ? e
                                    : changed(e, Arrays.copyOf(e.data(), 65_536), e.metadata(), e.recordedAt()))
                            .toList();
                }
            }),
            new Mistake("records every event at the epoch", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                    return inner.readStream(streamId, fromVersion, maxCount).stream()
                            .map(e -> changed(e, e.data(), e.metadata(), Instant.EPOCH)).toList();
                }
            }),
            new Mistake("records times finer than a millisecond", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    return inner.readAll(afterPosition, maxCount).stream()
                            .map(e -> changed(e, e.data(), e.metadata(), e.recordedAt().plusNanos(1_000))).toList();
                }
            }),
            new Mistake("checks the version before a repeated id in the batch", inner -> new Forwarding(inner) {
                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    if (events != null && events.stream().distinct().count() < events.size()) {
                        ExpectedVersion.check(streamId, expectedVersion, inner.streamVersion(streamId));
                    }
                    return inner.append(streamId, expectedVersion, events);
                }
            }),
            new Mistake("refuses a repeated id in a batch before it finds itself closed", inner -> new Forwarding(inner) {
                volatile boolean closed;

                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    if (closed && events != null && events.stream().distinct().count() < events.size()) {
                        throw new DuplicateEventIdException(streamId, events.get(0).eventId());
                    }
                    return inner.append(streamId, expectedVersion, events);
                }

                @Override
                public void close() {
                    closed = true;
                    inner.close();
                }
            }),
            new Mistake("fails a read from a thread whose interrupt flag is set", inner -> new Forwarding(inner) {
                @Override
                public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                    if (Thread.currentThread().isInterrupted()) {
                        throw new FluxException("Could not read the global log: Interrupted waiting for lock");
                    }
                    return inner.readAll(afterPosition, maxCount);
                }
            }),
            new Mistake("tells its listeners later, on a thread of its own", inner -> new Forwarding(inner) {
                @Override
                public Runnable onAppend(Runnable listener) {
                    return inner.onAppend(() -> new Thread(listener).start());
                }
            }),
            new Mistake("tells its listeners before the events can be read", inner -> new Forwarding(inner) {
                final List<Runnable> listeners = new CopyOnWriteArrayList<>();

                @Override
                public long append(String streamId, long expectedVersion, List<EventData> events) {
                    listeners.forEach(Runnable::run);
                    return inner.append(streamId, expectedVersion, events);
                }

                @Override
                public Runnable onAppend(Runnable listener) {
                    Runnable stop = inner.onAppend(() -> { });     // refuses what the store refuses
                    listeners.add(listener);
                    return () -> {
                        stop.run();
                        listeners.remove(listener);
                    };
                }
            }),
            new Mistake("keeps a listener its remover was to take away", inner -> new Forwarding(inner) {
                @Override
                public Runnable onAppend(Runnable listener) {
                    inner.onAppend(listener);
                    return () -> { };
                }
            }),
            new Mistake("asks a StreamListener about the category instead of the stream", inner -> new Forwarding(inner) {
                @Override
                public Runnable onAppend(Runnable listener) {
                    if (!(listener instanceof AppendListeners.StreamListener interested)) {
                        return inner.onAppend(listener);
                    }
                    return inner.onAppend(new AppendListeners.StreamListener() {
                        @Override
                        public boolean wants(String streamId) {
                            return interested.wants(StreamName.category(streamId));
                        }

                        @Override
                        public void run() {
                            listener.run();
                        }
                    });
                }
            }),
            KEEPS_ON_APPEND_DEFAULT,
            new Mistake("goes on answering after close()", inner -> new Forwarding(inner) {
                @Override
                public void close() {
                    // forgets to close; the test's store is dropped with the test
                }
            }),
            new Mistake("fails a second close()", inner -> new Forwarding(inner) {
                volatile boolean closed;

                @Override
                public void close() {
                    if (closed) {
                        throw new IllegalStateException("InMemoryEventStore is closed already");
                    }
                    closed = true;
                    inner.close();
                }
            }),
            new Mistake("loses its newest event when reopened", Forwarding::new, closed -> reopened(closed, 1)));

    @TestFactory
    Stream<DynamicTest> theContractFailsForEveryBrokenStore() {
        return MISTAKES.stream().map(mistake -> dynamicTest("a store that " + mistake.does(), () -> {
            runContract(mistake).assertCaught("a store that " + mistake.does());
        }));
    }

    @Test
    void aDecoratorKeepingOnAppendsDefaultIsToldToForwardIt() {
        ContractRun run = runContract(KEEPS_ON_APPEND_DEFAULT);

        run.assertCaught("a store that " + KEEPS_ON_APPEND_DEFAULT.does());
        assertTrue(run.failed().stream().anyMatch(failure -> failure.startsWith("everyCallAfterCloseFails")
                        && failure.contains("a decorator forwards it to the store it wraps")), String.join("\n", run.failed()));
        assertTrue(run.failed().stream().anyMatch(failure -> failure.startsWith("onAppendAfterCloseIsRefused")
                        && failure.contains("a decorator forwards it to the store it wraps")), String.join("\n", run.failed()));
    }

    @Test
    void theContractPassesTheSameWrapperWithoutAMistake() {
        runContract(new Mistake("makes none", Forwarding::new)).assertPassed(48);
    }

    @Test
    void theContractPassesAStoreThatReopensWithEverything() {
        runContract(new Mistake("reopens whole", Forwarding::new, closed -> reopened(closed, 0))).assertPassed(49);
    }

    /** Runs the whole contract against the stores {@code mistake} makes. */
    private static ContractRun runContract(Mistake mistake) {
        BrokenStoreContract.mistake = mistake;
        return ContractRun.of(BrokenStoreContract.class);
    }

    /** The contract over the stores {@link #mistake} makes; run by {@link #runContract} only (surefire skips nested classes). */
    static class BrokenStoreContract extends EventStoreContract {
        static volatile Mistake mistake;

        @Override
        protected EventStore newStore() {
            return mistake.store().apply(new InMemoryEventStore());
        }

        @Override
        protected boolean isDurable() {
            return mistake.reopen() != null;
        }

        @Override
        protected EventStore reopen(EventStore current) {
            return mistake.reopen().apply(current);
        }
    }

    /**
     * A memory store "reopened": a new one holding the events of {@code closed}, in log order, with the
     * times they were recorded at, but for its newest {@code lost}; {@code closed} is closed.
     */
    private static EventStore reopened(EventStore closed, int lost) {
        List<RecordedEvent> all = closed.readAll(0, Integer.MAX_VALUE);
        closed.close();
        InMemoryEventStore store = new InMemoryEventStore();
        Map<UUID, Instant> recordedAt = new HashMap<>();
        for (RecordedEvent event : all.subList(0, all.size() - lost)) {
            store.append(event.streamId(), ExpectedVersion.ANY, List.of(event.toEventData()));
            recordedAt.put(event.eventId(), event.recordedAt());
        }
        UnaryOperator<RecordedEvent> asRecorded = e -> changed(e, e.data(), e.metadata(),
                recordedAt.getOrDefault(e.eventId(), e.recordedAt()));
        return new Forwarding(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return inner.readStream(streamId, fromVersion, maxCount).stream().map(asRecorded).toList();
            }

            @Override
            public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
                return inner.readAll(afterPosition, maxCount).stream().map(asRecorded).toList();
            }

            @Override
            public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
                return inner.readCategory(category, afterPosition, maxCount).stream().map(asRecorded).toList();
            }

            @Override
            public Optional<RecordedEvent> readEvent(UUID eventId) {
                return inner.readEvent(eventId).map(asRecorded);
            }
        };
    }

    /** A recorded event as it was, but for its body, metadata and time. */
    private static RecordedEvent changed(RecordedEvent e, byte[] data, Map<String, String> metadata, Instant recordedAt) {
        return new RecordedEvent(e.streamId(), e.version(), e.position(), e.eventId(), e.type(), data, metadata, recordedAt);
    }

    /** Hands every call to the memory store; each mistake overrides what it gets wrong. */
    private static class Forwarding extends ForwardingEventStore {
        final InMemoryEventStore inner;

        Forwarding(InMemoryEventStore inner) {
            super(inner);
            this.inner = inner;
        }
    }
}
