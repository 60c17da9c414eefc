package dev.flux.xodus;

import dev.flux.FluxException;
import dev.flux.StreamName;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;

/**
 * A {@link SnapshotStore} in its own directory on JetBrains Xodus (e.g. {@code data/snapshots} beside
 * {@code data/events}), durable and interrupt-safe like {@link XodusEventStore}, whose options it takes.
 * One Xodus store, {@code snapshots}, maps the stream id's UTF-8 bytes to the latest snapshot:
 * version (8 bytes), taken-at seconds (8) and nanos (4), type length (4), type (UTF-8), then the
 * state's JSON. A save older than the snapshot held is dropped inside the writer's transaction, so
 * racing savers leave the newest. A save whose commit fails (the disk full) says so and that nothing of
 * it was stored, and the store takes no more writes until it is opened again, as the event store does.
 * Thread-safe; after {@link #close()} every method throws {@link IllegalStateException}.
 */
public final class XodusSnapshotStore implements SnapshotStore {
    static final String SNAPSHOTS = "snapshots";
    private static final int FIXED = 8 + 8 + 4 + 4;

    private final SingleStore snapshots;

    /**
     * Opens the snapshots in {@code directory} with {@link XodusOptions#defaults()}, creating it when missing.
     *
     * @throws FluxException            when the directory is a file, cannot be used, is locked by another
     *                                  process, or holds another kind of store
     * @throws IllegalArgumentException when the directory is null or an empty path
     */
    public XodusSnapshotStore(Path directory) {
        this(directory, XodusOptions.defaults());
    }

    /** As {@link #XodusSnapshotStore(Path)}, with these options. */
    public XodusSnapshotStore(Path directory, XodusOptions options) {
        this.snapshots = new SingleStore(directory, options, "XodusSnapshotStore", SNAPSHOTS);
    }

    /** The directory the snapshots are in, absolute. */
    public Path directory() {
        return snapshots.directory.path;
    }

    @Override
    public Optional<Snapshot> load(String streamId) {
        ByteIterable key = key(StreamName.requireStreamId(streamId));
        return snapshots.read(txn -> {
            ByteIterable value = snapshots.store.get(txn, key);
            return value == null ? Optional.empty() : Optional.of(decode(streamId, value));
        });
    }

    @Override
    public void save(Snapshot snapshot) {
        if (snapshot == null) {
            throw new IllegalArgumentException("snapshot must not be null");
        }
        ByteIterable key = key(snapshot.streamId());
        ByteIterable value = encode(snapshot);
        snapshots.requireFits(key, value, "The snapshot of " + SingleStore.abbreviated(snapshot.streamId()) + "@" + snapshot.version());
        snapshots.write(txn -> {
            ByteIterable held = snapshots.store.get(txn, key);
            if (held == null || held.getLength() < 8 || Layout.getLong(held.getBytesUnsafe(), 0) <= snapshot.version()) {
                snapshots.store.put(txn, key, value);
            }
        });
    }

    @Override
    public void delete(String streamId) {
        ByteIterable key = key(StreamName.requireStreamId(streamId));
        snapshots.write(txn -> snapshots.store.delete(txn, key));
    }

    /** Finishes the writes already queued, stops the writer thread and closes the directory. Idempotent (see {@link XodusEventStore#close()}). */
    @Override
    public void close() {
        snapshots.close();
    }

    @Override
    public String toString() {
        return "XodusSnapshotStore[" + snapshots.directory.path + "]";
    }

    private static ByteIterable key(String streamId) {
        return new ArrayByteIterable(EventRecord.utf8(streamId));
    }

    private static ByteIterable encode(Snapshot snapshot) {
        byte[] type = snapshot.type().getBytes(StandardCharsets.UTF_8);
        byte[] data = snapshot.data();
        byte[] bytes = new byte[FIXED + type.length + data.length];
        Layout.putLong(bytes, 0, snapshot.version());
        Layout.putLong(bytes, 8, snapshot.takenAt().getEpochSecond());
        Layout.putInt(bytes, 16, snapshot.takenAt().getNano());
        Layout.putInt(bytes, 20, type.length);
        System.arraycopy(type, 0, bytes, FIXED, type.length);
        System.arraycopy(data, 0, bytes, FIXED + type.length, data.length);
        return new ArrayByteIterable(bytes);
    }

    /** Decodes a stored snapshot; a damaged one is reported as such (the repository then replays events). */
    private Snapshot decode(String streamId, ByteIterable value) {
        byte[] bytes = Arrays.copyOf(value.getBytesUnsafe(), value.getLength());
        int typeLength = bytes.length >= FIXED ? Layout.getInt(bytes, 20) : -1;
        if (typeLength < 1 || FIXED + typeLength > bytes.length) {
            throw new FluxException("Corrupt " + snapshots.directory.owner + ": the snapshot of " + streamId + " is damaged ("
                    + bytes.length + " bytes)");
        }
        try {
            return new Snapshot(streamId, Layout.getLong(bytes, 0),
                    new String(bytes, FIXED, typeLength, StandardCharsets.UTF_8),
                    Arrays.copyOfRange(bytes, FIXED + typeLength, bytes.length),
                    Instant.ofEpochSecond(Layout.getLong(bytes, 8), Layout.getInt(bytes, 16)));
        } catch (RuntimeException e) {
            throw new FluxException("Corrupt " + snapshots.directory.owner + ": the snapshot of " + streamId + " is damaged: " + e.getMessage(), e);
        }
    }
}
