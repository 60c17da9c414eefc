package dev.flux.xodus;

import dev.flux.EventStore;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Environments;

/**
 * The whole contract on a directory in the first layout (8-byte numbers in keys), as a store written
 * before layout 2 has it: such directories keep working.
 */
class XodusEventStoreFormat1Test extends XodusEventStoreTest {
    @Override
    protected EventStore newStore() {
        Environment environment = Environments.newInstance(directory.toFile());
        try {
            Layout.open(environment, directory, 1);
        } finally {
            environment.close();
        }
        XodusEventStore store = new XodusEventStore(directory);
        XodusLayoutTest.assertFormat(store, 1);
        return store;
    }
}
