package dev.flux.xodus;

import dev.flux.snapshot.SnapshotStore;
import dev.flux.test.SnapshotStoreContract;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

class XodusSnapshotStoreTest extends SnapshotStoreContract {
    @TempDir
    Path dir;

    @Override
    protected SnapshotStore newSnapshotStore() {
        return new XodusSnapshotStore(dir.resolve("snapshots"));
    }

    @Override
    protected SnapshotStore reopen(SnapshotStore current) {
        ((XodusSnapshotStore) current).close();
        return new XodusSnapshotStore(dir.resolve("snapshots"));
    }

    @Override
    protected boolean isDurable() {
        return true;
    }
}
