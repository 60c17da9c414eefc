package dev.flux.mongo;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.ReplaceOptions;
import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import org.bson.BsonDocument;
import org.bson.BsonInt64;
import org.bson.BsonString;

import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * An {@link OffsetStore} in MongoDB: one document per subscription name in the offsets collection
 * ({@code flux_offsets} by default), {@code { _id: <name>, position: <long> }}. A save is an upsert
 * with the options' write concern (majority by default), so the position is on a majority of the
 * replica set when {@link #save} returns. Thread-safe; it holds no state of its own, so any number
 * of processes may share the collection (each subscription name should have one owner at a time).
 * The caller owns the client behind the database.
 */
public final class MongoOffsetStore implements OffsetStore {
    private static final String POSITION = "position";

    private final MongoCollection<BsonDocument> offsets;
    private final String where;

    /** Offsets in {@code database} with the default options. */
    public MongoOffsetStore(MongoDatabase database) {
        this(database, MongoOptions.defaults());
    }

    /**
     * Offsets in {@code database}, in {@link MongoOptions#offsetsCollection()}, with its write and
     * read concerns.
     *
     * @throws IllegalArgumentException when an argument is null
     */
    public MongoOffsetStore(MongoDatabase database, MongoOptions options) {
        if (database == null || options == null) {
            throw new IllegalArgumentException("database and options must not be null, got database=" + database
                    + ", options=" + options);
        }
        this.where = database.getName() + "." + options.offsetsCollection();
        this.offsets = database.getCollection(options.offsetsCollection(), BsonDocument.class)
                .withWriteConcern(options.writeConcern())
                .withReadConcern(options.readConcern());
    }

    /** @throws FluxException when the server fails */
    @Override
    public long load(String name) {
        return find(name).orElse(0);
    }

    /** @throws FluxException when the server fails */
    @Override
    public OptionalLong find(String name) {
        OffsetStore.requireValid(name, 0);
        BsonDocument found = call("load the offset of '" + name + "' from",
                () -> offsets.find(Filters.eq("_id", name)).first());
        if (found == null) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(found.getInt64(POSITION).getValue());
        } catch (RuntimeException e) {
            throw new FluxException("The offset document of '" + name + "' in " + where + " has no int64 position: "
                    + found.toJson(), e);
        }
    }

    /** @throws FluxException when the server fails; the stored position is then unknown */
    @Override
    public void save(String name, long position) {
        OffsetStore.requireValid(name, position);
        BsonDocument document = new BsonDocument("_id", new BsonString(name)).append(POSITION, new BsonInt64(position));
        call("save offset " + position + " of '" + name + "' in",
                () -> offsets.replaceOne(Filters.eq("_id", name), document, new ReplaceOptions().upsert(true)));
    }

    /** @throws FluxException when the server fails */
    @Override
    public void delete(String name) {
        OffsetStore.requireValid(name, 0);
        call("delete the offset of '" + name + "' from", () -> offsets.deleteOne(Filters.eq("_id", name)));
    }

    @Override
    public String toString() {
        return "MongoOffsetStore[" + where + "]";
    }

    private <T> T call(String what, Supplier<T> action) {
        return MongoEventStore.call(what, where, action);
    }
}
