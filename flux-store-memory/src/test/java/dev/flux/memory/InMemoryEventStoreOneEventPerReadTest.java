package dev.flux.memory;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;
import dev.flux.test.OneEventPerReadStore;

/** The contract again, with every read cut to one event: the contract's own paging must hold. */
class InMemoryEventStoreOneEventPerReadTest extends EventStoreContract {
    @Override
    protected EventStore newStore() {
        return new OneEventPerReadStore(new InMemoryEventStore());
    }
}
