package dev.flux.memory;

import dev.flux.AppendListeners;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An {@link EventStore} in the heap: for tests, prototypes, and processes whose events may be lost
 * with them. It passes the full {@code EventStoreContract} except durability (it has nothing to reopen).
 *
 * <p>Concurrency: appends take one lock, {@code appendLock}, only to check the version and ids, give
 * positions and publish; the events are validated and copied before it. Reads take no lock: the
 * global log, each stream and each category are append-only arrays (see {@link AppendOnlyArray}). An
 * append fills its stream and category first and publishes the log's size last; every read takes the
 * log's size first and shows a stream or category only up to it, so an append becomes visible to
 * every read (stream, category, log, by id, {@link #streamVersion}) at one instant. Positions are
 * contiguous from 1.
 */
public final class InMemoryEventStore implements EventStore {
    private final ReentrantLock appendLock = new ReentrantLock();
    private final AppendOnlyArray<RecordedEvent> log = new AppendOnlyArray<>(null);
    private final Map<String, AppendOnlyArray<RecordedEvent>> streams = new ConcurrentHashMap<>();
    private final Map<String, AppendOnlyArray<RecordedEvent>> categories = new ConcurrentHashMap<>();
    private final EventIndex byId = new EventIndex(log);
    private final AppendListeners appendListeners = new AppendListeners();
    private volatile boolean closed;

    /** An empty store. */
    public InMemoryEventStore() {
    }

    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        StreamName.requireStreamId(streamId);
        ExpectedVersion.requireValid(expectedVersion);
        EventData.requireBatch(streamId, events);
        requireOpen();
        EventData.requireDistinctIds(streamId, events);
        long newVersion;
        appendLock.lock();
        try {
            AppendOnlyArray<RecordedEvent> stream = streams.get(streamId);
            long actual = stream == null ? ExpectedVersion.NO_STREAM : stream.size() - 1;
            ExpectedVersion.check(streamId, expectedVersion, actual);
            requireNewIds(streamId, events);
            // Room first, in every array, so that nothing fails once the first one has been written.
            byId.makeRoom(events.size());
            if (stream == null) {
                stream = new AppendOnlyArray<>(categories.computeIfAbsent(StreamName.category(streamId),
                        c -> new AppendOnlyArray<>(null)));
                streams.put(streamId, stream);
            }
            Instant now = Instant.ofEpochMilli(System.currentTimeMillis());
            long position = log.size();
            RecordedEvent[] recorded = new RecordedEvent[events.size()];
            for (int i = 0; i < recorded.length; i++) {
                recorded[i] = RecordedEvent.of(streamId, ++actual, ++position, events.get(i), now);
            }
            stream.reserve(recorded.length);
            stream.category().reserve(recorded.length);
            log.reserve(recorded.length);
            // The index, the stream and the category before the log, whose size publishes them all: a reader
            // that sees an event anywhere took a log size that shows it, and so finds it everywhere.
            for (RecordedEvent event : recorded) {
                byId.add(event.eventId(), event.position());
            }
            stream.addAll(recorded);
            stream.category().addAll(recorded);
            log.addAll(recorded);
            newVersion = actual;
        } finally {
            appendLock.unlock();
        }
        appendListeners.appended(streamId);
        return newVersion;
    }

    /**
     * Listeners run on the appending thread after each append, outside the append lock.
     *
     * @throws IllegalStateException when the store is closed
     */
    @Override
    public Runnable onAppend(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        requireOpen();
        return appendListeners.add(listener);
    }

    private void requireNewIds(String streamId, List<EventData> events) {
        for (EventData event : events) {
            if (byId.get(event.eventId()) != null) {
                throw new DuplicateEventIdException(streamId, event.eventId());
            }
        }
    }

    @Override
    public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
        StreamName.requireStreamId(streamId);
        EventReader.requireRange(fromVersion, maxCount);
        requireOpen();
        int published = log.size();
        AppendOnlyArray<RecordedEvent> stream = streams.get(streamId);
        return stream == null ? List.of() : stream.slice(fromVersion, maxCount, visible(stream, published));
    }

    @Override
    public long streamVersion(String streamId) {
        StreamName.requireStreamId(streamId);
        requireOpen();
        int published = log.size();
        AppendOnlyArray<RecordedEvent> stream = streams.get(streamId);
        return stream == null ? ExpectedVersion.NO_STREAM : visible(stream, published) - 1;
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        EventReader.requireRange(afterPosition, maxCount);
        requireOpen();
        return log.slice(afterPosition, maxCount);
    }

    @Override
    public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        StreamName.requireCategory(category);
        EventReader.requireRange(afterPosition, maxCount);
        requireOpen();
        int published = log.size();
        AppendOnlyArray<RecordedEvent> events = categories.get(category);
        if (events == null) {
            return List.of();
        }
        int visible = visible(events, published);
        return events.slice(firstAfter(events, afterPosition, visible), maxCount, visible);
    }

    /**
     * How many of a stream's or category's events the log shows at {@code published}, its size as a reader
     * took it before this array's: all but those of appends published since (usually none, or the one in flight).
     */
    private static int visible(AppendOnlyArray<RecordedEvent> events, int published) {
        int n = events.size();
        while (n > 0 && events.get(n - 1).position() > published) {
            n--;
        }
        return n;
    }

    /** Index of the first of the {@code visible} events with a position above {@code afterPosition}: a binary search. */
    private static int firstAfter(AppendOnlyArray<RecordedEvent> events, long afterPosition, int visible) {
        int low = 0;
        int high = visible;
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (events.get(mid).position() <= afterPosition) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    @Override
    public Optional<RecordedEvent> readEvent(UUID eventId) {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        requireOpen();
        return Optional.ofNullable(byId.get(eventId));
    }

    /** Later calls fail with {@link IllegalStateException}. */
    @Override
    public void close() {
        closed = true;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("InMemoryEventStore is closed");
        }
    }

    /**
     * Events by id: an open-addressing hash table (linear probing, at most half full) of positions in the
     * global log, written under the append lock and read without one. Beside each slot it keeps the
     * hash of its event's id: a lookup reads an event only where the hashes match, and a growing table
     * moves its slots by the hashes alone. Holding numbers and no references, the table neither
     * allocates per event (resizing a {@link ConcurrentHashMap} was 40% of an append's time) nor
     * takes part in a garbage collector's copying, which thus lays the events out in log order, the order
     * replays read them in (a table of references, scanned first, scattered them in hash order).
     *
     * <p>An append makes room before it writes anything, so a table that cannot grow fails the append
     * whole. A slot, once set, never changes; a grown table is filled before it is published through the
     * volatile field. An append sets its slots before it publishes the events in the log, streams and
     * categories, and a reader checks a position it finds against the log's published size (see
     * {@link #get}): an event is found by id exactly when the log shows it, never before, and always
     * once a reader has seen it anywhere.
     */
    private static final class EventIndex {
        private final AppendOnlyArray<RecordedEvent> log;
        private volatile Table table = new Table(1024);
        private int size;

        /**
         * The slots: the position of the event in each (0 when free), and the hash of its id at the same
         * index.
         */
        private record Table(int[] positions, int[] hashes) {
            Table(int length) {
                this(new int[length], new int[length]);
            }

            void put(int position, int hash) {
                int mask = positions.length - 1;
                int i = hash & mask;
                while (positions[i] != 0) {
                    i = (i + 1) & mask;
                }
                hashes[i] = hash;
                positions[i] = position;
            }
        }

        EventIndex(AppendOnlyArray<RecordedEvent> log) {
            this.log = log;
        }

        /** Grows the table, if need be, so that {@code count} more events fit; the caller holds the append lock. */
        void makeRoom(int count) {
            Table current = table;
            long needed = 2L * (size + count);
            if (needed <= current.positions.length) {
                return;
            }
            if (needed > 1 << 30) {
                throw new IllegalStateException("the in-memory store holds at most " + (1 << 29) + " events");
            }
            Table grown = new Table(Integer.highestOneBit((int) needed - 1) << 1);
            for (int i = 0; i < current.positions.length; i++) {
                if (current.positions[i] != 0) {
                    grown.put(current.positions[i], current.hashes[i]);
                }
            }
            table = grown;
        }

        /**
         * Adds the event at {@code position}; the caller holds the append lock, has checked its id is new
         * and made room for it.
         */
        void add(UUID eventId, long position) {
            table.put((int) position, hash(eventId));
            size++;
        }

        /** The event with this id, null when there is none (or the log does not show it yet). */
        RecordedEvent get(UUID eventId) {
            Table current = table;
            int published = log.size();
            int hash = hash(eventId);
            int mask = current.positions.length - 1;
            for (int i = hash & mask; ; i = (i + 1) & mask) {
                int position = current.positions[i];
                if (position == 0) {
                    return null;
                }
                if (current.hashes[i] == hash && position <= published) {
                    RecordedEvent event = log.get(position - 1);
                    if (event.eventId().equals(eventId)) {
                        return event;
                    }
                }
            }
        }

        private static int hash(UUID id) {
            long h = id.getMostSignificantBits() ^ id.getLeastSignificantBits();
            h *= 0x9E3779B97F4A7C15L;
            return (int) (h >>> 32);
        }
    }
}
