package dev.flux.xodus;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;
import dev.flux.test.OneEventPerReadStore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The contract again, with every read cut to one event: the store's cursors must resume exactly. */
class XodusEventStoreOneEventPerReadTest extends EventStoreContract {
    @TempDir
    Path directory;

    @Override
    protected EventStore newStore() {
        return new OneEventPerReadStore(new XodusEventStore(directory));
    }

    @Override
    protected EventStore reopen(EventStore current) {
        current.close();
        return newStore();
    }

    @Override
    protected boolean isDurable() {
        return true;
    }
}
