package dev.flux.memory;

import dev.flux.snapshot.SnapshotStore;
import dev.flux.test.SnapshotStoreContract;

class InMemorySnapshotStoreTest extends SnapshotStoreContract {
    @Override
    protected SnapshotStore newSnapshotStore() {
        return new InMemorySnapshotStore();
    }
}
