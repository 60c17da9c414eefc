package dev.flux.subscription;

import dev.flux.FluxException;

import java.time.Instant;

/**
 * A read of an {@link EventSource} that failed because the source must not be read again before a given
 * time: a feed that answered {@code 503} with a {@code Retry-After}, say, or a user's source over a service
 * with a rate limit. A {@link Subscription} that gets it from its source waits until {@link #retryAt()}
 * (or its stop) and reads again then, instead of backing off as it does after other failures; it logs
 * one warning per time given, without a stack trace. The message says why and names the source (its
 * URL, say).
 */
public final class RetryAfterException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final Instant retryAt;

    /**
     * @param message why the source is held back, naming it
     * @param retryAt the earliest time to read it again
     * @throws IllegalArgumentException when {@code retryAt} is null
     */
    public RetryAfterException(String message, Instant retryAt) {
        this(message, retryAt, null);
    }

    /**
     * For a source whose client reported the pause with an exception of its own (a 429 with a rate limit's
     * reset time, say): kept as the cause, so that {@link Subscription#lastError()} shows it.
     *
     * @param message why the source is held back, naming it
     * @param retryAt the earliest time to read it again
     * @param cause   what the source's client threw; may be null
     * @throws IllegalArgumentException when {@code retryAt} is null
     */
    public RetryAfterException(String message, Instant retryAt, Throwable cause) {
        super(message, cause);
        if (retryAt == null) {
            throw new IllegalArgumentException("retryAt must not be null (" + message + ")");
        }
        this.retryAt = retryAt;
    }

    /** The earliest time to read the source again; it may have passed already. */
    public Instant retryAt() {
        return retryAt;
    }
}
