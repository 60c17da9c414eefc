package dev.flux;

/**
 * An event store: streams of events under optimistic versioning, and a global log of all of them
 * in commit order. It works on bytes ({@link EventData}, {@link RecordedEvent}) and knows nothing
 * of event classes or JSON.
 *
 * <p>Implementations: {@code InMemoryEventStore} (flux-store-memory), {@code XodusEventStore}
 * (flux-store-xodus), {@code MongoEventStore} (flux-store-mongo). Each passes {@code
 * EventStoreContract} from flux-test, which states the promises of {@link EventReader} and
 * {@link EventAppender} as tests. All methods are safe to call from any number of threads. A call
 * from a thread whose interrupt flag is set (a task an executor's {@code shutdownNow} reached) does its
 * work as it would without, and leaves the flag set for the caller to act on.
 */
public interface EventStore extends EventReader, EventAppender, AutoCloseable {

    /**
     * Releases the store's files, connections and threads. Every call after close fails with an
     * {@link IllegalStateException} naming the store and saying it is closed, {@link #onAppend}
     * included, whatever the call asks (an append that would conflict or repeat an id too; only a bad
     * argument is refused first, with an {@link IllegalArgumentException}); what {@code onAppend}
     * returned before the close may still be run, and does not throw. Closing a closed store again does
     * nothing.
     */
    @Override
    void close();
}
