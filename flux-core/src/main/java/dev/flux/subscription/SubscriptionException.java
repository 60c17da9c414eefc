package dev.flux.subscription;

import dev.flux.FluxException;

/**
 * Why a {@link Subscription} stopped on its own ({@link Subscription#failure()}): a handler kept failing
 * on an event and the failure hook said stop, a handler threw an {@link Error}, its source went back
 * (see the class Javadoc of {@code Subscription}), answered a read out of order, or refused to tell of
 * appends at the start (a closed store), or something else failed unexpectedly. The message names the
 * subscription, its position and what it found; the cause, when there is one, is the error itself.
 */
public final class SubscriptionException extends FluxException {
    private static final long serialVersionUID = 1L;

    public SubscriptionException(String message, Throwable cause) {
        super(message, cause);
    }
}
