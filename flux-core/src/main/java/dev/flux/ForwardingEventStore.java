package dev.flux;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * An {@link EventStore} that hands every call to another: the base of a decorator (metrics, logging,
 * a fault injected in a test), which overrides what it adds to and calls {@code super} or
 * {@link #delegate()} for the rest.
 *
 * <pre>{@code
 * final class TimedStore extends ForwardingEventStore {
 *     TimedStore(EventStore store) { super(store); }
 *
 *     @Override
 *     public long append(String streamId, long expectedVersion, List<EventData> events) {
 *         long start = System.nanoTime();
 *         try {
 *             return super.append(streamId, expectedVersion, events);
 *         } finally {
 *             metrics.record(System.nanoTime() - start);
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>It forwards all nine methods, the three with defaults too: kept, the defaults of
 * {@link #readCategory} and {@link #lastPosition} would scan the global log, and {@link #onAppend}'s
 * would never tell of the wrapped store's appends (subscriptions would poll instead of being woken) nor
 * refuse once it closed. So a decorator that adds nothing passes {@code EventStoreContract} whenever
 * the store it wraps does. Thread-safe as the wrapped store is.
 *
 * <p>A decorator that keeps streams under other ids than its callers use (a tenant prefix, say) also
 * wraps the {@link AppendListeners.StreamListener} that {@link #onAppend} may be given, so that it is
 * asked about its callers' ids: forwarded as it is, it is asked about the stored ids, wants none of
 * them, and a category or stream subscription waits for its next poll instead of being woken
 * ({@code EventStoreContract} fails such a decorator).
 */
public abstract class ForwardingEventStore implements EventStore {
    private final EventStore delegate;

    /**
     * @throws IllegalArgumentException when {@code delegate} is null
     */
    protected ForwardingEventStore(EventStore delegate) {
        if (delegate == null) {
            throw new IllegalArgumentException("delegate must not be null");
        }
        this.delegate = delegate;
    }

    /** The store every call goes to. */
    protected final EventStore delegate() {
        return delegate;
    }

    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        return delegate.append(streamId, expectedVersion, events);
    }

    @Override
    public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
        return delegate.readStream(streamId, fromVersion, maxCount);
    }

    @Override
    public long streamVersion(String streamId) {
        return delegate.streamVersion(streamId);
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        return delegate.readAll(afterPosition, maxCount);
    }

    @Override
    public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        return delegate.readCategory(category, afterPosition, maxCount);
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

    @Override
    public String toString() {
        String name = getClass().getSimpleName();
        return (name.isEmpty() ? "ForwardingEventStore" : name) + " over " + delegate;
    }
}
