package dev.flux.mongo;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;
import org.junit.jupiter.api.AfterEach;

/**
 * The contract against a MongoDB server: by default the in-process mongo-java-server; subclasses
 * run the same tests against a real MongoDB (Testcontainers, {@code FLUX_MONGO_URI}).
 */
class MongoEventStoreTest extends EventStoreContract {
    private TestDatabase database;

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @Override
    protected EventStore newStore() {
        database = server().newDatabase();
        return new MongoEventStore(database.database());
    }

    @Override
    protected EventStore reopen(EventStore current) {
        current.close();
        return new MongoEventStore(database.database());
    }

    @Override
    protected boolean isDurable() {
        return true;
    }

    @AfterEach
    void dropDatabase() {
        if (database != null) {
            database.close();
        }
    }
}
