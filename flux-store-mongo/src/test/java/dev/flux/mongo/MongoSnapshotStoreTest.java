package dev.flux.mongo;

import dev.flux.snapshot.SnapshotStore;
import dev.flux.test.SnapshotStoreContract;
import org.junit.jupiter.api.AfterEach;

/** The snapshot contract against a MongoDB server; subclasses pick another server. */
class MongoSnapshotStoreTest extends SnapshotStoreContract {
    private TestDatabase database;

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @Override
    protected SnapshotStore newSnapshotStore() {
        database = server().newDatabase();
        return new MongoSnapshotStore(database.database());
    }

    @Override
    protected SnapshotStore reopen(SnapshotStore current) {
        return new MongoSnapshotStore(database.database());
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
