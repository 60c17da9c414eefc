package dev.flux.mongo;

import com.mongodb.ReadConcern;
import com.mongodb.WriteConcern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What {@link MongoOptions} accepts: names MongoDB would refuse, or that would mix two kinds of document, are refused at once. */
class MongoOptionsTest {
    private final MongoOptions defaults = MongoOptions.defaults();

    @Test
    void theDefaultsAreTheDocumentedOnes() {
        assertEquals(new MongoOptions("flux_events", "flux_offsets", "flux_snapshots", "flux", WriteConcern.MAJORITY,
                ReadConcern.MAJORITY), defaults);
    }

    @Test
    void eachCopyChangesOneThing() {
        assertEquals("orders", defaults.withEventsCollection("orders").eventsCollection());
        assertEquals("positions", defaults.withOffsetsCollection("positions").offsetsCollection());
        assertEquals("images", defaults.withSnapshotsCollection("images").snapshotsCollection());
        assertEquals("shop", defaults.withDatabase("shop").database());
        assertEquals(WriteConcern.W1, defaults.withWriteConcern(WriteConcern.W1).writeConcern());
        assertEquals(ReadConcern.LOCAL, defaults.withReadConcern(ReadConcern.LOCAL).readConcern());
        assertEquals(defaults.withDatabase("shop").withDatabase("flux"), defaults);
    }

    @Test
    void badNamesAreRefusedNamingTheOptionAndTheName() {
        assertRefused("eventsCollection must be a non-blank name without '$' or NUL, was null",
                () -> defaults.withEventsCollection(null));
        assertRefused("eventsCollection must be a non-blank name without '$' or NUL, was ' '",
                () -> defaults.withEventsCollection(" "));
        assertRefused("offsetsCollection must be a non-blank name without '$' or NUL, was 'a$b'",
                () -> defaults.withOffsetsCollection("a$b"));
        assertRefused("snapshotsCollection must be a non-blank name without '$' or NUL, was 'a\0b'",
                () -> defaults.withSnapshotsCollection("a\0b"));
        assertRefused("database must be a non-blank name without '$' or NUL, was ''", () -> defaults.withDatabase(""));
    }

    @Test
    void databaseNamesMongoDBRefusesAreRefusedNamingTheOption() {
        for (String name : new String[] {"orders.eu", "orders eu", "orders/eu", "orders\\eu", "orders\"eu", "d".repeat(64)}) {
            assertRefused("database must be a name of under 64 bytes without '/', '\\', '.', ' ' or '\"' (MongoDB refuses"
                    + " them), was '" + name + "'", () -> defaults.withDatabase(name));
        }
        assertEquals("d".repeat(63), defaults.withDatabase("d".repeat(63)).database());
        assertEquals("orders-eu_1", defaults.withDatabase("orders-eu_1").database());
    }

    @Test
    void collectionNamesMongoDBKeepsForItselfAreRefusedNamingTheOption() {
        assertRefused("eventsCollection must not start with 'system.' (MongoDB keeps those names for itself), was"
                + " 'system.events'", () -> defaults.withEventsCollection("system.events"));
        assertRefused("offsetsCollection must not start with 'system.' (MongoDB keeps those names for itself), was"
                + " 'system.js'", () -> defaults.withOffsetsCollection("system.js"));
        assertEquals("systems.events", defaults.withSnapshotsCollection("systems.events").snapshotsCollection());
    }

    @Test
    void aConnectionStringNamingADatabaseMongoDBRefusesIsRefusedBeforeConnecting() {
        // A 64-byte name failed only at the server, after its wait (60 s here), and the driver's bare 'state should
        // be: databaseName does not contain ' '' named no parameter.
        assertRefused("the database of connectionString must be a name of under 64 bytes without '/', '\\', '.', ' ' or"
                + " '\"' (MongoDB refuses them), was '" + "d".repeat(64) + "'",
                () -> MongoEventStore.connect("mongodb://127.0.0.1:1/" + "d".repeat(64) + "?serverSelectionTimeoutMS=60000"));
        assertRefused("connectionString is not one MongoDB takes: state should be: databaseName does not contain ' '",
                () -> MongoEventStore.connect("mongodb://127.0.0.1:1/orders%20eu?serverSelectionTimeoutMS=60000"));
    }

    @Test
    void twoKindsOfDocumentInOneCollectionAreRefused() {
        assertRefused("eventsCollection, offsetsCollection and snapshotsCollection must differ, were 'flux_offsets',"
                + " 'flux_offsets' and 'flux_snapshots'", () -> defaults.withEventsCollection("flux_offsets"));
        assertRefused("eventsCollection, offsetsCollection and snapshotsCollection must differ, were 'flux_events',"
                + " 'flux_offsets' and 'flux_offsets'", () -> defaults.withSnapshotsCollection("flux_offsets"));
    }

    @Test
    void missingConcernsAreRefused() {
        assertRefused("writeConcern and readConcern must not be null, got writeConcern=null, readConcern="
                + ReadConcern.MAJORITY, () -> defaults.withWriteConcern(null));
        assertRefused("writeConcern and readConcern must not be null, got writeConcern=" + WriteConcern.MAJORITY
                + ", readConcern=null", () -> defaults.withReadConcern(null));
    }

    @Test
    void anUnacknowledgedWriteConcernIsRefused() {
        assertRefused("writeConcern must be acknowledged, was " + WriteConcern.UNACKNOWLEDGED + ": without an answer"
                + " from the server the store cannot tell a conflict or a taken event id from a write",
                () -> defaults.withWriteConcern(WriteConcern.UNACKNOWLEDGED));
        assertEquals(WriteConcern.W1, defaults.withWriteConcern(WriteConcern.W1).writeConcern());
    }

    private static void assertRefused(String message, Executable call) {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, call);
        assertEquals(message, refused.getMessage());
    }
}
