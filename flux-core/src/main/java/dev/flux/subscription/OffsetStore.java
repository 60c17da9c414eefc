package dev.flux.subscription;

import dev.flux.Utf8;

import java.time.Duration;
import java.util.OptionalLong;

/**
 * Where durable subscriptions keep how far they have read: one position per subscription name.
 * A subscription that restarts resumes after its stored position, so delivery is at-least-once.
 * Implementations are thread-safe; a durable implementation has the position on disk when
 * {@link #save} returns. A store that several processes share also keeps a claim per name
 * ({@link #claim}), so that only one process at a time runs a subscription of that name. A call
 * from a thread whose interrupt flag is set (a subscription being stopped, a task an executor's
 * {@code shutdownNow} reached) does its work as it would without, and leaves the flag set.
 */
public interface OffsetStore extends AutoCloseable {

    /**
     * The position stored under {@code name}, or 0 when none is (read the source from its start).
     *
     * @throws IllegalArgumentException when the name is null or blank
     */
    long load(String name);

    /**
     * The position stored under {@code name}, or empty when none is: unlike {@link #load}, this tells
     * a stored 0 from nothing stored, which a subscription that starts at the end of its source needs.
     * The default treats 0 as nothing stored; every store overrides it ({@code OffsetStoreContract} checks
     * that a stored 0 is found), and a subscription that {@linkplain Subscription.Builder#startAtEnd starts
     * at the end} refuses a store that does not (its stored start of 0 would read back as none, and a
     * restart skip to the end).
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
     * Claims {@code name} for {@code owner} until {@code lease} from now, or renews the claim
     * {@code owner} already holds. A durable {@link Subscription} handles events only while it holds
     * its name's claim: of the processes that run a subscription of one name on one shared store, one
     * handles events and the others stand by, and one of them takes over when the claim ends (released
     * when the holder stops, or run out when its process died or hung). Claims and positions are
     * independent: {@link #save} and {@link #delete} leave a claim as it is.
     *
     * <p>The default claims nothing and returns true: right for a store one process alone uses (in
     * memory; an embedded store, which one process opens at a time), where {@link Subscription} already
     * keeps a name to one subscription. A store that processes share overrides this and {@link #release}.
     *
     * @param owner who claims, unique per subscription instance (e.g. process id, host and a random part)
     * @return true when {@code owner} holds the claim for {@code lease} from now; false when another
     *         owner holds it and its lease has not run out
     * @throws IllegalArgumentException when the name or owner is null or blank, or the lease not positive
     */
    default boolean claim(String name, String owner, Duration lease) {
        requireClaim(name, owner, lease);
        return true;
    }

    /**
     * Stores {@code position} under {@code name} only while {@code owner} holds the name's claim (see
     * {@link #claim}), and says whether it did. A subscription on a store that keeps claims stores its
     * offsets so: one that lost its claim between renewing it and saving (its process paused past the
     * lease) then cannot overwrite the offset of the process that took over. The default saves and
     * returns true, as its claims always succeed.
     *
     * @return false when another owner holds the claim (nothing was stored)
     * @throws IllegalArgumentException when the name or owner is null or blank, or the position negative
     */
    default boolean saveClaimed(String name, long position, String owner) {
        requireClaim(name, owner, Duration.ofMillis(1));
        requireValid(name, position);
        save(name, position);
        return true;
    }

    /**
     * Forgets the position stored under {@code name} only while {@code owner} holds the name's claim (see
     * {@link #claim}), and says whether it did: a subscription on a store that keeps claims resets so
     * ({@link Subscription.Builder#reset}), so that one that lost its claim just before its reset (its
     * process paused past the lease) cannot wipe out the offset of the process that took over. The default
     * deletes and returns true, as its claims always succeed.
     *
     * @return false when another owner holds the claim (nothing was deleted)
     * @throws IllegalArgumentException when the name or owner is null or blank
     */
    default boolean deleteClaimed(String name, String owner) {
        requireClaim(name, owner, Duration.ofMillis(1));
        delete(name);
        return true;
    }

    /**
     * Ends {@code owner}'s claim on {@code name}, if it holds it, so that another owner can claim it at
     * once. The default does nothing (see {@link #claim}).
     *
     * @throws IllegalArgumentException when the name or owner is null or blank
     */
    default void release(String name, String owner) {
        requireClaim(name, owner, Duration.ofMillis(1));
    }

    /**
     * Checks the arguments of {@link #claim}.
     *
     * @throws IllegalArgumentException when the name or owner is null or blank or holds a lone surrogate,
     *                                  or the lease is null or not positive
     */
    static void requireClaim(String name, String owner, Duration lease) {
        requireValid(name, 0);
        if (owner == null || owner.isBlank()) {
            throw new IllegalArgumentException("claim owner for '" + name + "' must not be null or blank, was "
                    + (owner == null ? "null" : "'" + owner + "'"));
        }
        Utf8.requireEncodable(owner, "claim owner", null);
        if (lease == null || lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("claim lease for '" + name + "' must be a positive duration, was " + lease);
        }
    }

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

    /**
     * Releases what the store holds: a Xodus store its environment and its directory's lock. The default does
     * nothing, for stores that hold nothing of their own (memory) or whose client the caller owns and closes
     * (MongoDB). A subscription never closes the store it is given: close it once the subscriptions that use
     * it have stopped. Declared here so that a store held as an {@code OffsetStore} can be closed, in a
     * try-with-resources say.
     *
     * <p>It throws no checked exception, so an override of a store of your own cannot declare one: a
     * {@code close() throws SQLException} (or {@code IOException}, or {@code Exception}) does not compile. Catch it
     * in {@code close} and rethrow it unchecked, with its cause (a {@link dev.flux.FluxException} naming the store).
     */
    @Override
    default void close() {
    }
}
