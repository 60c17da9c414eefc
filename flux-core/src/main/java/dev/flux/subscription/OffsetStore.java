package dev.flux.subscription;

import dev.flux.Utf8;

import java.util.OptionalLong;

/**
 * Where durable subscriptions keep how far they have read: one position per subscription name.
 * A subscription that restarts resumes after its stored position, so delivery is at-least-once.
 * Implementations are thread-safe; a durable implementation has the position on disk when
 * {@link #save} returns.
 */
public interface OffsetStore {

    /**
     * The position stored under {@code name}, or 0 when none is (read the source from its start).
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    long load(String name);

    /**
     * The position stored under {@code name}, or empty when none is: unlike {@link #load}, this tells
     * a stored 0 from nothing stored, which a subscription that starts at the end of its source needs.
     * The default treats 0 as nothing stored; implementations that can tell override it, and a
     * subscription that {@linkplain Subscription.Builder#startAtEnd starts at the end} refuses a store
     * that does not (its stored start of 0 would read back as none, and a restart skip to the end).
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    default OptionalLong find(String name) {
        long position = load(name);
        return position == 0 ? OptionalLong.empty() : OptionalLong.of(position);
    }

    /**
     * Stores {@code position} under {@code name}, replacing what was there (it may go backwards, e.g.
     * on a reset).
     *
     * @throws IllegalArgumentException when the name is null or blank or the position is negative
     */
    void save(String name, long position);

    /**
     * Forgets the position stored under {@code name}; {@link #load} then gives 0.
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    void delete(String name);

    /**
     * Checks the arguments of a call.
     *
     * @throws IllegalArgumentException when the name is null or blank or holds a lone surrogate (see
     *                                  {@link Utf8}), or the position is negative
     */
    static void requireValid(String name, long position) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("subscription name must not be null or blank, was "
                    + (name == null ? "null" : "'" + name + "'"));
        }
        Utf8.requireEncodable(name, "subscription name", null);
        if (position < 0) {
            throw new IllegalArgumentException("position for '" + name + "' must be >= 0, was " + position);
        }
    }
}
