package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.FluxException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A really full disk ({@code ENOSPC}): a 4 MB tmpfs, where this process may mount one (root on Linux);
 * skipped elsewhere, where {@link XodusDiskFullTest} covers the same with a file size limit.
 */
@Timeout(60)
class XodusTmpfsFullDiskTest {
    @TempDir
    Path mountPoint;
    private boolean mounted;

    @BeforeEach
    void mount() throws Exception {
        mounted = command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint.toString()) == 0;
        assumeTrue(mounted, "this process may not mount a tmpfs");
    }

    @AfterEach
    void unmount() throws Exception {
        // Lazily when a failed test left a store open on it: the mount goes once that is closed.
        if (mounted && command("umount", mountPoint.toString()) != 0) {
            assertEquals(0, command("umount", "-l", mountPoint.toString()));
        }
    }

    @Test
    void anAppendOnAFullDiskFailsSayingSoTheStoreStopsAndReopenedAfterSpaceIsFreedHoldsEveryAcknowledgedSave() throws IOException {
        Path reserve = Files.write(mountPoint.resolve("reserve"), new byte[1 << 20]);
        Path directory = mountPoint.resolve("events");
        Map<Long, XodusCrashTest.Ack> acknowledged = new HashMap<>();
        FluxException full;
        try (XodusEventStore store = new XodusEventStore(directory)) {
            full = appendUntilFull(store, acknowledged);

            FluxException refused = assertThrows(FluxException.class, () -> store.append("after-0", -1, CrashingWriter.save(-1, 1, 0)));
            Files.delete(reserve);
            FluxException stillRefused = assertThrows(FluxException.class,
                    () -> store.append("after-0", -1, CrashingWriter.save(-1, 1, 0)));

            assertTrue(refused.getMessage().contains("takes no more writes") && refused.getMessage().contains("Free space on it"),
                    refused.getMessage());
            assertTrue(stillRefused.getMessage().contains("close the store and open it again"), stillRefused.getMessage());
        }
        assertTrue(full.getMessage().contains(directory.toString()) && full.getMessage().contains("the disk is full"),
                full.getMessage());
        assertTrue(full.getMessage().contains("Nothing of this write was stored"), full.getMessage());
        try (XodusEventStore store = new XodusEventStore(directory)) {
            XodusCrashTest.checkEverySave(store, acknowledged, "after a full disk");
            long last = store.lastPosition();
            store.append("after-0", -1, CrashingWriter.save(-1, 1, 0));
            assertEquals(last + 1, store.lastPosition());
        }
    }

    @Test
    void closingAndOpeningOnAFullDiskSayTheDiskIsFullLeaveNoTemporaryFileAndLoseNothing() throws IOException {
        Path directory = mountPoint.resolve("events");
        XodusEventStore store = new XodusEventStore(directory);
        for (long save = 0; save < 50; save++) {
            store.append("Account-1", save - 1, CrashingWriter.save(save, 1, 100));
        }
        Path filler = fill(mountPoint.resolve("filler"));

        FluxException closing = assertThrows(FluxException.class, store::close);
        FluxException opening = assertThrows(FluxException.class, () -> new XodusEventStore(directory));
        Path fresh = mountPoint.resolve("fresh");
        FluxException openingFresh = assertThrows(FluxException.class, () -> new XodusOffsetStore(fresh));

        assertTrue(closing.getMessage().contains("is closed, and every write it acknowledged is kept")
                && closing.getMessage().contains("the disk is full"), closing.getMessage());
        // Closed without its mark, the store must record the end of its log when it opens; the disk is still full.
        assertTrue(opening.getMessage().contains("cannot record its last position (50)")
                && opening.getMessage().contains("the disk is full") && opening.getMessage().contains("free space on it"),
                opening.getMessage());
        assertTrue(openingFresh.getMessage().contains(fresh.toString()) && openingFresh.getMessage().contains("the disk is full"),
                openingFresh.getMessage());
        assertFalse(openingFresh.getMessage().contains("locked"), openingFresh.getMessage());
        try (Stream<Path> files = Files.list(directory)) {
            assertEquals(List.of(), files.filter(file -> file.getFileName().toString().endsWith(".tmp")).toList());
        }
        Files.delete(filler);
        try (XodusEventStore reopened = new XodusEventStore(directory)) {
            assertEquals(50, reopened.readAll(0, 100).size());
            assertEquals(49, reopened.streamVersion("Account-1"));
        }
    }

    /** Appends saves as {@link CrashingWriter} does until one fails; returns its failure. */
    private static FluxException appendUntilFull(XodusEventStore store, Map<Long, XodusCrashTest.Ack> acknowledged) {
        long version = -1;
        for (long save = 0; ; save++) {
            int size = 1 + (int) (save % 5);
            List<EventData> events = CrashingWriter.save(save, size, 1_000);
            try {
                version = store.append("full-0", version, events);
            } catch (FluxException e) {
                return e;
            }
            acknowledged.put(save, new XodusCrashTest.Ack(save, "full-0", version, size));
        }
    }

    /** Writes {@code file} until the file system is full. */
    private static Path fill(Path file) {
        try (OutputStream out = Files.newOutputStream(file)) {
            byte[] block = new byte[4096];
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            return file;
        }
    }

    private static int command(String... command) throws Exception {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            return process.exitValue();
        } catch (IOException noSuchCommand) {
            return -1;
        }
    }
}
