package dev.flux.mongo;

import com.mongodb.ErrorCategory;
import com.mongodb.ReadPreference;
import com.mongodb.MongoWriteException;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import org.bson.BsonDocument;
import org.bson.BsonInt64;
import org.bson.BsonType;
import org.bson.conversions.Bson;

import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * An {@link OffsetStore} in MongoDB: one document per subscription name in the offsets collection
 * ({@code flux_offsets} by default), {@code { _id: <name>, position: <long>, owner: <string>,
 * leaseUntil: <long> }}, the last two while a subscription holds the name's {@linkplain #claim claim}.
 * A save is an upsert with the options' write concern (majority by default), so the position is on a
 * majority of the replica set when {@link #save} returns. Thread-safe; it holds no state of its own,
 * so any number of processes share the collection, and the claims keep each subscription name to one
 * of them at a time. Positions are read from the primary whatever the database's read preference, so a
 * subscription resumes from its last save.
 *
 * <p>A claim runs until {@code leaseUntil}, milliseconds since the epoch by the clock of the machine
 * that made it: the machines' clocks must agree to well within a lease. The caller owns the client
 * behind the database.
 */
public final class MongoOffsetStore implements OffsetStore {
    private static final String POSITION = "position";
    private static final String OWNER = "owner";
    private static final String LEASE_UNTIL = "leaseUntil";

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
        // Read from the primary whatever the database's read preference: a secondary may not have a save yet, and a
        // subscription that starts at the end takes a name with no position for a new one and skips to the end.
        this.offsets = database.getCollection(options.offsetsCollection(), BsonDocument.class)
                .withWriteConcern(options.writeConcern())
                .withReadConcern(options.readConcern())
                .withReadPreference(ReadPreference.primary());
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
        if (found == null || !found.containsKey(POSITION)) {
            return OptionalLong.empty();   // nothing stored, or a claim without a position yet
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
        call("save offset " + position + " of '" + name + "' in", () -> offsets.updateOne(Filters.eq("_id", name),
                Updates.set(POSITION, new BsonInt64(position)), new UpdateOptions().upsert(true)));
    }

    /** Forgets the position; a claim on the name stays. @throws FluxException when the server fails */
    @Override
    public void delete(String name) {
        OffsetStore.requireValid(name, 0);
        call("delete the offset of '" + name + "' from", () -> offsets.updateOne(Filters.eq("_id", name),
                Updates.unset(POSITION)));
    }

    /**
     * {@inheritDoc}
     *
     * <p>One conditional upsert: it sets {@code owner} and {@code leaseUntil} where the name has no
     * owner, this owner, or a lease that ran out (or a {@code leaseUntil} that is missing or not an
     * int64, which no process could honour); where another owner's lease runs, the upsert's insert
     * meets the existing {@code _id} and the server refuses it, which is the answer false.
     *
     * @throws FluxException when the server fails; whether the claim was made is then unknown
     */
    @Override
    public boolean claim(String name, String owner, Duration lease) {
        OffsetStore.requireClaim(name, owner, lease);
        long now = System.currentTimeMillis();
        long until = lease.compareTo(Duration.ofMillis(Long.MAX_VALUE - now)) >= 0 ? Long.MAX_VALUE : now + lease.toMillis();
        // A claim whose leaseUntil is missing or not an int64 (a document edited by hand) is one nobody can honour
        // or renew: it is taken as run out, else every process would stand by for good.
        Bson claimable = Filters.and(Filters.eq("_id", name), Filters.or(Filters.exists(OWNER, false),
                Filters.eq(OWNER, owner), Filters.lt(LEASE_UNTIL, new BsonInt64(now)),
                Filters.not(Filters.type(LEASE_UNTIL, BsonType.INT64))));
        Bson take = Updates.combine(Updates.set(OWNER, owner), Updates.set(LEASE_UNTIL, new BsonInt64(until)));
        return call("claim '" + name + "' for " + owner + " in", () -> {
            try {
                offsets.updateOne(claimable, take, new UpdateOptions().upsert(true));
                return true;
            } catch (MongoWriteException e) {
                if (e.getError().getCategory() == ErrorCategory.DUPLICATE_KEY) {
                    return false;
                }
                throw e;
            }
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>One update of the position where the document names {@code owner}.
     *
     * @throws FluxException when the server fails; the stored position is then unknown
     */
    @Override
    public boolean saveClaimed(String name, long position, String owner) {
        OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
        OffsetStore.requireValid(name, position);
        return call("save offset " + position + " of '" + name + "' for " + owner + " in", () -> offsets.updateOne(
                Filters.and(Filters.eq("_id", name), Filters.eq(OWNER, owner)),
                Updates.set(POSITION, new BsonInt64(position))).getMatchedCount() == 1);
    }

    /**
     * {@inheritDoc}
     *
     * <p>One update unsetting the position where the document names {@code owner}; the claim stays.
     *
     * @throws FluxException when the server fails; whether the position was forgotten is then unknown
     */
    @Override
    public boolean deleteClaimed(String name, String owner) {
        OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
        return call("delete the offset of '" + name + "' for " + owner + " from", () -> offsets.updateOne(
                Filters.and(Filters.eq("_id", name), Filters.eq(OWNER, owner)),
                Updates.unset(POSITION)).getMatchedCount() == 1);
    }

    /** {@inheritDoc} @throws FluxException when the server fails */
    @Override
    public void release(String name, String owner) {
        OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
        call("release the claim on '" + name + "' of " + owner + " in", () -> offsets.updateOne(
                Filters.and(Filters.eq("_id", name), Filters.eq(OWNER, owner)),
                Updates.combine(Updates.unset(OWNER), Updates.unset(LEASE_UNTIL))));
    }

    @Override
    public String toString() {
        return "MongoOffsetStore[" + where + "]";
    }

    private <T> T call(String what, Supplier<T> action) {
        return MongoEventStore.call(what, where, action);
    }
}
