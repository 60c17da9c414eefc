package dev.flux.subscription;

import dev.flux.RecordedEvent;

/**
 * Handles one decoded event of a {@link Subscription}, with the record it came from (stream,
 * version, position, metadata). An exception makes the subscription retry the same event.
 *
 * @param <E> the event class
 */
@FunctionalInterface
public interface EventHandler<E> {
    void handle(E event, RecordedEvent recorded) throws Exception;
}
