package dev.flux.mongo;

import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;
import org.junit.jupiter.api.AfterEach;

/** The offset contract against a MongoDB server; subclasses pick another server. */
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

    @AfterEach
    void dropDatabase() {
        if (database != null) {
            database.close();
        }
    }
}
