package dev.flux.mongo;

import com.mongodb.ReadConcern;
import com.mongodb.WriteConcern;

import java.nio.charset.StandardCharsets;

/**
 * How a {@link MongoEventStore}, {@link MongoOffsetStore} or {@link MongoSnapshotStore} uses its database. Immutable: each
 * {@code with...} method returns a changed copy.
 *
 * <table>
 *   <caption>Options and their defaults</caption>
 *   <tr><th>option</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code eventsCollection}</td><td>{@code flux_events}</td><td>the commits, one document per append</td></tr>
 *   <tr><td>{@code offsetsCollection}</td><td>{@code flux_offsets}</td><td>subscription positions</td></tr>
 *   <tr><td>{@code snapshotsCollection}</td><td>{@code flux_snapshots}</td><td>the latest snapshot per stream</td></tr>
 *   <tr><td>{@code database}</td><td>{@code flux}</td><td>used only by {@link MongoEventStore#connect} when the
 *       connection string names no database</td></tr>
 *   <tr><td>{@code writeConcern}</td><td>{@link WriteConcern#MAJORITY}</td><td>an append returns once a majority of
 *       the replica set has it, so a failover cannot roll back an acknowledged append</td></tr>
 *   <tr><td>{@code readConcern}</td><td>{@link ReadConcern#MAJORITY}</td><td>reads only see majority-committed
 *       appends, so a reader never sees an event that a failover later rolls back</td></tr>
 * </table>
 *
 * @param eventsCollection  the collection of commits
 * @param offsetsCollection the collection of subscription offsets
 * @param snapshotsCollection the collection of aggregate snapshots
 * @param database          the database {@link MongoEventStore#connect} uses when the connection string has none
 * @param writeConcern      the write concern of appends and offset saves
 * @param readConcern       the read concern of reads
 */
public record MongoOptions(String eventsCollection, String offsetsCollection, String snapshotsCollection, String database,
                           WriteConcern writeConcern, ReadConcern readConcern) {

    private static final MongoOptions DEFAULTS = new MongoOptions("flux_events", "flux_offsets", "flux_snapshots", "flux",
            WriteConcern.MAJORITY, ReadConcern.MAJORITY);

    /**
     * @throws IllegalArgumentException when a name is null, blank or holds {@code $} or NUL, a collection name starts
     *                                  with {@code system.}, the database name
     *                                  holds {@code / \ . " } or a space or has 64 bytes or more, a concern is
     *                                  null, or the write concern is unacknowledged ({@code w: 0})
     */
    public MongoOptions {
        requireCollectionName("eventsCollection", eventsCollection);
        requireCollectionName("offsetsCollection", offsetsCollection);
        requireCollectionName("snapshotsCollection", snapshotsCollection);
        requireDatabaseName("database", database);
        if (eventsCollection.equals(offsetsCollection) || eventsCollection.equals(snapshotsCollection)
                || offsetsCollection.equals(snapshotsCollection)) {
            throw new IllegalArgumentException("eventsCollection, offsetsCollection and snapshotsCollection must differ, were '"
                    + eventsCollection + "', '" + offsetsCollection + "' and '" + snapshotsCollection + "'");
        }
        if (writeConcern == null || readConcern == null) {
            throw new IllegalArgumentException("writeConcern and readConcern must not be null, got writeConcern="
                    + writeConcern + ", readConcern=" + readConcern);
        }
        if (!writeConcern.isAcknowledged()) {
            throw new IllegalArgumentException("writeConcern must be acknowledged, was " + writeConcern + ": without an"
                    + " answer from the server the store cannot tell a conflict or a taken event id from a write");
        }
    }

    /** The defaults: see the table above. */
    public static MongoOptions defaults() {
        return DEFAULTS;
    }

    /** A copy with another collection for commits. */
    public MongoOptions withEventsCollection(String name) {
        return new MongoOptions(name, offsetsCollection, snapshotsCollection, database, writeConcern, readConcern);
    }

    /** A copy with another collection for subscription offsets. */
    public MongoOptions withOffsetsCollection(String name) {
        return new MongoOptions(eventsCollection, name, snapshotsCollection, database, writeConcern, readConcern);
    }

    /** A copy with another collection for aggregate snapshots. */
    public MongoOptions withSnapshotsCollection(String name) {
        return new MongoOptions(eventsCollection, offsetsCollection, name, database, writeConcern, readConcern);
    }

    /** A copy with another database for {@link MongoEventStore#connect} to use when the connection string names none. */
    public MongoOptions withDatabase(String name) {
        return new MongoOptions(eventsCollection, offsetsCollection, snapshotsCollection, name, writeConcern, readConcern);
    }

    /**
     * A copy with another write concern. Anything weaker than majority lets a replica-set failover
     * roll back appends that were acknowledged.
     */
    public MongoOptions withWriteConcern(WriteConcern concern) {
        return new MongoOptions(eventsCollection, offsetsCollection, snapshotsCollection, database, concern, readConcern);
    }

    /**
     * A copy with another read concern. Anything weaker than majority lets a reader see (and a
     * subscription pass) events that a failover later rolls back.
     */
    public MongoOptions withReadConcern(ReadConcern concern) {
        return new MongoOptions(eventsCollection, offsetsCollection, snapshotsCollection, database, writeConcern, concern);
    }

    private static void requireCollectionName(String what, String name) {
        requireName(what, name);
        if (name.startsWith("system.")) {
            throw new IllegalArgumentException(what + " must not start with 'system.' (MongoDB keeps those names for"
                    + " itself), was '" + name + "'");
        }
    }

    /** Refuses a database name MongoDB refuses, naming {@code what} gave it. */
    static void requireDatabaseName(String what, String database) {
        requireName(what, database);
        if (database.chars().anyMatch(c -> "/\\. \"".indexOf(c) >= 0)
                || database.getBytes(StandardCharsets.UTF_8).length >= 64) {
            throw new IllegalArgumentException(what + " must be a name of under 64 bytes without '/', '\\', '.', ' ' or"
                    + " '\"' (MongoDB refuses them), was '" + database + "'");
        }
    }

    private static void requireName(String what, String name) {
        if (name == null || name.isBlank() || name.indexOf('$') >= 0 || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " must be a non-blank name without '$' or NUL, was "
                    + (name == null ? "null" : "'" + name + "'"));
        }
    }
}
