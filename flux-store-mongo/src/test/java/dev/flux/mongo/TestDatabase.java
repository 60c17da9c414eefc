package dev.flux.mongo;

import com.mongodb.client.MongoDatabase;

/** A database for one test, dropped when closed. */
record TestDatabase(MongoDatabase database) implements AutoCloseable {
    @Override
    public void close() {
        database.drop();
    }
}
