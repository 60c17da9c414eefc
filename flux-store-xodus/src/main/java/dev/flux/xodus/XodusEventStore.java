package dev.flux.xodus;

import dev.flux.AppendListeners;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Cursor;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Transaction;
import jetbrains.exodus.env.TransactionalComputable;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.BiFunction;
import java.util.function.LongUnaryOperator;
import java.util.zip.CRC32C;

/**
 * An {@link EventStore} in a directory, on JetBrains Xodus: embedded, durable, the default for a
 * single process. One process at a time opens a directory (Xodus locks it).
 *
 * <pre>{@code
 * try (XodusEventStore store = new XodusEventStore(Path.of("data/events"))) {
 *     Repository<Account> accounts = Repository.of(Account.class, store);
 *     accounts.update("42", a -> a.credit(100));
 * }
 * }</pre>
 *
 * <p><b>Durability.</b> With durable writes (the default, see {@link XodusOptions}) {@link #append}
 * returns only after its events are on disk; a returned append survives a crash of the process or
 * the machine, and an append is never half there, whenever the process dies.
 *
 * <p><b>Group commit and threads.</b> The store owns one writer thread, and every write happens on
 * it. An append is checked and encoded on the caller's thread, queued, and waits; the writer takes
 * all appends waiting, checks each against the stream heads and event ids as the batch has left them,
 * writes those that pass, commits them all in one transaction, and the batch's callers learn their
 * own outcomes once it is synced. A refused append (conflict, duplicate id) writes nothing and does
 * not affect the others in its batch. Concurrent appenders so share syncs: throughput grows with
 * writers. With durable writes the store syncs its commits itself, on a second thread it owns: while
 * one batch's sync runs, the writer already builds and commits the next, and the next sync covers
 * every batch committed meanwhile (a lone appender skips the hand-over and syncs on the writer
 * thread). Should a sync ever fail, the appends it covered fail, saying they may not be on disk, and
 * the store takes no more writes until it is opened again. So too when the directory, or the log file
 * Xodus writes, was deleted, moved or replaced while the store is open (checked after every commit,
 * before its callers return): Xodus would go on committing into files nobody finds again. And so too
 * when a commit fails, the disk full say: its appends fail with a {@link FluxException} that names the
 * directory, says what happened and that nothing of them was stored (Xodus undoes the commit; should it
 * fail to, that whether they were stored is known once the store is opened again), and
 * later appends fail saying to free space, close the store and open it again. Xodus may not read its
 * own last page again after such a failure, so a read that then fails says the same; reopening finds
 * every append acknowledged before. Opening on a full disk fails naming the directory and the cause.
 *
 * <p>Reads run in Xodus read-only transactions on the caller's thread and never wait for writes; they
 * see whole batches only, and only batches already on disk: an event a reader saw is never lost to a
 * crash, even one of the machine. An appender's own events are on disk when its append returns, so it
 * reads them back at once; another reader may see them a sync (well under a millisecond to a few) later.
 * {@link #lastPosition()} is the last position on disk.
 *
 * <p><b>Interrupts.</b> An interrupt of a thread inside Xodus can close its files for good, so
 * writes happen only on the writer thread, which nobody interrupts. An appender whose thread is
 * interrupted while it waits keeps waiting for its batch (a commit takes milliseconds), then returns
 * or throws as it would have, with its interrupt flag set again: the interrupt never leaves its
 * outcome unknown. Reads, too, ignore the interrupt flag while they run and set it again after.
 *
 * <p><b>Layout.</b> Xodus stores in the directory, all Patricia trees without duplicates. A
 * {@code name} in a key is a 4-byte length and the UTF-8 bytes; a number in a value is 8 bytes
 * big-endian; numbers and event ids in keys are big-endian four bits to a byte (16 bytes a number, 32
 * an event id), which keeps each commit's rewritten tree nodes small. Directories written by the first
 * layout (version 1: 8 bytes a number, 16 an event id, in keys too) keep it and work as before.
 * <table>
 *   <caption>Xodus stores</caption>
 *   <tr><th>store</th><th>key</th><th>value</th></tr>
 *   <tr><td>{@code events}</td><td>global position (1, 2, 3, ... without gaps)</td>
 *       <td>the event record: stream id, version, event id, type, time, metadata, data, and a CRC32C of
 *       it all (see {@code EventRecord})</td></tr>
 *   <tr><td>{@code streamIndex}</td><td>stream id (name), version</td><td>position</td></tr>
 *   <tr><td>{@code eventIndex}</td><td>event id</td><td>position</td></tr>
 *   <tr><td>{@code categoryIndex}</td><td>category (name), position</td><td>empty</td></tr>
 *   <tr><td>{@code streamHeads}</td><td>stream id (UTF-8)</td><td>the stream's version</td></tr>
 *   <tr><td>{@code meta}</td><td>{@code kind}, {@code format}</td><td>{@code XodusEventStore}, the layout
 *       version (2; 1 in directories the first layout wrote)</td></tr>
 * </table>
 * Positions are given out by the writer thread in commit order, so the global-log rule holds with
 * contiguous positions. A record whose checksum or structure is wrong is reported with a
 * {@link FluxException} naming its position, stream, version and type; so is an index entry that points
 * at an event other than the one it is for (another stream's or version, id or category), instead of
 * that event being returned.
 *
 * <p>Beside Xodus's files, {@code flux-last-position} holds the last position the store knew to be on
 * disk (in decimal), written, whole or not at all, when it opens (after syncing the log it found) and
 * when it closes cleanly (after a crash it holds the position found at the last open, still a lower
 * bound); it costs appends nothing. A temporary file of it that a process killed while writing it left
 * behind ({@code flux-last-position.<pid>.<id>.tmp}) is deleted by an open once it is ten seconds old (a
 * younger one may be another process's, writing its mark as it closes).
 * Xodus, opening a log damaged in the middle, cuts it at the damage without a word: a store whose log
 * ends below that position refuses to open with a {@link FluxException} naming both positions, instead
 * of giving its positions out again. Restore such a directory from a backup; delete the file only to
 * open on purpose a directory replaced by an older copy. A directory without the file (new, or written
 * before it) opens as before.
 *
 * <p>Reads return at most {@code maxCount} events and stop early after about {@value #PAGE_BYTES}
 * bytes of event records (always at least one event), so a page's memory stays bounded.
 *
 * <p>All methods are thread-safe. After {@link #close()} every method throws
 * {@link IllegalStateException}.
 */
public final class XodusEventStore implements EventStore {
    /** The bytes of event records after which a read stops early. */
    public static final int PAGE_BYTES = 4 << 20;


    private final StoreDirectory directory;
    private final Layout layout;
    /** The largest event record (see {@link StoreDirectory#maxValueBytes()}). */
    private final int maxRecordBytes;
    private final GroupCommit<AppendBatch> writer;
    private final AppendListeners appendListeners = new AppendListeners();
    private final CRC32C crc = new CRC32C(); // writer thread only
    private long lastPosition; // writer thread only, once constructed
    /** The last position on disk (committed, without durable writes): reads show nothing after it. */
    private volatile long durablePosition;
    /** The position in the {@link PositionMark} file since the store opened. */
    private final long markedPosition;

    /**
     * Opens the store in {@code directory} with {@link XodusOptions#defaults()}, creating the
     * directory when it does not exist.
     *
     * @throws FluxException            when the directory is a file, cannot be created, read or written, is
     *                                  locked by another process, holds something else, or holds fewer events
     *                                  than it did (see the class documentation)
     * @throws IllegalArgumentException when the directory is null or an empty path
     */
    public XodusEventStore(Path directory) {
        this(directory, XodusOptions.defaults());
    }

    /**
     * Opens the store in {@code directory}, creating the directory when it does not exist.
     *
     * @throws FluxException            when the directory is a file, cannot be created, read or written, is
     *                                  locked by another process, holds something else, or holds fewer events
     *                                  than it did (see the class documentation)
     * @throws IllegalArgumentException when an argument is null, or the directory an empty path
     */
    public XodusEventStore(Path directory, XodusOptions options) {
        this(directory, options, LogSync::new);
    }

    /** With the given way to sync commits (tests pass one that waits or fails). */
    XodusEventStore(Path directory, XodusOptions options, BiFunction<Environment, Path, LogSync> syncs) {
        this.directory = StoreDirectory.open(directory, options, "XodusEventStore", true);
        Environment environment = this.directory.environment;
        this.layout = this.directory.opening(() -> Layout.open(environment, this.directory.path));
        this.lastPosition = this.directory.opening(() -> environment.computeInReadonlyTransaction(this::lastPositionIn));
        this.markedPosition = this.directory.opening(() -> mark(lastPosition, syncs));
        this.durablePosition = lastPosition;
        this.maxRecordBytes = this.directory.maxValueBytes();
        this.writer = new GroupCommit<>(this.directory, options.maxBatchEvents(),
                txn -> new AppendBatch(txn, layout, lastPosition, crc, this.directory.owner), batch -> lastPosition = batch.lastPosition,
                options.durableWrites() ? syncs.apply(environment, this.directory.path) : null,
                batch -> durablePosition = batch.lastPosition);
    }

    /** Checks the log ends no earlier than {@link PositionMark} says, raises the mark to its end, and returns it. */
    private long mark(long found, BiFunction<Environment, Path, LogSync> syncs) {
        PositionMark.deleteLeftovers(directory.path);
        long mark = PositionMark.read(directory.path, directory.owner);
        if (found < mark) {
            Path file = directory.path.resolve(PositionMark.FILE);
            throw new FluxException(directory.owner + " has lost events: its log ends at position " + found + ", but it"
                    + " held events up to position " + mark + " (recorded in " + file + "). Its log was cut short (Xodus"
                    + " cuts a log where it finds it damaged) or replaced by an older copy. Restore the directory from a"
                    + " backup; if you replaced it with an older copy on purpose, delete " + file + " and open it again");
        }
        if (found > mark) {
            // What the log holds past the mark may sit in the operating system's cache only (a process that died
            // between a commit and its sync, or writes that are not durable): on disk first, then in the mark.
            try (LogSync sync = syncs.apply(directory.environment, directory.path)) {
                sync.forceAll();
            } catch (IOException e) {
                throw new FluxException(directory.owner + " cannot sync its log before recording its last position: " + e, e);
            }
            try {
                PositionMark.write(directory.path, found);
            } catch (IOException e) {
                IoFailure io = IoFailure.in(e);
                throw new FluxException(directory.owner + " cannot open: it cannot record its last position (" + found
                        + ") in " + directory.path.resolve(PositionMark.FILE) + ": " + io.what() + "; " + io.remedy()
                        + " and open it again", e);
            }
        }
        return found;
    }

    private long lastPositionIn(Transaction txn) {
        try (Cursor cursor = layout.events.openCursor(txn)) {
            return cursor.getLast() ? layout.position(cursor.getKey()) : 0;
        }
    }

    /** The directory's layout version (see {@code Layout}), for tests. */
    long layoutVersion() {
        return layout.format;
    }

    /** The directory the store is in, absolute. */
    public Path directory() {
        return directory.path;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Returns once the events are committed (on disk, with durable writes). An interrupt does not cut
     * the wait short (see the class documentation).
     *
     * @throws IllegalStateException when the store is closed
     */
    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        StreamName.requireStreamId(streamId);
        ExpectedVersion.requireValid(expectedVersion);
        EventData.requireBatch(streamId, events);
        requireOpen();
        Append append = new Append(layout, streamId, expectedVersion, events, maxRecordBytes);
        writer.submit(append);
        long version = append.outcome();
        appendListeners.appended(streamId);
        return version;
    }

    /** Listeners run on the appending thread after its append has committed. */
    @Override
    public Runnable onAppend(Runnable listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        requireOpen();
        return appendListeners.add(listener);
    }

    @Override
    public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
        StreamName.requireStreamId(streamId);
        EventReader.requireRange(fromVersion, maxCount);
        if (maxCount == 0) {
            requireOpen();
            return List.of();
        }
        byte[] prefix = Layout.prefix(EventRecord.utf8(streamId));
        long durable = durablePosition;
        return read(txn -> {
            Page page = new Page(maxCount);
            try (Cursor cursor = layout.streamIndex.openCursor(txn)) {
                if (cursor.getSearchKeyRange(layout.key(prefix, fromVersion)) == null) {
                    return page.events;
                }
                do {
                    long version = layout.numberAfter(prefix, cursor.getKey());
                    if (version < 0) {
                        break;
                    }
                    long position = Layout.streamIndexPosition(cursor.getValue(), streamId, version, directory.owner);
                    if (position > durable) {
                        break;
                    }
                    readIndexed(txn, position, streamId, version, page);
                } while (!page.isFull() && cursor.getNext());
            }
            return page.events;
        });
    }

    @Override
    public long streamVersion(String streamId) {
        StreamName.requireStreamId(streamId);
        byte[] stream = EventRecord.utf8(streamId);
        ByteIterable key = new ArrayByteIterable(stream);
        long durable = durablePosition;
        return read(txn -> {
            ByteIterable head = layout.streamHeads.get(txn, key);
            if (head == null) {
                return ExpectedVersion.NO_STREAM;
            }
            // The head may be a commit still syncing: find the last version on disk.
            byte[] prefix = Layout.prefix(stream);
            long headVersion = Layout.headVersion(head, streamId, directory.owner);
            return lastVersionOnDisk(headVersion, durable, version -> {
                ByteIterable position = layout.streamIndex.get(txn, layout.key(prefix, version));
                if (position == null) {
                    throw new FluxException("Corrupt " + directory.owner + ": stream '" + streamId + "' is at version "
                            + headVersion + " but has no version " + version);
                }
                return Layout.streamIndexPosition(position, streamId, version, directory.owner);
            });
        });
    }

    /**
     * The highest version from -1 to {@code headVersion} whose event is at a position {@code <= durable} (-1 when
     * none is), by a binary search over {@code positionOf}: a stream's positions grow with its versions, and the
     * versions past the disk's end are those of commits still syncing, as many as a whole append (stepping back
     * one at a time read every event of a large append in flight, on every call).
     */
    static long lastVersionOnDisk(long headVersion, long durable, LongUnaryOperator positionOf) {
        if (positionOf.applyAsLong(headVersion) <= durable) {
            return headVersion;
        }
        long onDisk = -1;           // known on disk (or before the first version)
        long syncing = headVersion; // known not on disk yet
        while (syncing - onDisk > 1) {
            long middle = onDisk + (syncing - onDisk) / 2;
            if (positionOf.applyAsLong(middle) <= durable) {
                onDisk = middle;
            } else {
                syncing = middle;
            }
        }
        return onDisk;
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        EventReader.requireRange(afterPosition, maxCount);
        long durable = durablePosition;
        if (maxCount == 0 || afterPosition >= durable) {
            requireOpen();
            return List.of();
        }
        return read(txn -> {
            Page page = new Page(maxCount);
            try (Cursor cursor = layout.events.openCursor(txn)) {
                if (cursor.getSearchKeyRange(layout.positionKey(afterPosition + 1)) == null) {
                    return page.events;
                }
                do {
                    long position = layout.position(cursor.getKey());
                    if (position > durable) {
                        break;
                    }
                    ByteIterable record = cursor.getValue();
                    page.add(EventRecord.decode(position, record, null, -1, directory.path), record);
                } while (!page.isFull() && cursor.getNext());
            }
            return page.events;
        });
    }

    @Override
    public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        StreamName.requireCategory(category);
        EventReader.requireRange(afterPosition, maxCount);
        if (maxCount == 0 || afterPosition == Long.MAX_VALUE) {
            requireOpen();
            return List.of();
        }
        byte[] prefix = Layout.prefix(EventRecord.utf8(category));
        long durable = durablePosition;
        return read(txn -> {
            Page page = new Page(maxCount);
            try (Cursor cursor = layout.categoryIndex.openCursor(txn)) {
                if (cursor.getSearchKeyRange(layout.key(prefix, afterPosition + 1)) == null) {
                    return page.events;
                }
                do {
                    long position = layout.numberAfter(prefix, cursor.getKey());
                    if (position < 0 || position > durable) {
                        break;
                    }
                    readIndexed(txn, position, null, -1, page);
                    RecordedEvent event = page.events.get(page.events.size() - 1);
                    if (!StreamName.category(event.streamId()).equals(category)) {
                        throw new FluxException("Corrupt " + directory.owner + ": the category index entry of '" + category
                                + "' at position " + position + " points to an event of stream '" + event.streamId()
                                + "' (version " + event.version() + ", type '" + event.type() + "'); its files were"
                                + " changed outside flux or damaged. Restore the directory from a backup");
                    }
                } while (!page.isFull() && cursor.getNext());
            }
            return page.events;
        });
    }

    /** The position of the newest event on disk (see the class documentation), 0 when there is none. */
    @Override
    public long lastPosition() {
        requireOpen();
        return durablePosition;
    }

    @Override
    public Optional<RecordedEvent> readEvent(UUID eventId) {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        ByteIterable key = layout.eventIdKey(eventId);
        long durable = durablePosition;
        return read(txn -> {
            ByteIterable value = layout.eventIndex.get(txn, key);
            long position = value == null ? Long.MAX_VALUE : Layout.eventIndexPosition(value, eventId, directory.owner);
            if (position > durable) {
                return Optional.empty();
            }
            Page page = new Page(1);
            readIndexed(txn, position, null, -1, page);
            RecordedEvent event = page.events.get(0);
            if (!event.eventId().equals(eventId)) {
                throw new FluxException("Corrupt " + directory.owner + ": the event index entry of event " + eventId
                        + " points to position " + position + ", which holds event " + event.eventId() + " (stream '"
                        + event.streamId() + "' version " + event.version() + "); its files were changed outside flux or"
                        + " damaged. Restore the directory from a backup");
            }
            return Optional.of(event);
        });
    }

    /** Adds the event at the position an index gave, checked against what the index said of it. */
    private void readIndexed(Transaction txn, long position, String streamId, long version, Page page) {
        ByteIterable record = layout.events.get(txn, layout.positionKey(position));
        if (record == null) {
            throw new FluxException("Corrupt " + directory.owner + ": an index points to position " + position
                    + (streamId == null ? "" : " for stream '" + streamId + "' version " + version)
                    + ", which holds no event");
        }
        page.add(EventRecord.decode(position, record, streamId, version, directory.path), record);
    }

    /** The events of one read, full at {@code maxCount} events or {@link #PAGE_BYTES} bytes of records. */
    private static final class Page {
        final List<RecordedEvent> events;
        private final int maxCount;
        private long bytes;

        Page(int maxCount) {
            this.maxCount = maxCount;
            this.events = new ArrayList<>(Math.min(maxCount, 64));
        }

        void add(RecordedEvent event, ByteIterable record) {
            events.add(event);
            bytes += record.getLength();
        }

        boolean isFull() {
            return events.size() >= maxCount || bytes >= PAGE_BYTES;
        }
    }

    private <T> T read(TransactionalComputable<T> body) {
        return directory.read(body);
    }

    /**
     * Finishes the appends already queued (later ones fail with {@link IllegalStateException}), stops
     * the writer thread and closes the directory, then records the last position (see the class
     * documentation; not when the directory was deleted, moved or replaced while the store was open, as
     * what is there now is not the store's). Idempotent; a close while another is under way waits for
     * it, so the directory can be opened again when either returns. Waits uninterruptibly.
     *
     * @throws FluxException when the files cannot be closed cleanly or the last position not recorded, the
     *                       disk full say (what was committed stays committed, and the store is closed), or
     *                       when close finds the directory deleted, moved or replaced since the last write (a
     *                       write that found it so said so already)
     */
    @Override
    public void close() {
        directory.close(writer::close);
        if (durablePosition == markedPosition || directory.gone()) {
            return;
        }
        try {
            // Gone since the last write, unnoticed: the mark would go nowhere, or into a directory that another
            // store then refuses to open, as having lost events it never held.
            directory.requirePresent();
        } catch (StoreDirectory.Gone e) {
            throw new FluxException(directory.owner + " is closed, but " + e.getMessage() + ": what it wrote is in"
                    + " files no longer there, and it recorded no last position there. Put the directory back, or"
                    + " restore it from a backup, before opening it again", e);
        }
        long position = durablePosition;
        StoreDirectory.uninterrupted(() -> {
            try {
                PositionMark.write(directory.path, position);
            } catch (IOException e) {
                IoFailure io = IoFailure.in(e);
                throw new FluxException(directory.owner + " is closed, and every write it acknowledged is kept, but it"
                        + " could not record its last position (" + position + ") in " + directory.path.resolve(PositionMark.FILE)
                        + ": " + io.what() + "; " + io.remedy() + " (opening it again records it)", e);
            }
            return null;
        });
    }

    private void requireOpen() {
        directory.requireOpen();
    }

    @Override
    public String toString() {
        return "XodusEventStore[" + directory.path + "]";
    }
}
