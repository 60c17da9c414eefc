package dev.flux.xodus;

import dev.flux.FluxException;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.test.SnapshotStoreContract;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XodusSnapshotStoreTest extends SnapshotStoreContract {
    @TempDir
    Path dir;

    @Override
    protected SnapshotStore newSnapshotStore() {
        return new XodusSnapshotStore(dir.resolve("snapshots"));
    }

    @Override
    protected SnapshotStore reopen(SnapshotStore current) {
        current.close();
        return new XodusSnapshotStore(dir.resolve("snapshots"));
    }

    @Override
    protected boolean isDurable() {
        return true;
    }

    @Test
    void aSnapshotTooLargeForALogFileIsRefusedAndTheHeldOneStays() {
        try (XodusSnapshotStore store = new XodusSnapshotStore(dir.resolve("large"))) {
            Snapshot held = new Snapshot("Account-1", 3, "Account#1", "{}".getBytes(), Instant.now());
            store.save(held);

            FluxException refused = assertThrows(FluxException.class, () -> store.save(
                    new Snapshot("Account-1", 9, "Account#1", new byte[7 << 20], Instant.now())));

            assertTrue(refused.getMessage().contains("Account-1@9"), refused.getMessage());
            assertTrue(refused.getMessage().contains("at most 7168 KB"), refused.getMessage());
            assertEquals(3, store.load("Account-1").orElseThrow().version());
        }
    }
}
