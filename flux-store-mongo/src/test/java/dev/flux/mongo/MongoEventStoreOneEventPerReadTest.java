package dev.flux.mongo;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;
import dev.flux.test.OneEventPerReadStore;
import org.junit.jupiter.api.AfterEach;

/** The contract again with every read cut to one event, so the store's own paging is exercised too. */
class MongoEventStoreOneEventPerReadTest extends EventStoreContract {
    private TestDatabase database;

    @Override
    protected EventStore newStore() {
        database = MongoTestServer.inProcess().newDatabase();
        return new OneEventPerReadStore(new MongoEventStore(database.database()));
    }

    @Override
    protected EventStore reopen(EventStore current) {
        current.close();
        return new OneEventPerReadStore(new MongoEventStore(database.database()));
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
