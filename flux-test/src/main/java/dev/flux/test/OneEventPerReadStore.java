package dev.flux.test;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.RecordedEvent;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * An adversarial decorator: every read returns at most one event, as a store may when it cuts a page
 * short. Code that reads a stream or the log correctly (in a loop until an empty page) works the same
 * through it; code that stops at the first short page does not. Run {@link EventStoreContract} and
 * your consumers' tests through it to catch paging bugs. Everything else passes through, the methods
 * with defaults ({@code readCategory}, {@code lastPosition}, {@code onAppend}) too, so the wrapped
 * store's own answers are the ones tested. Thread-safe when the wrapped store is.
 *
 * <pre>{@code
 * class MyStoreOneEventPerReadTest extends EventStoreContract {
 *     protected EventStore newStore() { return new OneEventPerReadStore(new MyStore()); }
 * }
 * }</pre>
 */
public final class OneEventPerReadStore implements EventStore {
    private final EventStore delegate;

    /**
     * Wraps {@code delegate}; closing this closes it.
     *
     * @throws IllegalArgumentException when the delegate is null
     */
    public OneEventPerReadStore(EventStore delegate) {
        if (delegate == null) {
            throw new IllegalArgumentException("delegate must not be null");
        }
        this.delegate = delegate;
    }

    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        return delegate.append(streamId, expectedVersion, events);
    }

    @Override
    public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
        return delegate.readStream(streamId, fromVersion, Math.min(maxCount, 1));
    }

    @Override
    public long streamVersion(String streamId) {
        return delegate.streamVersion(streamId);
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        return delegate.readAll(afterPosition, Math.min(maxCount, 1));
    }

    @Override
    public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        return delegate.readCategory(category, afterPosition, Math.min(maxCount, 1));
    }

    @Override
    public long lastPosition() {
        return delegate.lastPosition();
    }

    @Override
    public Optional<RecordedEvent> readEvent(UUID eventId) {
        return delegate.readEvent(eventId);
    }

    @Override
    public Runnable onAppend(Runnable listener) {
        return delegate.onAppend(listener);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
