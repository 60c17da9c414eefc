package dev.flux;

/**
 * An event store: streams of events under optimistic versioning, and a global log of all of them
 * in commit order. It works on bytes ({@link EventData}, {@link RecordedEvent}) and knows nothing
 * of event classes or JSON.
 *
 * <p>Implementations: {@code InMemoryEventStore} (flux-store-memory), {@code XodusEventStore}
 * (flux-store-xodus), {@code MongoEventStore} (flux-store-mongo). Each passes {@code
 * EventStoreContract} from flux-test, which states the promises of {@link EventReader} and
 * {@link EventAppender} as tests. All methods are safe to call from any number of threads.
 */
public interface EventStore extends EventReader, EventAppender, AutoCloseable {

    /**
     * Releases the store's files, connections and threads. Calls after close fail, {@link #onAppend}
     * included (with an {@link IllegalStateException} naming the store); what {@code onAppend} returned
     * before the close may still be run, and does not throw.
     */
    @Override
    void close();
}
