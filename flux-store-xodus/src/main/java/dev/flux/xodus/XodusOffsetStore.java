package dev.flux.xodus;

import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;

import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * An {@link OffsetStore} in its own directory, on JetBrains Xodus: durable like
 * {@link XodusEventStore}, whose options it takes. Give it a directory of its own, e.g.
 * {@code data/offsets} beside {@code data/events}: a directory holds one store, and one process at a
 * time opens it.
 *
 * <pre>{@code
 * try (XodusOffsetStore offsets = new XodusOffsetStore(Path.of("data/offsets"))) {
 *     long after = offsets.load("balances");
 *     ...
 *     offsets.save("balances", lastPosition);
 * }
 * }</pre>
 *
 * <p>With durable writes (the default) a {@link #save} or {@link #delete} returns once it is on disk.
 * Like the event store, it writes only on a thread of its own, which groups concurrent saves into one
 * transaction and one sync; a caller interrupted while it saves waits for the outcome and finds its
 * interrupt flag set again. A save whose commit fails (the disk full) says so and that nothing of it was
 * stored, and the store takes no more writes until it is opened again, as the event store does. The
 * positions live in one Xodus store, {@code offsets}: the name's UTF-8 bytes to 8 bytes big-endian. Claims are {@link OffsetStore}'s defaults (one process opens the
 * directory, so there is no other process to claim a name from): {@link #claim} always succeeds and
 * {@link #release} does nothing, also after {@link #close()}. Thread-safe; after {@link #close()} every
 * other method throws {@link IllegalStateException}.
 */
public final class XodusOffsetStore implements OffsetStore {
    static final String OFFSETS = "offsets";

    private final SingleStore offsets;

    /**
     * Opens the offsets in {@code directory} with {@link XodusOptions#defaults()}, creating the
     * directory when it does not exist.
     *
     * @throws FluxException            when the directory is a file, cannot be created, read or written, is
     *                                  locked by another process, or holds something else
     * @throws IllegalArgumentException when the directory is null or an empty path
     */
    public XodusOffsetStore(Path directory) {
        this(directory, XodusOptions.defaults());
    }

    /**
     * Opens the offsets in {@code directory}, creating the directory when it does not exist.
     *
     * @throws FluxException            when the directory is a file, cannot be created, read or written, is
     *                                  locked by another process, or holds something else
     * @throws IllegalArgumentException when an argument is null, or the directory an empty path
     */
    public XodusOffsetStore(Path directory, XodusOptions options) {
        this.offsets = new SingleStore(directory, options, "XodusOffsetStore", OFFSETS);
    }

    /** The directory the offsets are in, absolute. */
    public Path directory() {
        return offsets.directory.path;
    }

    /** @throws IllegalStateException when closed */
    @Override
    public long load(String name) {
        return find(name).orElse(0);
    }

    /** @throws IllegalStateException when closed */
    @Override
    public OptionalLong find(String name) {
        OffsetStore.requireValid(name, 0);
        ByteIterable key = key(name);
        return offsets.read(txn -> {
            ByteIterable position = offsets.store.get(txn, key);
            if (position == null) {
                return OptionalLong.empty();
            }
            if (position.getLength() != 8) {
                throw new FluxException("Corrupt " + offsets.directory.owner + ": the offset of '" + name + "' is "
                        + position.getLength() + " bytes, not 8; its files were changed outside flux or damaged");
            }
            return OptionalLong.of(Layout.number(position));
        });
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException when closed
     * @throws FluxException         when the write failed (the message says whether it may have landed)
     */
    @Override
    public void save(String name, long position) {
        OffsetStore.requireValid(name, position);
        ByteIterable key = key(name);
        ByteIterable value = Layout.number(position);
        offsets.requireFits(key, value, "The offset of subscription '" + SingleStore.abbreviated(name) + "'");
        offsets.write(txn -> offsets.store.put(txn, key, value));
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException when closed
     * @throws FluxException         when the write failed (the message says whether it may have landed)
     */
    @Override
    public void delete(String name) {
        OffsetStore.requireValid(name, 0);
        ByteIterable key = key(name);
        offsets.write(txn -> offsets.store.delete(txn, key));
    }

    /** Finishes the writes already queued, stops the writer thread and closes the directory. Idempotent (see {@link XodusEventStore#close()}). */
    @Override
    public void close() {
        offsets.close();
    }

    @Override
    public String toString() {
        return "XodusOffsetStore[" + offsets.directory.path + "]";
    }

    private static ByteIterable key(String name) {
        return new ArrayByteIterable(EventRecord.utf8(name));
    }
}
