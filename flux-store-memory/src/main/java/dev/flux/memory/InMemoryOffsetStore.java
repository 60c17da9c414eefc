package dev.flux.memory;

import dev.flux.subscription.OffsetStore;

import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/** An {@link OffsetStore} in the heap, for tests and subscriptions that start over with the process. Thread-safe. */
public final class InMemoryOffsetStore implements OffsetStore {
    private final Map<String, Long> positions = new ConcurrentHashMap<>();

    @Override
    public long load(String name) {
        OffsetStore.requireValid(name, 0);
        return positions.getOrDefault(name, 0L);
    }

    @Override
    public OptionalLong find(String name) {
        OffsetStore.requireValid(name, 0);
        Long position = positions.get(name);
        return position == null ? OptionalLong.empty() : OptionalLong.of(position);
    }

    @Override
    public void save(String name, long position) {
        OffsetStore.requireValid(name, position);
        positions.put(name, position);
    }

    @Override
    public void delete(String name) {
        OffsetStore.requireValid(name, 0);
        positions.remove(name);
    }
}
