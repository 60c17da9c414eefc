package dev.flux.memory;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;

class InMemoryEventStoreTest extends EventStoreContract {
    @Override
    protected EventStore newStore() {
        return new InMemoryEventStore();
    }
}
