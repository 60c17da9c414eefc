package dev.flux.subscription;

import dev.flux.RecordedEvent;

/**
 * Decides what a {@link Subscription} does with an event its handlers still fail on after the
 * configured retries: stop (the default; the event is handled again on the next start) or skip it
 * and go on. Either way the hook is where to report it: a subscription never skips silently.
 */
@FunctionalInterface
public interface FailureHandler {

    /** What to do with the event. */
    enum Action {
        /** Stop the subscription in state {@link Subscription.State#FAILED}; its offset stays before the event. */
        STOP,
        /** Count the event as handled and go on with the next one. */
        SKIP
    }

    /**
     * Called on the subscription's thread once the retries for {@code event} are used up.
     *
     * @param attempts how many times the handlers were called for it
     * @param error    the last handler error
     * @return what to do; null, or an exception thrown here, counts as {@link Action#STOP} (added to
     *         {@code error} as suppressed, which {@link Subscription#failure()} has as its cause)
     */
    Action onFailure(RecordedEvent event, Exception error, int attempts);

    /** Always stops. */
    static FailureHandler stop() {
        return (event, error, attempts) -> Action.STOP;
    }

    /** Always skips (after the caller's own reporting, if it wraps this). */
    static FailureHandler skip() {
        return (event, error, attempts) -> Action.SKIP;
    }
}
