package dev.flux.subscription;

import dev.flux.FluxException;

/**
 * Why a {@link Subscription} stopped on its own: a handler kept failing on an event and the failure hook
 * said stop, a handler threw an {@link Error}, or the subscription was beyond its source's end (the
 * source went back; see the class Javadoc of {@code Subscription}).
 */
public final class SubscriptionException extends FluxException {
    private static final long serialVersionUID = 1L;

    public SubscriptionException(String message, Throwable cause) {
        super(message, cause);
    }
}
