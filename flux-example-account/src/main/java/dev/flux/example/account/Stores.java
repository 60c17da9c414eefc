package dev.flux.example.account;

import dev.flux.EventStore;
import dev.flux.memory.InMemoryEventStore;
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
            default:
                throw new IllegalArgumentException("--store must be xodus, memory or mongo, was " + name);
        }
    }
}
