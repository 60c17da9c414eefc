package dev.flux.xodus;

import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XodusOffsetStoreTest extends OffsetStoreContract {
    @TempDir
    Path directory;

    @Override
    protected OffsetStore newOffsetStore() {
        return new XodusOffsetStore(directory);
    }

    @Override
    protected OffsetStore reopen(OffsetStore current) {
        current.close();
        return new XodusOffsetStore(directory);
    }

    @Override
    protected boolean isDurable() {
        return true;
    }

    @Test
    void aStoreHeldAsAnOffsetStoreClosesInATryWithResourcesAndReleasesItsDirectory() {
        Path offsetsDirectory = directory.resolve("held-as-interface");
        try (OffsetStore offsets = new XodusOffsetStore(offsetsDirectory)) {
            offsets.save("balances", 42);
        }
        try (OffsetStore again = new XodusOffsetStore(offsetsDirectory)) {
            assertEquals(42, again.load("balances"), "opened again in this process: the first released it");
        }
    }

    @Test
    void aNameTooLargeForALogFileIsRefusedOnTheCallersThreadNamingIt() {
        try (XodusOffsetStore offsets = new XodusOffsetStore(directory.resolve("large"))) {
            String huge = "projection-" + "x".repeat(9 << 20);

            FluxException refused = assertThrows(FluxException.class, () -> offsets.save(huge, 1));

            assertTrue(refused.getMessage().contains("'projection-xxx"), refused.getMessage());
            assertTrue(refused.getMessage().contains((9 << 20) + 11 + " characters"), refused.getMessage());
            assertTrue(refused.getMessage().length() < 1000, "the message does not repeat the name whole");
            offsets.save("projection-1", 7);
            assertEquals(7, offsets.load("projection-1"));
        }
    }
}
