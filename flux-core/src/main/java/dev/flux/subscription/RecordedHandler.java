package dev.flux.subscription;

import dev.flux.RecordedEvent;

/**
 * Handles every event of a {@link Subscription} as recorded bytes, whatever its type, without
 * decoding it. An exception makes the subscription retry the same event.
 */
@FunctionalInterface
public interface RecordedHandler {
    void handle(RecordedEvent recorded) throws Exception;
}
