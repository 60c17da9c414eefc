package dev.flux;

import java.util.List;

/**
 * The writing role of an {@link EventStore}.
 *
 * <p>An append that failed with its outcome unknown (a {@link FluxException}, a time-out say) may be
 * retried with the same events, their ids unchanged: it stores them once. When the failed attempt had
 * stored them, the retry is refused, with a {@link DuplicateEventIdException}, or, with an exact
 * expected version, a {@link ConcurrencyConflictException} (which refusal comes first is the store's
 * choice); {@link EventReader#readEvent} of one of the ids then tells whether they are the ones stored.
 */
public interface EventAppender {

    /**
     * Appends events to a stream, atomically: all of them or none, at consecutive versions and at
     * consecutive-in-order global positions, visible to readers together, all recorded at one time (see
     * {@link EventReader}). A batch that repeats an event id is refused with
     * {@link DuplicateEventIdException} whatever the stream's version: a conflict would say to reload and
     * retry, which cannot help it. An id already in the store and a wrong version may be refused in
     * either order.
     *
     * @param streamId        the stream, {@code <category>-<id>}
     * @param expectedVersion the version the stream must be at: exact, {@link ExpectedVersion#NO_STREAM}
     *                        or {@link ExpectedVersion#ANY}
     * @param events          one or more events; their ids must be new to the store
     * @return the stream's new version: that of the last event appended
     * @throws ConcurrencyConflictException when the stream is not at {@code expectedVersion}; nothing is written
     * @throws DuplicateEventIdException    when an event id is already in the store or repeats in
     *                                      {@code events}; nothing is written
     * @throws IllegalArgumentException     when the stream id is null or blank, {@code events} is null or
     *                                      empty or holds null, or {@code expectedVersion} is below {@code ANY}
     * @throws FluxException                when the store fails; whether the events were written is then
     *                                      unknown to the caller, and a reload tells
     */
    long append(String streamId, long expectedVersion, List<EventData> events);
}
