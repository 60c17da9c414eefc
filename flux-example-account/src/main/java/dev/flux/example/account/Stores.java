package dev.flux.example.account;

import dev.flux.EventStore;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.mongo.MongoEventStore;
import dev.flux.xodus.XodusEventStore;

import java.nio.file.Path;

/** Opens the store the command line names. */
final class Stores {
    private Stores() {
    }

    static EventStore open(String name, Path data, String mongoUri) {
        switch (name) {
            case "xodus":
                return new XodusEventStore(data.resolve("events"));
            case "memory":
                return new InMemoryEventStore();
            case "mongo":
                if (mongoUri == null || mongoUri.isBlank()) {
                    throw new IllegalArgumentException("--store mongo needs --mongo-uri, e.g. "
                            + "mongodb://db1:27017,db2:27017,db3:27017/accounts?replicaSet=rs0");
                }
                return MongoEventStore.connect(mongoUri);
            default:
                throw new IllegalArgumentException("--store must be xodus, memory or mongo, was " + name);
        }
    }
}
