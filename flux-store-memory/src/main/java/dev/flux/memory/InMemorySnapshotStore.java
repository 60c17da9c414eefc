package dev.flux.memory;

import dev.flux.StreamName;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** A {@link SnapshotStore} in the heap: the latest snapshot per stream. Thread-safe. */
public final class InMemorySnapshotStore implements SnapshotStore {
    private final Map<String, Snapshot> latest = new ConcurrentHashMap<>();

    @Override
    public Optional<Snapshot> load(String streamId) {
        return Optional.ofNullable(latest.get(StreamName.requireStreamId(streamId)));
    }

    @Override
    public void save(Snapshot snapshot) {
        if (snapshot == null) {
            throw new IllegalArgumentException("snapshot must not be null");
        }
        latest.merge(snapshot.streamId(), snapshot, (held, offered) -> offered.version() >= held.version() ? offered : held);
    }

    @Override
    public void delete(String streamId) {
        latest.remove(StreamName.requireStreamId(streamId));
    }
}
