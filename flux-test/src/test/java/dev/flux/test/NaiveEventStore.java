package dev.flux.test;

import dev.flux.AppendListeners;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A store as a user writes one from the README and Javadoc: maps behind one lock. It has two
 * mistakes the contract's messages must explain: it keeps {@code readCategory}'s default and does not
 * check {@code readEvent}'s id.
 */
final class NaiveEventStore implements EventStore {
    private final Object lock = new Object();
    private final Map<String, List<RecordedEvent>> streams = new HashMap<>();
    private final List<RecordedEvent> log = new ArrayList<>();
    private final Map<UUID, RecordedEvent> byId = new HashMap<>();
    private final AppendListeners listeners = new AppendListeners();
    private boolean closed;

    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        StreamName.requireStreamId(streamId);
        ExpectedVersion.requireValid(expectedVersion);
        EventData.requireBatch(streamId, events);
        long version;
        synchronized (lock) {
            requireOpen();
            List<RecordedEvent> stream = streams.computeIfAbsent(streamId, s -> new ArrayList<>());
            Set<UUID> ids = new HashSet<>();
            for (EventData event : events) {
                if (byId.containsKey(event.eventId()) || !ids.add(event.eventId())) {
                    throw new DuplicateEventIdException(streamId, event.eventId());
                }
            }
            ExpectedVersion.check(streamId, expectedVersion, stream.size() - 1L);
            Instant now = Instant.ofEpochMilli(System.currentTimeMillis());
            for (EventData event : events) {
                RecordedEvent recorded = RecordedEvent.of(streamId, stream.size(), log.size() + 1L, event, now);
                stream.add(recorded);
                log.add(recorded);
                byId.put(recorded.eventId(), recorded);
            }
            version = stream.size() - 1L;
        }
        listeners.appended(streamId);
        return version;
    }

    @Override
    public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
        StreamName.requireStreamId(streamId);
        EventReader.requireRange(fromVersion, maxCount);
        synchronized (lock) {
            requireOpen();
            return page(streams.getOrDefault(streamId, List.of()), fromVersion, maxCount);
        }
    }

    @Override
    public long streamVersion(String streamId) {
        StreamName.requireStreamId(streamId);
        synchronized (lock) {
            requireOpen();
            return streams.getOrDefault(streamId, List.of()).size() - 1L;
        }
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        EventReader.requireRange(afterPosition, maxCount);
        synchronized (lock) {
            requireOpen();
            return page(log, afterPosition, maxCount);
        }
    }

    @Override
    public Optional<RecordedEvent> readEvent(UUID eventId) {
        synchronized (lock) {
            requireOpen();
            return Optional.ofNullable(byId.get(eventId));
        }
    }

    @Override
    public Runnable onAppend(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        synchronized (lock) {
            requireOpen();
            return listeners.add(listener);
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("NaiveEventStore is closed");
        }
    }

    private static List<RecordedEvent> page(List<RecordedEvent> events, long from, int maxCount) {
        int start = (int) Math.min(from, events.size());
        return List.copyOf(events.subList(start, (int) Math.min(events.size(), (long) start + maxCount)));
    }
}
