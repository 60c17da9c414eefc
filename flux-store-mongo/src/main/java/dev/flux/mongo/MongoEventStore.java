package dev.flux.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.ErrorCategory;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.MongoSocketException;
import com.mongodb.MongoWriteConcernException;
import com.mongodb.ReadConcern;
import com.mongodb.ReadPreference;
import com.mongodb.bulk.BulkWriteError;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoCursor;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.IndexModel;
import com.mongodb.client.model.IndexOptions;
import com.mongodb.client.model.InsertManyOptions;
import com.mongodb.client.model.Indexes;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.Sorts;
import dev.flux.AppendListeners;
import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonSerializationException;
import org.bson.conversions.Bson;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.Queue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * An {@link EventStore} in MongoDB: the store for many writer processes on many machines against
 * one server or replica set. It needs no multi-document transactions, so it works the same on a
 * standalone server, a replica set and servers without sessions.
 *
 * <h2>Schema</h2>
 * One document per append (a <em>commit</em>) in the events collection ({@code flux_events} by
 * default), holding all of the append's events, so an append is atomic because a single-document
 * insert is:
 * <pre>{@code
 * { _id:           <long>    global position of the commit's last event
 *   firstPosition: <long>    global position of its first event; the events hold firstPosition.._id
 *   stream:        <string>  the stream id
 *   category:      <string>  the stream's category
 *   firstVersion:  <long>    stream version of the first event
 *   lastVersion:   <long>    stream version of the last event
 *   recordedAt:    <date>    when its insert's turn came (milliseconds), never before the commit before it
 *   events: [ { id: <UUID, binary subtype 4>, type: <string>, data: <binary>,
 *               metadata: [ [key, value], ... ] }, ... ] }
 * }</pre>
 * Indexes, created idempotently when the store is built:
 * <ul>
 *   <li>{@code _id} (unique): global reads: the commits whose last position is in
 *       {@code (P, P + maxCount]}, since positions are contiguous;</li>
 *   <li>{@code position_unique} on {@code firstPosition} (unique): claims global positions;</li>
 *   <li>{@code stream_version_unique} on {@code (stream, firstVersion)} (unique): optimistic
 *       concurrency and stream reads;</li>
 *   <li>{@code event_id_unique} on {@code events.id} (unique, multikey): event ids unique across the store
 *       and {@link #readEvent};</li>
 *   <li>{@code category_position} on {@code (category, _id)}: {@link #readCategory}.</li>
 * </ul>
 *
 * <h2>Versions</h2>
 * An append reads the stream's last commit, checks the expected version against its
 * {@code lastVersion}, and inserts a commit starting at the next version. Every commit starts
 * right after the commit it was checked against, so the commits of a stream are contiguous, and of
 * two appends racing from the same version the unique {@code (stream, firstVersion)} index lets
 * exactly one in; the other gets {@link ConcurrencyConflictException} with the stream's actual
 * version ({@link ExpectedVersion#ANY} reads again and retries instead). With majority write and
 * read concerns (the default) the store remembers, for the 10,000 streams it used last, the last
 * version it appended or read: a commit that a majority has cannot be rolled back, so an append
 * expecting exactly that version inserts at once, without reading the stream first, and the unique
 * index still refuses it if another writer got there first. (This assumes nobody deletes commit
 * documents behind a running store.) With those concerns an {@link ExpectedVersion#ANY} append, whose
 * version the store picks, reads the stream's last commit as a majority has it: a commit only the
 * primary has can be rolled back by a failover, and an append placed after it would then follow a
 * version that no longer exists, or that a retried write fills in later at a later global position.
 * An exact expected version is checked against the primary's newest commit instead, since the caller
 * picked it (from a majority read), and a new primary's majority view can lag behind what a majority
 * acknowledged, which would refuse a valid append.
 *
 * <h2>The global log</h2>
 * Positions are claimed through the unique index on {@code firstPosition}: a writer takes the
 * highest {@code _id} plus one and inserts; when another writer took that position first the insert
 * fails with a duplicate key and the writer reads the highest position again and retries. A commit
 * can only be inserted right after a commit that is already visible, so positions are contiguous and
 * become visible in order: there is never a gap for a reader to pass, and a reader that has read up
 * to {@code P} never later finds an event at or below {@code P}. The cost is that writers to the
 * whole store serialize on the end of the log: within this process they take turns on one lock
 * ({@code positionLock}), held for the whole insert including its write-concern wait, since a
 * second insert in flight could be applied first and seen by a reader before the first. Appends
 * that arrive meanwhile queue up, and the next holder inserts all of them with one ordered
 * {@code insertMany} (group commit: one round trip and one write-concern wait for the group; the
 * server applies them in order and stops at the first refused one, whose caller alone gets the
 * refusal, and the rest are inserted again after it). The lock also keeps the next free position,
 * so a lone process needs no extra read per append. Writers in other processes cost each other a
 * failed insert and a re-read of the end of the log. With the
 * default majority write and read concerns a reader also never sees a commit that a failover rolls
 * back, and the order survives a failover (the majority commit point moves in oplog order). Writers
 * then read the end of the log with majority read concern too, so a commit is only ever placed after
 * one a failover cannot take back: otherwise a process could build on another's commit that a failover
 * then rolls back, and when the driver retried both writes on the new primary (retryable writes), the
 * later position could land first and a reader pass the earlier one for good. A writer that meets a
 * position another process took reads again after a pause (a quarter of a millisecond, doubling up to
 * 20 ms) that gives the other commit time to reach a majority.
 *
 * <p>A commit's {@code recordedAt} is taken in its turn, when its positions are, by this process's clock,
 * and is never before the time of the commit at the position before it (this process's own, or the one it
 * read as the end of the log): times only grow along the log, so sorting or filtering by them agrees with
 * positions. Taken before the turn, an append that waited (for a group ahead, or for another process's
 * commit) went in after a later one with its earlier time. A process whose clock runs ahead moves the
 * times of the commits after its own up to its clock: keep the machines' clocks in sync, as
 * {@link MongoOffsetStore}'s claims need too.
 *
 * <h2>Errors</h2>
 * A duplicate key is told apart by the index it hit: {@code position_unique} or {@code _id} is
 * retried, {@code stream_version_unique} is a {@link ConcurrencyConflictException}, and
 * {@code event_id_unique} a {@link DuplicateEventIdException} naming the id (a multikey index does
 * not catch a repeat inside one document, so the store checks the batch itself). Any other driver
 * failure, including a server that is down or unreachable after the driver's own server-selection
 * wait and a client closed under an open store, becomes a {@link FluxException} naming the operation
 * and the stream and keeping the cause;
 * after a failed append whether it was written is unknown, and a reload tells. After a write concern
 * error (a {@code wtimeout} passed, say) the primary has the append but not the concern's
 * acknowledgement: a reload tells only once the replica set has caught up, and a failover before that may
 * roll it back; the exception says which case it is. A call already sent waits for its answer as long as
 * the driver's timeouts let it, by default for good (a server that stops answering without closing its
 * connections, a majority that never comes), and the appends queued behind it wait with it: bound it with
 * the driver's {@code timeoutMS} (in the connection string or the client's settings). A commit must fit in
 * one BSON document (16 MB); a larger one is refused with a {@link FluxException} and nothing is
 * written. A document in the events collection that is not a commit this store wrote (another
 * program's, or one edited by hand: a field missing or of another type, an {@code _id} that is not an
 * int64) fails every read and append that meets it with a {@link FluxException} naming its
 * {@code _id}, the collection and what is wrong; nothing is written meanwhile. Move it out of the
 * collection.
 *
 * <h2>Sharding</h2>
 * The events collection has three unique indexes on unrelated keys, and a sharded collection only
 * enforces unique indexes that start with its shard key, so the events collection cannot be
 * sharded (MongoDB refuses to shard it). On a sharded cluster, connect through {@code mongos} and
 * leave it unsharded; it then lives on the database's primary shard.
 *
 * <h2>Reads</h2>
 * A read returns at most {@code maxCount} events and stops early after about {@value #PAGE_BYTES} bytes
 * of them (always at least one event), so what one read returns stays bounded whatever {@code maxCount}
 * asks: a subscription's batch or a replay's page of big events comes in several reads. What a read receives
 * can be more: the driver fetches commits in batches of a number of documents (up to {@code maxCount}, at most
 * 1,000 for the global log and a category), which MongoDB cuts at 16 MiB, and a commit's size is not known
 * before it arrives, so a read of big events may receive a batch of up to about 16 MiB to return its 4 MiB. It
 * holds about one such batch at a time besides the events it returns. A read takes of each
 * commit at most as many events as the page has room for (a {@code $slice} of the commit's events), so an
 * append of many events read a page at a time is not sent whole again for every page. A stream read that
 * starts inside a commit takes its events from there; a global-log or category read that starts inside one
 * takes its first events, then reads it again from there, so such a commit is sent about two pages at a
 * time; and a page that the bytes fill early drops the rest of what its last commit sent. {@link #readEvent}
 * is one aggregation that finds the commit through {@code event_id_unique}, the event's index in the commit's
 * ids and the event at that index, and is sent that event alone, not the commit of thousands that holds it.
 *
 * <h2>Threads and processes</h2>
 * Reads follow the database's read preference, except {@link #lastPosition()} and {@link #streamVersion},
 * which read the primary (see there). All methods are safe from any number of threads. {@link #onAppend} listeners are told of appends
 * made through this store object only; readers in other processes find new events by polling.
 *
 * <p>Interrupts: a call from a thread whose interrupt flag is already set (a task an executor's
 * {@code shutdownNow} reached), an append or a read, goes ahead, and finds the flag set again when it
 * returns (the driver would fail it unsent). An interrupt
 * while an append waits for its turn refuses that append, and nothing of it is written. An interrupt
 * that lands while the driver waits for the server's answer makes the driver give up the connection:
 * the appends of that group then fail saying whether they were written is unknown (reload to tell).
 */
public final class MongoEventStore implements EventStore {
    /**
     * The bytes of events (their data, type and metadata) after which a read stops early: a bound on what a read
     * returns; the driver may receive up to one batch of commits (MongoDB cuts batches at 16 MiB) to return it.
     */
    public static final int PAGE_BYTES = 4 << 20;

    private static final String POSITION_INDEX = "position_unique";
    private static final String STREAM_VERSION_INDEX = "stream_version_unique";
    private static final String EVENT_ID_INDEX = "event_id_unique";
    private static final String CATEGORY_INDEX = "category_position";
    private static final int HEADS_REMEMBERED = 10_000;
    private static final int MAX_GROUP = 256;
    private static final long MAX_DOCUMENT_BYTES = 16L * 1024 * 1024 - 16 * 1024;
    /**
     * The longest pause before reading the end of the log (or, for {@link ExpectedVersion#ANY}, the stream) again
     * at majority read concern after another process's commit there refused an insert.
     */
    private static final long MAX_MAJORITY_WAIT_NANOS = 20_000_000L;
    private static final InsertManyOptions ORDERED = new InsertManyOptions().ordered(true);
    /** The fields of a commit a read takes besides its events. */
    private static final Bson COMMIT_FIELDS = Projections.include(Commit.FIRST_POSITION, Commit.STREAM,
            Commit.FIRST_VERSION, Commit.LAST_VERSION, Commit.RECORDED_AT);

    private final MongoCollection<BsonDocument> commits;
    /** The same collection for the reads an append makes: from the primary, without waiting for a majority. */
    private final MongoCollection<BsonDocument> writerView;
    /** The read of the end of the log a new position follows: with majority concerns, of what a majority has. */
    private final MongoCollection<BsonDocument> positionView;
    /**
     * The reads of the end of the log and of a stream: from the primary, with the options' read concern. A
     * subscription compares an end with positions it read, and a lagging secondary could show one below them.
     */
    private final MongoCollection<BsonDocument> endView;
    private final String where;
    private final MongoClient ownedClient;
    private final ReentrantLock positionLock = new ReentrantLock();
    /** Appends waiting for {@code positionLock}; the holder inserts them together. */
    private final Queue<PendingCommit> waiting = new ConcurrentLinkedQueue<>();
    /** At most this many appends go into one insertMany; {@value #MAX_GROUP} but in tests. */
    int maxGroup = MAX_GROUP;
    /** How long {@link #close()} waits for an insert in flight; shorter in tests. */
    long closeGraceNanos = TimeUnit.SECONDS.toNanos(10);
    /** Tests only: runs on an appending thread once its append is queued, before it takes the position lock. */
    volatile Runnable afterQueued;
    /** The next free global position as far as this process knows, 0 when unknown. Guarded by {@code positionLock}. */
    private long nextPosition;
    /**
     * The time recorded on the commit before {@code nextPosition} (milliseconds), {@code Long.MIN_VALUE} when it holds
     * none: no later commit is recorded earlier. Guarded by {@code positionLock}.
     */
    private long lastRecordedAt = Long.MIN_VALUE;
    /** Null unless both concerns are majority: then nothing this process wrote or read can be rolled back. */
    private final StreamHeads heads;
    private final AppendListeners appendListeners = new AppendListeners();
    private volatile boolean closed;

    /**
     * A store in {@code database} with the default options (see {@link MongoOptions}). The caller
     * owns the client behind the database and closes it after this store.
     *
     * @throws FluxException when the indexes cannot be created (server down, or an index of the same
     *                       name but another shape exists)
     */
    public MongoEventStore(MongoDatabase database) {
        this(database, MongoOptions.defaults());
    }

    /**
     * A store in {@code database} with these options. The caller owns the client behind the
     * database and closes it after this store.
     *
     * @throws IllegalArgumentException when an argument is null
     * @throws FluxException            when the indexes cannot be created
     */
    public MongoEventStore(MongoDatabase database, MongoOptions options) {
        this(database, options, null);
    }

    private MongoEventStore(MongoDatabase database, MongoOptions options, MongoClient ownedClient) {
        if (database == null || options == null) {
            throw new IllegalArgumentException("database and options must not be null, got database=" + database
                    + ", options=" + options);
        }
        this.ownedClient = ownedClient;
        this.where = database.getName() + "." + options.eventsCollection();
        this.commits = database.getCollection(options.eventsCollection(), BsonDocument.class)
                .withWriteConcern(options.writeConcern())
                .withReadConcern(options.readConcern());
        this.writerView = commits.withReadConcern(ReadConcern.LOCAL).withReadPreference(ReadPreference.primary());
        this.endView = commits.withReadPreference(ReadPreference.primary());
        boolean majority = "majority".equals(options.writeConcern().getWObject())
                && (ReadConcern.MAJORITY.equals(options.readConcern()) || ReadConcern.LINEARIZABLE.equals(options.readConcern()));
        this.heads = majority ? new StreamHeads(HEADS_REMEMBERED) : null;
        this.positionView = majority ? commits.withReadConcern(ReadConcern.MAJORITY).withReadPreference(ReadPreference.primary())
                : writerView;
        call("create the indexes of", () -> commits.createIndexes(List.of(
                new IndexModel(Indexes.ascending(Commit.FIRST_POSITION),
                        new IndexOptions().name(POSITION_INDEX).unique(true)),
                new IndexModel(Indexes.ascending(Commit.STREAM, Commit.FIRST_VERSION),
                        new IndexOptions().name(STREAM_VERSION_INDEX).unique(true)),
                new IndexModel(Indexes.ascending(Commit.EVENT_IDS),
                        new IndexOptions().name(EVENT_ID_INDEX).unique(true)),
                new IndexModel(Indexes.ascending(Commit.CATEGORY, Commit.LAST_POSITION),
                        new IndexOptions().name(CATEGORY_INDEX)))));
    }

    /**
     * Connects to the server a connection string names, with the default options, e.g.
     * {@code mongodb://db1,db2,db3/orders?replicaSet=rs0}. The database is the one in the string,
     * else {@code flux}. The store owns the client and closes it in {@link #close()}.
     *
     * @throws IllegalArgumentException when the connection string is null, malformed or names a database MongoDB
     *                                  refuses (as {@link MongoOptions#database()} says)
     * @throws FluxException            when the indexes cannot be created (e.g. no server answers)
     */
    public static MongoEventStore connect(String connectionString) {
        return connect(connectionString, MongoOptions.defaults());
    }

    /**
     * Connects as {@link #connect(String)} does, with these options; the database is the one in the
     * string, else {@link MongoOptions#database()}. The store owns the client and closes it in
     * {@link #close()}.
     *
     * @throws IllegalArgumentException when an argument is null, the connection string is malformed or names a
     *                                  database MongoDB refuses (as {@link MongoOptions#database()} says)
     * @throws FluxException            when the indexes cannot be created (e.g. no server answers)
     */
    public static MongoEventStore connect(String connectionString, MongoOptions options) {
        if (connectionString == null || options == null) {
            throw new IllegalArgumentException("connectionString and options must not be null");
        }
        ConnectionString parsed;
        try {
            parsed = new ConnectionString(connectionString);
        } catch (IllegalArgumentException e) {
            // The driver's message ("state should be: databaseName does not contain ' '") names no parameter; the
            // string is not repeated, as it may hold a password.
            throw new IllegalArgumentException("connectionString is not one MongoDB takes: " + e.getMessage(), e);
        }
        String database = parsed.getDatabase() != null ? parsed.getDatabase() : options.database();
        if (parsed.getDatabase() != null) {
            MongoOptions.requireDatabaseName("the database of connectionString", database);
        }
        MongoClient client = MongoClients.create(parsed);
        try {
            return new MongoEventStore(client.getDatabase(database), options, client);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    @Override
    public long append(String streamId, long expectedVersion, List<EventData> events) {
        StreamName.requireStreamId(streamId);
        ExpectedVersion.requireValid(expectedVersion);
        EventData.requireBatch(streamId, events);
        requireOpen();
        EventData.requireDistinctIds(streamId, events);
        // The driver fails any call made while the thread's interrupt flag is set: an append from a thread
        // asked to stop (an executor shutting down, say) goes ahead, and the caller finds its flag set after.
        boolean interrupted = Thread.interrupted();
        long version;
        try {
            version = appendAsChecked(streamId, expectedVersion, events);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        appendListeners.appended(streamId);
        return version;
    }

    private long appendAsChecked(String streamId, long expectedVersion, List<EventData> events) {
        String category = StreamName.category(streamId);
        long firstVersion;
        long known = heads == null ? StreamHeads.UNKNOWN : heads.known(streamId);
        int anyConflicts = 0;
        while (true) {
            long actual;
            if (expectedVersion == ExpectedVersion.NO_STREAM) {
                actual = ExpectedVersion.NO_STREAM;
            } else if (known != StreamHeads.UNKNOWN && (expectedVersion == known || expectedVersion == ExpectedVersion.ANY)) {
                actual = known; // a commit ends there for good: no need to read the stream first
            } else if (expectedVersion == ExpectedVersion.ANY) {
                // The store picks the version: only after a commit a failover cannot take back (see positionView).
                actual = version(positionView, streamId, "read the version of stream '" + streamId
                        + "' to append to it, from");
            } else {
                actual = headVersion(streamId);
            }
            known = StreamHeads.UNKNOWN;
            ExpectedVersion.check(streamId, expectedVersion, actual);
            firstVersion = actual + 1;
            if (insert(streamId, category, firstVersion, events)) {
                if (heads != null) {
                    heads.remember(streamId, firstVersion + events.size() - 1);
                }
                break;
            }
            if (expectedVersion != ExpectedVersion.ANY) {
                throw new ConcurrencyConflictException(streamId, expectedVersion, headVersion(streamId));
            }
            if (positionView != writerView) {
                // The commit that refused it shows in a majority read only once a majority has it: give it time.
                LockSupport.parkNanos(majorityWaitNanos(++anyConflicts));
            }
        }
        return firstVersion + events.size() - 1;
    }

    /**
     * Inserts the commit at {@code firstVersion}, claiming the next global positions. Appends of
     * this process that arrive while another is inserting wait on {@code positionLock}; the next
     * holder inserts all that are waiting with one ordered {@code insertMany} (group commit), so one
     * write-concern wait serves them all, and each caller gets its own outcome.
     *
     * @return false when another commit already starts at {@code firstVersion} (the stream moved on)
     */
    private boolean insert(String streamId, String category, long firstVersion, List<EventData> events) {
        BsonDocument document = Commit.document(streamId, category, firstVersion, events);
        long size = Commit.estimatedSize(document);
        if (size > MAX_DOCUMENT_BYTES) {
            throw new FluxException("The append of " + events.size() + " event(s) to stream '" + streamId
                    + "' does not fit in one MongoDB document (16 MB; this one is about " + size / 1024 + " KB) in "
                    + where + "; nothing was written. Append fewer or smaller events at a time");
        }
        PendingCommit pending = new PendingCommit(streamId, firstVersion, events, document);
        waiting.add(pending);
        Runnable hook = afterQueued;
        if (hook != null) {
            hook.run();
        }
        try {
            positionLock.lockInterruptibly();
        } catch (InterruptedException e) {
            if (waiting.remove(pending)) {
                Thread.currentThread().interrupt();
                throw new FluxException("Interrupted while waiting to append to stream '" + streamId + "' in " + where
                        + "; nothing was written", e);
            }
            Thread.currentThread().interrupt(); // another thread took it on: its outcome follows
        }
        if (positionLock.isHeldByCurrentThread()) {
            try {
                // Ours is done (an earlier holder inserted it) or still waiting: insert groups from the front of
                // the queue until it is done, so no caller is left waiting with nobody to insert its append.
                while (!pending.outcome.isDone()) {
                    List<PendingCommit> batch = new ArrayList<>();
                    for (PendingCommit next; batch.size() < maxGroup && (next = waiting.poll()) != null; ) {
                        batch.add(next);
                    }
                    if (batch.isEmpty()) {
                        throw new IllegalStateException("append to stream '" + streamId + "' neither done nor waiting");
                    }
                    if (closed) {
                        // close() closes the client once it holds the lock: refuse rather than insert
                        batch.forEach(commit -> commit.outcome.completeExceptionally(new IllegalStateException(
                                "MongoEventStore on " + where + " is closed; the append of " + commit.events.size()
                                        + " event(s) to stream '" + commit.streamId + "' at version "
                                        + commit.firstVersion + " was not written")));
                    } else {
                        insertGroup(batch);
                    }
                }
            } finally {
                positionLock.unlock();
            }
        }
        try {
            return pending.outcome.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw (RuntimeException) e.getCause();
        }
    }

    /**
     * Inserts the commits in order at the next positions; completes every one's outcome, whatever
     * happens (an {@link Error} too, which it then rethrows). Holds {@code positionLock}.
     */
    private void insertGroup(List<PendingCommit> batch) {
        // The holder's interrupt (set while it waited for the lock, say) is meant for its own caller, but the
        // driver would fail the whole group with it: keep it from the driver calls and give it back after.
        boolean interrupted = Thread.interrupted();
        List<PendingCommit> todo = batch;
        int positionConflicts = 0;
        try {
            while (!todo.isEmpty()) {
                if (nextPosition == 0) {
                    try {
                        BsonDocument last = call("read the last position of", () -> positionView.find()
                                .projection(Projections.include(Commit.LAST_POSITION, Commit.RECORDED_AT))
                                .sort(Sorts.descending(Commit.LAST_POSITION)).limit(1).first());
                        nextPosition = last == null ? 1 : Commit.int64(last, Commit.LAST_POSITION, where) + 1;
                        lastRecordedAt = last == null ? Long.MIN_VALUE : Commit.recordedAtMillis(last);
                    } catch (FluxException | IllegalStateException e) {
                        for (PendingCommit commit : todo) {
                            commit.outcome.completeExceptionally(new FluxException("Could not append "
                                    + commit.events.size() + " event(s) to stream '" + commit.streamId + "' at version "
                                    + commit.firstVersion + "; nothing was written: " + e.getMessage(), e));
                        }
                        return;
                    }
                }
                List<BsonDocument> documents = new ArrayList<>(todo.size());
                long position = nextPosition;
                // The time is taken in the turn, never before the commit before it: times only grow along the log.
                long now = Math.max(System.currentTimeMillis(), lastRecordedAt);
                BsonDateTime recordedAt = new BsonDateTime(now);
                for (PendingCommit commit : todo) {
                    Commit.placeAt(commit.document, position, commit.events.size(), recordedAt);
                    documents.add(commit.document);
                    position += commit.events.size();
                }
                try {
                    commits.insertMany(documents, ORDERED);
                    todo.forEach(commit -> commit.outcome.complete(true));
                    nextPosition = position;
                    lastRecordedAt = now;
                    return;
                } catch (MongoBulkWriteException e) {
                    if (e.getWriteConcernError() != null || e.getWriteErrors().isEmpty()) {
                        throw e;
                    }
                    BulkWriteError error = e.getWriteErrors().get(0);
                    int failed = error.getIndex();
                    inserted(todo, failed);
                    if (failed > 0) {
                        lastRecordedAt = now;
                    }
                    PendingCommit refused = todo.get(failed);
                    String index = error.getCategory() == ErrorCategory.DUPLICATE_KEY ? duplicateKeyIndex(error.getMessage()) : null;
                    if (POSITION_INDEX.equals(index) || "_id_".equals(index)) {
                        nextPosition = 0; // another process took it: read the end of the log again
                        todo = todo.subList(failed, todo.size());
                        positionConflicts++;
                        if (positionView != writerView) {
                            // Its commit shows in a majority read only once a majority has it: give it time.
                            LockSupport.parkNanos(majorityWaitNanos(positionConflicts));
                        }
                        continue;
                    }
                    if (STREAM_VERSION_INDEX.equals(index)) {
                        refused.outcome.complete(false);
                    } else if (EVENT_ID_INDEX.equals(index)) {
                        refused.outcome.completeExceptionally(duplicateEventId(refused, e));
                    } else {
                        refused.outcome.completeExceptionally(new FluxException("Could not append "
                                + refused.events.size() + " event(s) to stream '" + refused.streamId + "' at version "
                                + refused.firstVersion + " in " + where + "; nothing was written: " + error.getMessage(), e));
                    }
                    todo = todo.subList(failed + 1, todo.size());
                }
            }
        } catch (MongoException | IllegalStateException | BsonSerializationException e) {
            nextPosition = 0;
            String outcome = isWriteConcernError(e)
                    ? "the server took the insert but did not confirm its write concern " + commits.getWriteConcern().asDocument().toJson()
                    + ", so whether they stay is unknown until the replica set has caught up (a failover may roll them back);"
                    + " a reload tells only then"
                    : "whether they were written is unknown, reload the stream to tell";
            for (PendingCommit commit : todo) {
                commit.outcome.completeExceptionally(new FluxException("Could not append " + commit.events.size()
                        + " event(s) to stream '" + commit.streamId + "' at version " + commit.firstVersion + " in "
                        + where + "; " + outcome + ": " + describe(e), e));
            }
        } catch (RuntimeException | Error e) {
            nextPosition = 0;
            todo.forEach(commit -> commit.outcome.completeExceptionally(e));
            if (e instanceof Error error) {
                throw error;
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static boolean isWriteConcernError(RuntimeException e) {
        return e instanceof MongoWriteConcernException
                || e instanceof MongoBulkWriteException bulk && bulk.getWriteConcernError() != null;
    }

    /** The pause before reading again what a majority has, after the {@code conflicts}-th refusal by a commit it did not show. */
    private static long majorityWaitNanos(int conflicts) {
        return Math.min(MAX_MAJORITY_WAIT_NANOS, 250_000L << Math.min(conflicts - 1, 10));
    }

    /** Completes the first {@code count} commits as inserted and moves the next free position past them. */
    private void inserted(List<PendingCommit> todo, int count) {
        for (int i = 0; i < count; i++) {
            todo.get(i).outcome.complete(true);
            nextPosition += todo.get(i).events.size();
        }
    }

    /** The index a duplicate-key error message names: "E11000 duplicate key error collection: db.coll index: name dup key: {...}". */
    private static String duplicateKeyIndex(String message) {
        int at = message.indexOf(" index: ");
        if (at < 0) {
            return "(unnamed)";
        }
        int start = at + " index: ".length();
        int end = message.indexOf(' ', start);
        String index = end < 0 ? message.substring(start) : message.substring(start, end);
        int dollar = index.lastIndexOf(".$");
        return dollar < 0 ? index : index.substring(dollar + 2); // servers before 3.4: "db.coll.$name"
    }

    /**
     * What the refused append's caller gets: which of its ids is taken, found by one lookup that is sent the taken
     * ids alone, not the commit holding them.
     */
    private FluxException duplicateEventId(PendingCommit refused, MongoException cause) {
        String streamId = refused.streamId;
        List<EventData> events = refused.events;
        List<UUID> ids = events.stream().map(EventData::eventId).toList();
        Set<UUID> taken;
        try {
            BsonDocument found = call("find the duplicate event id of an append to stream '" + streamId + "' in",
                    () -> writerView.aggregate(Commit.takenIds(ids)).first());
            taken = found == null ? Set.of() : Commit.taken(found, where);
        } catch (FluxException | IllegalStateException lookupFailed) {
            FluxException exception = new FluxException("Could not append " + events.size() + " event(s) to stream '"
                    + streamId + "' at version " + refused.firstVersion + ": an event id of it is already taken, and"
                    + " finding which failed (" + lookupFailed.getMessage() + "); nothing was written", cause);
            exception.addSuppressed(lookupFailed);
            return exception;
        }
        UUID duplicate = ids.stream().filter(taken::contains).findFirst().orElse(ids.get(0));
        DuplicateEventIdException exception = new DuplicateEventIdException(streamId, duplicate);
        exception.initCause(cause);
        return exception;
    }

    /**
     * The position of the newest event in the global log, 0 when it is empty: one index lookup, on the
     * primary whatever the database's read preference, so it is not below a position a read from a
     * secondary returned (a subscription that finds its position beyond the end stops, taking the log
     * for one that went back).
     *
     * @throws FluxException when the server fails
     */
    @Override
    public long lastPosition() {
        requireOpen();
        return highestPosition(endView);
    }

    /** The highest global position taken, 0 when there is none. */
    private long highestPosition(MongoCollection<BsonDocument> collection) {
        BsonDocument last = call("read the last position of", () -> collection.find()
                .projection(Projections.include(Commit.LAST_POSITION))
                .sort(Sorts.descending(Commit.LAST_POSITION)).limit(1).first());
        return last == null ? 0 : Commit.int64(last, Commit.LAST_POSITION, where);
    }

    /** The stream's version as the primary has it, read to append to the stream. */
    private long headVersion(String streamId) {
        return version(writerView, streamId, "read the version of stream '" + streamId + "' to append to it, from");
    }

    private long version(MongoCollection<BsonDocument> collection, String streamId, String what) {
        BsonDocument head = call(what, () -> collection
                .find(Filters.eq(Commit.STREAM, streamId))
                .projection(Projections.include(Commit.LAST_VERSION))
                .sort(Sorts.descending(Commit.FIRST_VERSION)).limit(1).first());
        return head == null ? ExpectedVersion.NO_STREAM : Commit.int64(head, Commit.LAST_VERSION, where);
    }

    /**
     * Listeners run on the appending thread after each append through this object, once it is readable.
     *
     * @throws IllegalStateException when the store is closed
     */
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
        requireOpen();
        if (maxCount == 0) {
            return List.of();
        }
        return call("read stream '" + streamId + "' from version " + fromVersion + " in", () -> {
            Page page = new Page(maxCount);
            long start = fromVersion;
            if (fromVersion > 0) {
                // The commit holding fromVersion may start before it.
                BsonDocument holder = commits.find(Filters.and(Filters.eq(Commit.STREAM, streamId),
                                Filters.lte(Commit.FIRST_VERSION, fromVersion)))
                        .projection(Projections.include(Commit.FIRST_VERSION, Commit.LAST_VERSION))
                        .sort(Sorts.descending(Commit.FIRST_VERSION)).limit(1).first();
                if (holder != null) {
                    start = Commit.int64(holder, Commit.FIRST_VERSION, where);
                    long last = Commit.int64(holder, Commit.LAST_VERSION, where);
                    if (heads != null) {
                        heads.remember(streamId, last);
                    }
                    if (last < fromVersion) {
                        return page.events;     // versions are contiguous: no commit after it holds fromVersion
                    }
                    if (start < fromVersion) {
                        // A read that ended inside it: only its events from fromVersion on, not all of them again.
                        long skip = fromVersion - start;
                        BsonDocument rest = commits.find(Filters.and(Filters.eq(Commit.STREAM, streamId),
                                        Filters.eq(Commit.FIRST_VERSION, start)))
                                .projection(slicedFrom(skip, page.room())).first();
                        if (rest != null) {
                            Commit.addEvents(rest, skip, 0, fromVersion, page, where);
                        }
                        start = last + 1;
                    }
                }
            }
            if (page.isFull()) {
                return page.events;
            }
            // Versions are contiguous: the commits holding [start, fromVersion + maxCount) start in that range, and
            // their first events (as many as the page has room for) are all it takes of each.
            // A cursor left before its end is closed, so the server drops it at once (not after its idle timeout).
            try (MongoCursor<BsonDocument> cursor = commits.find(Filters.and(Filters.eq(Commit.STREAM, streamId),
                            Filters.gte(Commit.FIRST_VERSION, start),
                            Filters.lt(Commit.FIRST_VERSION, saturatedAdd(fromVersion, maxCount))))
                    .projection(slicedFrom(0, page.room()))
                    .sort(Sorts.ascending(Commit.FIRST_VERSION)).limit(maxCount).batchSize(maxCount).iterator()) {
                while (!page.isFull() && cursor.hasNext()) {
                    BsonDocument commit = cursor.next();
                    Commit.addEvents(commit, 0, 0, fromVersion, page, where);
                    if (heads != null) {
                        heads.remember(streamId, Commit.int64(commit, Commit.LAST_VERSION, where));
                    }
                }
            }
            return page.events;
        });
    }

    /**
     * The version of the stream's last event, {@link ExpectedVersion#NO_STREAM} when it has none: read on the
     * primary whatever the database's read preference, as {@link #lastPosition()} is.
     *
     * @throws FluxException when the server fails
     */
    @Override
    public long streamVersion(String streamId) {
        StreamName.requireStreamId(streamId);
        requireOpen();
        return version(endView, streamId, "read the version of stream '" + streamId + "' from");
    }

    @Override
    public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
        EventReader.requireRange(afterPosition, maxCount);
        requireOpen();
        if (maxCount == 0) {
            return List.of();
        }
        return call("read the global log after position " + afterPosition + " in", () -> {
            Page page = new Page(maxCount);
            // Positions are contiguous, so the commits ending in (afterPosition, afterPosition + maxCount] hold the
            // next events: a bounded range of _id. None holds more than maxCount events after afterPosition, so
            // their last maxCount events are all the page takes of each (the first may start before afterPosition).
            try (MongoCursor<BsonDocument> cursor = commits.find(Filters.and(
                            Filters.gt(Commit.LAST_POSITION, afterPosition),
                            Filters.lte(Commit.LAST_POSITION, saturatedAdd(afterPosition, maxCount))))
                    .projection(Projections.fields(COMMIT_FIELDS, Projections.slice(Commit.EVENTS, -maxCount)))
                    .sort(Sorts.ascending(Commit.LAST_POSITION)).limit(maxCount).batchSize(Math.min(maxCount, 1000))
                    .iterator()) {
                while (!page.isFull() && cursor.hasNext()) {
                    BsonDocument commit = cursor.next();
                    Commit.addEvents(commit, Math.max(0, Commit.size(commit, where) - maxCount), afterPosition, 0, page,
                            where);
                }
            }
            if (page.events.isEmpty()) {
                // The page stopped short before a commit that straddles its end: when that is all there is, it is
                // read by itself, from afterPosition on.
                BsonDocument next = commits.find(Filters.gt(Commit.LAST_POSITION, afterPosition))
                        .projection(slicedFrom(0, maxCount)).sort(Sorts.ascending(Commit.LAST_POSITION)).first();
                if (next != null) {
                    addAfter(next, afterPosition, page);
                }
            }
            return page.events;
        });
    }

    private static long saturatedAdd(long a, int b) {
        long sum = a + b;
        return sum < a ? Long.MAX_VALUE : sum;
    }

    @Override
    public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
        StreamName.requireCategory(category);
        EventReader.requireRange(afterPosition, maxCount);
        requireOpen();
        if (maxCount == 0) {
            return List.of();
        }
        return call("read category '" + category + "' after position " + afterPosition + " in", () -> {
            Page page = new Page(maxCount);
            try (MongoCursor<BsonDocument> cursor = commits.find(Filters.and(Filters.eq(Commit.CATEGORY, category),
                            Filters.gt(Commit.LAST_POSITION, afterPosition)))
                    .projection(slicedFrom(0, maxCount)).sort(Sorts.ascending(Commit.LAST_POSITION))
                    .limit(maxCount).batchSize(Math.min(maxCount, 1000)).iterator()) {
                while (!page.isFull() && cursor.hasNext()) {
                    addAfter(cursor.next(), afterPosition, page);
                }
            }
            return page.events;
        });
    }

    /**
     * Adds the events after {@code afterPosition} of a commit read with its first events: when it starts at or
     * before that position (a read that ended inside it), it is read again from there, rather than whole, so that
     * a commit of many events read a page at a time is not sent again in full for every page.
     */
    private void addAfter(BsonDocument commit, long afterPosition, Page page) {
        long skip = afterPosition + 1 - Commit.int64(commit, Commit.FIRST_POSITION, where);
        if (skip <= 0) {
            Commit.addEvents(commit, 0, afterPosition, 0, page, where);
            return;
        }
        BsonDocument rest = commits.find(Filters.eq(Commit.LAST_POSITION, commit.get(Commit.LAST_POSITION)))
                .projection(slicedFrom(skip, page.room())).first();
        if (rest != null) {
            Commit.addEvents(rest, skip, afterPosition, 0, page, where);
        }
    }

    /** What a read takes of a commit: every field but the category, and up to {@code count} events from index {@code skip}. */
    private static Bson slicedFrom(long skip, int count) {
        int from = (int) Math.min(Integer.MAX_VALUE, skip);
        // skip + count within an int: a server may add them (mongo-java-server fails on the overflow).
        return Projections.fields(COMMIT_FIELDS, Projections.slice(Commit.EVENTS, from, Math.min(count, Integer.MAX_VALUE - from)));
    }

    @Override
    public Optional<RecordedEvent> readEvent(UUID eventId) {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        requireOpen();
        BsonDocument found = call("read event " + eventId + " from",
                () -> commits.aggregate(Commit.lookup(eventId)).first());
        return found == null ? Optional.empty() : Optional.of(Commit.located(found, eventId, where));
    }

    /**
     * Stops the store; later calls fail with {@link IllegalStateException}, and so does a call that
     * began before and then meets the client closed (this store's, or the caller's closed after it).
     * An insert in flight finishes first, for up to 10 s (one waiting for a majority that never comes
     * would hold close up for good: after that, close goes on and that insert's outcome is left to the
     * driver); appends still waiting for their turn fail with {@link IllegalStateException} naming their
     * stream, and are not written. Closes the client only when the store made it ({@link #connect}).
     */
    @Override
    public void close() {
        closed = true;
        boolean locked = false;
        boolean interrupted = false;
        long deadline = System.nanoTime() + closeGraceNanos;
        while (!locked) {
            try {
                locked = positionLock.tryLock(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        try {
            if (ownedClient != null) {
                ownedClient.close();
            }
        } finally {
            if (locked) {
                positionLock.unlock();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "MongoEventStore[" + where + "]";
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("MongoEventStore on " + where + " is closed");
        }
    }

    /**
     * Runs a driver call of this store as {@link #call(String, String, Supplier)} does; a driver failure
     * once {@link #close()} has begun (it closed the client under a call that began before it) is the
     * store's being closed, an {@link IllegalStateException}.
     */
    private <T> T call(String what, Supplier<T> action) {
        try {
            return call(what, where, action);
        } catch (FluxException e) {
            if (closed && (e.getCause() instanceof MongoException || e.getCause() instanceof IllegalStateException)) {
                throw new IllegalStateException("MongoEventStore on " + where + " is closed; could not " + what + " "
                        + where + ": " + e.getCause().getMessage(), e.getCause());
            }
            throw e;
        }
    }

    /**
     * Runs a driver call of a store on {@code where}, a failure of it becoming a {@link FluxException}
     * that says what was done where: a driver failure, a client closed under the store, or a document
     * the driver would not send (too large, say; nothing was sent then). A caller's interrupt flag set
     * before the call is kept from the driver, which would fail the call for it without sending it, and
     * set again after: a read or a save from a task an executor's {@code shutdownNow} reached does its
     * work, as in the other stores.
     */
    static <T> T call(String what, String where, Supplier<T> action) {
        boolean interrupted = Thread.interrupted();
        try {
            return action.get();
        } catch (MongoException | IllegalStateException | BsonSerializationException e) {
            throw new FluxException("Could not " + what + " " + where + ": " + describe(e), e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The driver's message, with the server when the driver's message leaves it out; for the driver's
     * {@link IllegalStateException} ("state should be: open"), that its client is closed.
     */
    static String describe(RuntimeException e) {
        if (e instanceof MongoSocketException socket && !e.getMessage().contains(socket.getServerAddress().toString())) {
            return e.getMessage() + " (server " + socket.getServerAddress() + ")";
        }
        if (e instanceof IllegalStateException && "state should be: open".equals(e.getMessage())) {
            return "the MongoClient is closed (" + e.getMessage() + ")";
        }
        return e.getMessage();
    }
}
