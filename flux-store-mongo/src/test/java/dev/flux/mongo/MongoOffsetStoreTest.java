package dev.flux.mongo;

import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;
import org.bson.BsonDocument;
import org.bson.BsonString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The offset contract against a MongoDB server, and what only Mongo's documents can show; subclasses pick another server. */
class MongoOffsetStoreTest extends OffsetStoreContract {
    private TestDatabase database;

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @Override
    protected OffsetStore newOffsetStore() {
        database = server().newDatabase();
        return new MongoOffsetStore(database.database());
    }

    @Override
    protected OffsetStore reopen(OffsetStore current) {
        return new MongoOffsetStore(database.database());
    }

    @Override
    protected boolean isDurable() {
        return true;
    }

    @Override
    protected boolean sharesClaims() {
        return true;
    }

    @Test
    void aClaimWhoseLeaseIsNotAnInt64IsTakenAsRunOutSoNoProcessStandsByForGood() {
        database.database().getCollection("flux_offsets", BsonDocument.class).insertOne(new BsonDocument("_id",
                new BsonString("balances")).append("owner", new BsonString("gone")).append("leaseUntil", new BsonString("soon")));

        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)), "a lease no process can read has run out");
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "and a's claim now holds");
    }

    @AfterEach
    void dropDatabase() {
        if (database != null) {
            database.close();
        }
    }
}
