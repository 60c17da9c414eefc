package dev.flux.subscription;

import dev.flux.EventReader;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;

import java.time.Duration;
import java.util.List;

/**
 * What a {@link Subscription} reads, in order: a store's global log, one category, one stream, or
 * (from {@code dev.flux.feed}) another process's HTTP feed.
 *
 * <p>A source is read by <em>cursor</em>: a number that grows with every event and that a
 * subscription stores as its offset. For the global log and a category the cursor is the event's
 * global position; for a stream it is the event's version plus one. 0 is before the first event.
 */
public interface EventSource {

    /**
     * Up to {@code maxCount} events whose cursor is greater than {@code after}, in cursor order. Like
     * {@link EventReader}'s reads it may return fewer than exist; only an empty list means that
     * nothing is there yet. A {@link Subscription} stops in {@link Subscription.State#FAILED}, handling
     * none of a read, when its cursors are not each after the one before (the first after {@code after}):
     * handled out of order, an offset stored past an event that came late would skip it on a restart.
     * A {@link Subscription} reads the last event it handled again this way
     * ({@code read(cursor - 1, 1)}) to check that its source did not go back: an event read twice must
     * come with the same {@link RecordedEvent#eventId() id}, or the subscription stops in
     * {@link Subscription.State#FAILED}. One that throws, or returns null, is retried as a read that failed.
     *
     * @throws RetryAfterException when the source must not be read again before a given time (a server that
     *                             asked for a pause): a {@link Subscription} waits until then and reads
     *                             again, instead of backing off as after another failure
     */
    List<RecordedEvent> read(long after, int maxCount);

    /**
     * The cursor of an event this source returned.
     *
     * @throws IllegalArgumentException when the event is null
     */
    long cursorOf(RecordedEvent event);

    /**
     * The cursor of the last event now in the source, 0 when it is empty: where "only new events" starts.
     * A {@link Subscription} that has not yet read an event since it started (a stored offset, or
     * {@link Subscription.Builder#startAtEnd}) also compares it with its position, and stops in
     * {@link Subscription.State#FAILED} when the position is beyond it (the source went back): it must
     * never be below the cursor of an event {@link #read} has returned. One that throws is retried as a
     * read that failed.
     *
     * @throws RetryAfterException as {@link #read} does
     */
    long end();

    /**
     * Asks to be told when new events may be there, so a caught-up subscription reads at once instead
     * of at its next poll. The listener must return quickly. The default never calls it (the
     * subscription then polls). A source over a store refuses, like the store's
     * {@link EventReader#onAppend}, once the store is closed: a {@link Subscription} that starts on it
     * then stops in {@link Subscription.State#FAILED} at once.
     *
     * @return what to run to stop being told, never null (a {@link Subscription} that gets null stops in
     *         {@link Subscription.State#FAILED} at once)
     * @throws IllegalArgumentException when the listener is null
     * @throws IllegalStateException    when the source can have no new events (its store is closed)
     */
    default Runnable onAppend(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        return () -> { };
    }

    /**
     * Whether {@link #read} itself waits a while for new events when there are none (a long poll),
     * so a subscription that got an empty page reads again at once instead of sleeping first.
     */
    default boolean waitsForEvents() {
        return false;
    }

    /**
     * The longest one {@link #read} can block before it returns or throws: the time it holds waiting
     * for new events when there are none (a long poll's wait), plus, for a source that asks a server,
     * the time it gives the answer to arrive (a dead or stalled server takes all of it);
     * {@link Duration#ZERO}, the default, for a source that answers at once. A durable
     * {@link Subscription} with a claim renews it between reads, so {@link Subscription.Builder#build()}
     * refuses one longer than a third of its {@linkplain Subscription.Builder#claimLease lease}.
     */
    default Duration longestWait() {
        return Duration.ZERO;
    }

    /**
     * Called from another thread when the subscription reading this source stops: a {@link #read}
     * that is waiting for events (a long poll) should return soon, empty. The default does nothing.
     */
    default void stopWaiting() {
    }

    /**
     * The whole global log of {@code reader}, by position.
     *
     * @throws IllegalArgumentException when the reader is null
     */
    static EventSource all(EventReader reader) {
        return new ReaderSource(reader, ReaderSource.Kind.ALL, null);
    }

    /**
     * The events of one category of {@code reader}, by global position.
     *
     * @throws IllegalArgumentException when the reader is null, or the category is null, blank or holds {@code -}
     */
    static EventSource category(EventReader reader, String category) {
        return new ReaderSource(reader, ReaderSource.Kind.CATEGORY, StreamName.requireCategory(category));
    }

    /**
     * The events of one stream of {@code reader}; the cursor is version + 1.
     *
     * @throws IllegalArgumentException when the reader is null, or the stream id is null or blank
     */
    static EventSource stream(EventReader reader, String streamId) {
        return new ReaderSource(reader, ReaderSource.Kind.STREAM, StreamName.requireStreamId(streamId));
    }
}
