package dev.flux.mongo;

import com.mongodb.ErrorCategory;
import com.mongodb.MongoWriteException;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.ReplaceOptions;
import dev.flux.FluxException;
import dev.flux.StreamName;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import org.bson.BsonBinary;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonInt32;
import org.bson.BsonInt64;
import org.bson.BsonString;

import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A {@link SnapshotStore} in MongoDB: one document per stream in the snapshots collection
 * ({@code flux_snapshots} by default),
 * {@code { _id: <stream id>, version: <long>, type: <string>, data: <binary>, takenAt: <date>, takenAtNanos: <int> }}.
 * A save is an upsert that only replaces a snapshot of a lower or equal version (a save older than
 * the one held loses the race on {@code _id} and is dropped), with the options' write concern. An
 * upsert is not atomic on MongoDB, so a save whose upsert met a racing first save's {@code _id}
 * upserts once more, and the newer of the two stays.
 * Thread-safe and stateless: any number of processes may share the collection. The caller owns the
 * client behind the database.
 */
public final class MongoSnapshotStore implements SnapshotStore {
    private final MongoCollection<BsonDocument> snapshots;
    private final String where;

    /** Snapshots in {@code database} with the default options. */
    public MongoSnapshotStore(MongoDatabase database) {
        this(database, MongoOptions.defaults());
    }

    /**
     * Snapshots in {@code database}, in {@link MongoOptions#snapshotsCollection()}, with its write and
     * read concerns.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public MongoSnapshotStore(MongoDatabase database, MongoOptions options) {
        if (database == null || options == null) {
            throw new IllegalArgumentException("database and options must not be null, got database=" + database
                    + ", options=" + options);
        }
        this.where = database.getName() + "." + options.snapshotsCollection();
        this.snapshots = database.getCollection(options.snapshotsCollection(), BsonDocument.class)
                .withWriteConcern(options.writeConcern())
                .withReadConcern(options.readConcern());
    }

    /** @throws FluxException when the server fails or the document is damaged */
    @Override
    public Optional<Snapshot> load(String streamId) {
        StreamName.requireStreamId(streamId);
        BsonDocument found = call("load the snapshot of " + streamId + " from",
                () -> snapshots.find(Filters.eq("_id", streamId)).first());
        if (found == null) {
            return Optional.empty();
        }
        try {
            Instant takenAt = Instant.ofEpochMilli(found.getDateTime("takenAt").getValue())
                    .plusNanos(found.getInt32("takenAtNanos").getValue() % 1_000_000);
            return Optional.of(new Snapshot(streamId, found.getInt64("version").getValue(), found.getString("type").getValue(),
                    found.getBinary("data").getData(), takenAt));
        } catch (RuntimeException e) {
            throw new FluxException("The snapshot document of " + streamId + " in " + where + " is damaged: " + e.getMessage(), e);
        }
    }

    /**
     * @throws IllegalArgumentException when the snapshot is null or its {@code takenAt} lies outside what a BSON date
     *                                  holds (milliseconds since the epoch in a signed 64-bit number, about 292
     *                                  million years either way, so {@link Instant#MAX} and {@link Instant#MIN} are
     *                                  out); nothing is written then
     * @throws FluxException            when the server fails; whether the snapshot was stored is then unknown
     */
    @Override
    public void save(Snapshot snapshot) {
        if (snapshot == null) {
            throw new IllegalArgumentException("snapshot must not be null");
        }
        Instant takenAt = snapshot.takenAt();
        long takenAtMillis;
        try {
            takenAtMillis = takenAt.toEpochMilli();
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("snapshot.takenAt of stream '" + snapshot.streamId() + "' must fit in a"
                    + " BSON date (milliseconds since the epoch in a signed 64-bit number), was " + takenAt
                    + "; nothing was written. Take it with the time it was taken, e.g. Instant.now()", e);
        }
        BsonDocument document = new BsonDocument("_id", new BsonString(snapshot.streamId()))
                .append("version", new BsonInt64(snapshot.version()))
                .append("type", new BsonString(snapshot.type()))
                .append("data", new BsonBinary(snapshot.data()))
                .append("takenAt", new BsonDateTime(takenAtMillis))
                .append("takenAtNanos", new BsonInt32(takenAt.getNano()));
        // An upsert is not atomic on MongoDB: two first saves of a stream can both find no document, and the one
        // inserting second meets the other's _id. Once more, the filter then sees the document held and decides.
        if (!replaceUnlessNewerHeld(snapshot, document)) {
            replaceUnlessNewerHeld(snapshot, document);
        }
    }

    /** One filtered upsert; false when it met a document with the stream's {@code _id} that its filter missed. */
    private boolean replaceUnlessNewerHeld(Snapshot snapshot, BsonDocument document) {
        try {
            call("save the snapshot of " + snapshot.streamId() + "@" + snapshot.version() + " in",
                    () -> snapshots.replaceOne(Filters.and(Filters.eq("_id", snapshot.streamId()),
                            Filters.lte("version", snapshot.version())), document, new ReplaceOptions().upsert(true)));
            return true;
        } catch (FluxException e) {
            if (e.getCause() instanceof MongoWriteException write
                    && write.getError().getCategory() == ErrorCategory.DUPLICATE_KEY) {
                return false; // a newer snapshot is held, or a racing first save inserted one meanwhile
            }
            throw e;
        }
    }

    /** @throws FluxException when the server fails */
    @Override
    public void delete(String streamId) {
        StreamName.requireStreamId(streamId);
        call("delete the snapshot of " + streamId + " from", () -> snapshots.deleteOne(Filters.eq("_id", streamId)));
    }

    @Override
    public String toString() {
        return "MongoSnapshotStore[" + where + "]";
    }

    private <T> T call(String what, Supplier<T> action) {
        return MongoEventStore.call(what, where, action);
    }
}
