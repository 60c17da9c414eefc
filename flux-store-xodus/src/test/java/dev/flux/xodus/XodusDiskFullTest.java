package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Stores whose files cannot grow, as on a full disk: each runs in a child JVM under {@code ulimit -f}
 * (see {@link ChildJvm#withFileSizeLimit}), whose writes past the limit fail as writes to a full disk do,
 * and needs no mount. The write that meets the limit fails naming the directory, what happened and that
 * nothing of it was stored; the store takes no more writes and says to reopen it; close works; reopening
 * finds every acknowledged write, none in part, and carries on. {@link XodusTmpfsFullDiskTest} repeats
 * this on a real full file system where it may mount one.
 */
@Timeout(60)
class XodusDiskFullTest {
    @TempDir
    Path directory;
    @TempDir
    Path logs;

    @BeforeAll
    static void needsBash() {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "ulimit needs bash");
    }

    @Test
    void anAppendThatMeetsAFullDiskFailsSayingNothingWasStoredAndLaterAppendsAndReadsSayToReopen() throws Exception {
        // One writer of one 50 KB event per save, under a limit that ends a 64 KB log page part-way: after the
        // failed commit, Xodus 2.0.1 fails every read and write of its last page until the store is reopened.
        List<String> lines = run(1_000, "events", directory.toString(), "1", "50000", "1");

        String failed = only(lines, "FAILED ");
        assertTrue(failed.contains(directory.toString()), failed);
        assertTrue(failed.contains("could not commit this write") && failed.contains("File too large"), failed);
        assertTrue(failed.contains("Nothing of this write was stored"), failed);
        assertTrue(failed.contains("takes no more writes") && failed.contains("close it and open it again"), failed);
        String refused = only(lines, "REFUSED ");
        assertTrue(refused.contains(directory.toString()) && refused.contains("takes no more writes"), refused);
        assertTrue(refused.contains("nothing of this write was written") && refused.contains("open it again"), refused);
        String read = only(lines, "READ");
        assertTrue(read.startsWith("READFAIL ") && read.contains("Can't read full page"),
                "Xodus 2.0.1 cannot read its last page again (if a newer Xodus can, reads here should succeed): " + read);
        assertTrue(read.contains("A commit failed before") && read.contains("close it and open it again"), read);
        assertEquals("CLOSED", only(lines, "CLOSE"));
        assertNoTemporaryFiles(directory);

        reopenAndCheckEverySave(lines, 0);
    }

    @Test
    void concurrentAppendsMeetingAFullDiskAllFailAndEveryAcknowledgedSaveIsKeptWhole() throws Exception {
        List<String> lines = run(1_024, "events", directory.toString(), "4", "2000", "0");

        List<String> failed = all(lines, "FAILED ");
        assertEquals(4, failed.size(), "each writer's first failure: " + outcomes(lines));
        assertTrue(failed.stream().anyMatch(line -> line.contains("could not commit this write")), failed.toString());
        for (String line : failed) {
            assertTrue(line.contains(directory.toString()), line);
            assertTrue(line.contains("Nothing of this write was stored") || line.contains("nothing of this write was written"), line);
        }
        for (String line : all(lines, "REFUSED ")) {
            assertTrue(line.contains("takes no more writes"), line);
        }
        assertEquals(4, all(lines, "REFUSED ").size(), "no write is taken after a failed commit: " + outcomes(lines));
        assertEquals("CLOSED", only(lines, "CLOSE"));

        reopenAndCheckEverySave(lines, 1);
    }

    @Test
    void offsetAndSnapshotStoresMeetingAFullDiskSayWhatHappenedAndKeepEveryAcknowledgedWrite() throws Exception {
        Path offsetsDirectory = directory.resolve("offsets");
        Path snapshotsDirectory = directory.resolve("snapshots");
        List<String> offsetLines = run(1_024, "offsets", offsetsDirectory.toString());
        List<String> snapshotLines = run(1_024, "snapshots", snapshotsDirectory.toString());

        for (List<String> lines : List.of(offsetLines, snapshotLines)) {
            String failed = only(lines, "FAILED ");
            assertTrue(failed.contains("could not commit this write") && failed.contains("File too large"), failed);
            assertTrue(failed.contains("Nothing of this write was stored"), failed);
            assertTrue(only(lines, "REFUSED ").contains("takes no more writes"), outcomes(lines).toString());
            assertEquals("CLOSED", only(lines, "CLOSE"));
        }
        assertTrue(only(offsetLines, "FAILED ").contains(offsetsDirectory.toString()));
        assertTrue(only(snapshotLines, "FAILED ").contains(snapshotsDirectory.toString()));
        try (XodusOffsetStore offsets = new XodusOffsetStore(offsetsDirectory)) {
            Map<String, Long> acknowledged = lastValues(offsetLines);
            assertFalse(acknowledged.isEmpty());
            acknowledged.forEach((name, position) -> assertEquals(position, offsets.load(name + "x".repeat(2_000)), name));
            offsets.save("after", 1);
            assertEquals(1, offsets.load("after"));
        }
        try (XodusSnapshotStore snapshots = new XodusSnapshotStore(snapshotsDirectory)) {
            Map<String, Long> acknowledged = lastValues(snapshotLines);
            assertFalse(acknowledged.isEmpty());
            acknowledged.forEach((stream, version) -> assertEquals(version, snapshots.load(stream).orElseThrow().version(), stream));
        }
    }

    @Test
    void openingWhereNoFileCanBeWrittenFailsNamingTheDirectoryAndTheCauseNotALock() throws Exception {
        Path fresh = directory.resolve("fresh");
        Path existing = directory.resolve("existing");
        try (XodusEventStore store = new XodusEventStore(existing)) {
            store.append("Account-1", -1, CrashingWriter.save(0, 3, 0));
        }

        for (Path where : List.of(fresh, existing)) {
            String refused = only(run(0, "open", where.toString()), "OPEN");

            assertTrue(refused.startsWith("OPENFAIL ") && refused.contains(where.toString()), refused);
            assertTrue(refused.contains("File too large") && refused.contains("open it again"), refused);
            assertFalse(refused.contains("locked"), "it is no lock held by another process: " + refused);
        }
        try (XodusEventStore store = new XodusEventStore(existing)) {
            assertEquals(3, store.readAll(0, 10).size(), "the refused open changed nothing");
        }
    }

    /** Runs {@link LimitedWriter} with {@code args} where no file may grow past {@code kilobytes}; its lines. */
    private List<String> run(int kilobytes, String... args) throws Exception {
        try (ChildJvm child = ChildJvm.withFileSizeLimit(kilobytes, LimitedWriter.class,
                Files.createTempFile(logs, "stderr-", ".txt"), args)) {
            assertEquals(0, child.waitFor(45), "the child's stderr:\n" + child.stderr());
            return child.lines();
        }
    }

    /** Reopens the event store without a limit: every acknowledged save is there whole, and it carries on. */
    private void reopenAndCheckEverySave(List<String> lines, int minimumAcks) {
        Map<Long, XodusCrashTest.Ack> acknowledged = new HashMap<>();
        for (String line : all(lines, "ACK ")) {
            XodusCrashTest.Ack ack = XodusCrashTest.Ack.parse(line);
            acknowledged.put(ack.save(), ack);
        }
        assertTrue(acknowledged.size() > minimumAcks, "the child acknowledged saves before the limit: " + outcomes(lines));
        try (XodusEventStore store = new XodusEventStore(directory)) {
            XodusCrashTest.checkEverySave(store, acknowledged, "after the limit");
            assertEquals(acknowledged.values().stream().mapToLong(XodusCrashTest.Ack::size).sum(), store.lastPosition(),
                    "no failed write was stored");
            long last = store.lastPosition();
            List<EventData> more = CrashingWriter.save(-1, 1, 0);
            store.append("after-0", -1, more);
            List<RecordedEvent> after = store.readAll(last, 10);
            assertEquals(List.of(last + 1), after.stream().map(RecordedEvent::position).toList());
        }
    }

    private static void assertNoTemporaryFiles(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            List<Path> temporary = files.filter(file -> file.getFileName().toString().endsWith(".tmp")).toList();
            assertEquals(List.of(), temporary);
        }
    }

    /** The last value acknowledged per name, from {@code ACK <name> <value>} lines. */
    private static Map<String, Long> lastValues(List<String> lines) {
        Map<String, Long> values = new HashMap<>();
        for (String line : all(lines, "ACK ")) {
            String[] fields = line.split(" ");
            values.put(fields[1], Long.parseLong(fields[2]));
        }
        return values;
    }

    /** The lines but the acknowledgements, for messages. */
    private static List<String> outcomes(List<String> lines) {
        return lines.stream().filter(line -> !line.startsWith("ACK ")).toList();
    }

    private static List<String> all(List<String> lines, String prefix) {
        return lines.stream().filter(line -> line.startsWith(prefix)).toList();
    }

    private static String only(List<String> lines, String prefix) {
        List<String> matching = all(lines, prefix);
        assertEquals(1, matching.size(), "one line starting " + prefix + ": " + outcomes(lines));
        return matching.get(0);
    }
}
