package dev.flux.memory;

import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;

class InMemoryOffsetStoreTest extends OffsetStoreContract {
    @Override
    protected OffsetStore newOffsetStore() {
        return new InMemoryOffsetStore();
    }
}
