package dev.flux.xodus;

import dev.flux.EventStore;
import dev.flux.test.EventStoreContract;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

class XodusEventStoreTest extends EventStoreContract {
    @TempDir
    Path directory;

    @Override
    protected EventStore newStore() {
        return new XodusEventStore(directory);
    }

    @Override
    protected EventStore reopen(EventStore current) {
        current.close();
        return new XodusEventStore(directory);
    }

    @Override
    protected boolean isDurable() {
        return true;
    }
}
