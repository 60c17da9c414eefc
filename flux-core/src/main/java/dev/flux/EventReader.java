package dev.flux;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The reading role of an {@link EventStore}: what projections, subscriptions and the feed need.
 *
 * <p>Every read returns at most {@code maxCount} events and <em>may return fewer even when more
 * exist</em> (a store may cut a page short); only an empty list means there is nothing more after
 * the given place. Read in a loop until an empty page. Reads never block writers and are safe from
 * any number of threads.
 *
 * <p><b>The global-log rule.</b> Positions start at 1 and only grow in the order events become
 * visible: a reader that has seen position {@code P} never later finds a new event at a position
 * {@code <= P}. Positions need not be contiguous.
 *
 * <p><b>Times.</b> An event's {@link RecordedEvent#recordedAt()} is when the store recorded its
 * append, to the millisecond (every store truncates to it, as MongoDB's dates hold no finer), and the
 * same for every event of one append; a reader gets the same time from every read of the event.
 */
public interface EventReader {

    /**
     * Events of one stream with version {@code >= fromVersion}, in version order.
     *
     * @return an empty list when the stream has no such events
     * @throws IllegalArgumentException when the stream id is null or blank, or a number is negative
     */
    List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount);

    /**
     * The version of the stream's last event, {@link ExpectedVersion#NO_STREAM} (-1) when it has none.
     *
     * @throws IllegalArgumentException when the stream id is null or blank
     */
    long streamVersion(String streamId);

    /**
     * Events of the global log with position {@code > afterPosition}, in position (commit) order.
     * Pass 0 to read from the start.
     *
     * @throws IllegalArgumentException when a number is negative
     */
    List<RecordedEvent> readAll(long afterPosition, int maxCount);

    /**
     * Events of the global log whose stream is in {@code category} (see {@link StreamName#category})
     * with position {@code > afterPosition}, in position order. The default filters
     * {@link #readAll}; stores with a category index override it. The default cannot tell that its store
     * is closed when it reads nothing ({@code maxCount} 0), so a store that keeps it still overrides it to
     * refuse after {@link EventStore#close()} and then call the default, as {@code EventStoreContract}
     * checks.
     *
     * @throws IllegalArgumentException when the category is null, blank or holds {@code -}, or a number is negative
     */
    default List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        StreamName.requireCategory(category);
        requireRange(afterPosition, maxCount);
        List<RecordedEvent> found = new ArrayList<>();
        long after = afterPosition;
        while (found.isEmpty() && maxCount > 0) {
            List<RecordedEvent> page = readAll(after, Math.max(maxCount, 256));
            if (page.isEmpty()) {
                break;
            }
            for (RecordedEvent event : page) {
                if (found.size() == maxCount) {
                    break;
                }
                if (category.equals(event.category())) {
                    found.add(event);
                }
            }
            after = page.get(page.size() - 1).position();
        }
        return found;
    }

    /**
     * The position of the last event in the global log, 0 when the log is empty: where a reader that
     * wants only new events starts. The default finds it with O(log n) one-event reads of
     * {@link #readAll}; stores with a cheaper way override it.
     */
    default long lastPosition() {
        long low = 0;           // known: an event exists after low, or low == 0
        long high = 1;          // probe upwards until nothing is after high
        while (!readAll(high, 1).isEmpty()) {
            low = high;
            if (high > Long.MAX_VALUE / 2) {
                high = Long.MAX_VALUE;
                break;
            }
            high *= 2;
        }
        if (low == 0 && readAll(0, 1).isEmpty()) {
            return 0;
        }
        // Now something is after low and nothing is after high: the last position is in (low, high].
        while (high - low > 1) {
            long mid = low + (high - low) / 2;
            if (readAll(mid, 1).isEmpty()) {
                high = mid;
            } else {
                low = mid;
            }
        }
        return high;
    }

    /**
     * The event with this id, wherever it is.
     *
     * @throws IllegalArgumentException when the id is null
     */
    Optional<RecordedEvent> readEvent(UUID eventId);

    /**
     * Asks to be told when events land, so an in-process reader that has caught up can read again at
     * once instead of waiting for its next poll. {@code listener} runs on the appending thread after
     * the new events are visible and before {@code append} returns, once per append, so it must return quickly (signal a waiting thread, say) and not
     * throw. A store that cannot tell (one shared by many processes) keeps the default, which never
     * calls the listener: readers then poll. A listener that is an {@link AppendListeners.StreamListener}
     * (what a subscription to one stream or category passes) needs telling only of appends to the
     * streams it wants; a store that keeps its listeners in {@link AppendListeners} skips it for the
     * others, and telling it of every append is merely wasted work.
     *
     * <p>On an {@link EventStore} that is closed this fails, like every call after
     * {@link EventStore#close()}, with an {@link IllegalStateException} naming the store (a null
     * listener is refused first, with an {@link IllegalArgumentException}): a subscription or feed
     * started on a closed store learns it at once instead of waiting for appends that cannot come. The
     * default cannot tell that its store is closed, so a store overrides it to refuse then, even one
     * that never calls its listeners. What this returns takes back this one addition (a listener added
     * twice is told until both are taken back); running it again does nothing, and running it after the
     * close, when it was returned before, does not throw. {@code EventStoreContract} checks all of this.
     *
     * @return what to run to stop being told; safe to run more than once, and after the store closed
     * @throws IllegalArgumentException when the listener is null
     * @throws IllegalStateException    when this is a store that has been closed
     */
    default Runnable onAppend(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        return () -> { };
    }

    /**
     * Checks the place and count arguments of a read.
     *
     * @throws IllegalArgumentException when either is negative
     */
    static void requireRange(long from, int maxCount) {
        if (from < 0) {
            throw new IllegalArgumentException("position/version to read from must be >= 0, was " + from);
        }
        if (maxCount < 0) {
            throw new IllegalArgumentException("maxCount must be >= 0, was " + maxCount);
        }
    }
}
