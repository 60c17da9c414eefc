package dev.flux.xodus;

import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

class XodusOffsetStoreTest extends OffsetStoreContract {
    @TempDir
    Path directory;

    @Override
    protected OffsetStore newOffsetStore() {
        return new XodusOffsetStore(directory);
    }

    @Override
    protected OffsetStore reopen(OffsetStore current) {
        ((XodusOffsetStore) current).close();
        return new XodusOffsetStore(directory);
    }

    @Override
    protected boolean isDurable() {
        return true;
    }
}
