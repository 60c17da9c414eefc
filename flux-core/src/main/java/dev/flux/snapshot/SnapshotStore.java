package dev.flux.snapshot;

import java.util.Optional;

/**
 * Keeps the latest snapshot of each stream. Implementations are thread-safe; a durable one has the
 * snapshot on disk when {@link #save} returns. A call from a thread whose interrupt flag is set
 * does its work as it would without, and leaves the flag set. Every implementation passes
 * {@code dev.flux.test.SnapshotStoreContract}, and checks stream ids with
 * {@link dev.flux.StreamName#requireStreamId}, as the built-in stores do.
 */
public interface SnapshotStore extends AutoCloseable {

    /**
     * The latest snapshot of {@code streamId}, if any.
     *
     * @throws IllegalArgumentException when the stream id is null or blank or holds a lone surrogate
     */
    Optional<Snapshot> load(String streamId);

    /**
     * Keeps {@code snapshot} as its stream's latest, unless the store already holds one of a higher
     * version (two writers may race; the newer state wins).
     *
     * @throws IllegalArgumentException when the snapshot is null
     */
    void save(Snapshot snapshot);

    /**
     * Forgets the snapshot of {@code streamId}; the next load replays every event.
     *
     * @throws IllegalArgumentException when the stream id is null or blank or holds a lone surrogate
     */
    void delete(String streamId);

    /**
     * Releases what the store holds: a Xodus store its environment and its directory's lock. The default does
     * nothing, for stores that hold nothing of their own (memory) or whose client the caller owns and closes
     * (MongoDB). A repository never closes the store it is given: close it once the repositories that use it
     * are done. Declared here so that a store held as a {@code SnapshotStore} can be closed, in a
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
