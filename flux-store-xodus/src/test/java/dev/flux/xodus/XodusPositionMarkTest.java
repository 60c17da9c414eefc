package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The last-position file: a log that lost events is refused by name, and the file's own troubles are named. */
class XodusPositionMarkTest {
    @TempDir
    Path directory;
    @TempDir
    Path backup;

    @Test
    void aLogCutShortByDamageIsRefusedNamingTheDirectoryAndBothPositions() throws IOException {
        append(directory, 2000);
        Path log = logFiles(directory).get(0);
        try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "rw")) {
            // Zeros from a tenth of the way in to the end (shorter damage sometimes lands where Xodus reads on past it).
            int tenth = (int) (file.length() / 10);
            file.seek(tenth);
            file.write(new byte[(int) file.length() - tenth]);
        }

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

        String message = refused.getMessage();
        assertTrue(message.contains(directory.toAbsolutePath().toString()), message);
        assertTrue(message.contains("held events up to position 2000"), message);
        Matcher found = Pattern.compile("its log ends at position (\\d+)").matcher(message);
        assertTrue(found.find() && Long.parseLong(found.group(1)) < 2000, message);
        assertTrue(message.contains("Restore the directory from a backup"), message);
        assertThrows(FluxException.class, () -> new XodusEventStore(directory), "a refused open leaves the mark as it was");
    }

    @Test
    void aStoreClosedCleanlyReopensWithEveryEventAndRecordsItsLastPosition() throws IOException {
        append(directory, 3);

        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(3, store.lastPosition());
            assertEquals(3, store.readAll(0, 10).size());
        }
        assertEquals("3\n", Files.readString(directory.resolve(PositionMark.FILE)));
        assertEquals(Files.getPosixFilePermissions(logFiles(directory).get(0)),
                Files.getPosixFilePermissions(directory.resolve(PositionMark.FILE)), "readable by whoever reads the log");
    }

    @Test
    void aDirectoryReplacedByAnOlderCopyIsRefusedUntilItsMarkIsDeleted() throws IOException {
        append(directory, 2);
        for (Path log : logFiles(directory)) {
            Files.copy(log, backup.resolve(log.getFileName()));
        }
        append(directory, 3);
        for (Path log : logFiles(directory)) {
            Files.delete(log);
        }
        for (Path log : logFiles(backup)) {
            Files.copy(log, directory.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));
        assertTrue(refused.getMessage().contains("its log ends at position 2, but it held events up to position 5"),
                refused.getMessage());

        Files.delete(directory.resolve(PositionMark.FILE));

        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(2, store.lastPosition());
        }
        assertEquals("2\n", Files.readString(directory.resolve(PositionMark.FILE)));
    }

    @Test
    void aMarkThatHoldsNoPositionIsRefusedNamingTheFile() throws IOException {
        append(directory, 1);
        Path mark = directory.resolve(PositionMark.FILE);
        Files.writeString(mark, "not a position", StandardCharsets.US_ASCII);

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

        assertTrue(refused.getMessage().contains(mark.toAbsolutePath() + ": the file holds no position"), refused.getMessage());
        Files.delete(mark);
        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(1, store.lastPosition(), "the refused open closed its files");
        }
    }

    @Test
    void aMarkThatCannotBeReadIsRefusedNamingTheFile() throws IOException {
        append(directory, 1);
        Path mark = directory.resolve(PositionMark.FILE);
        Files.deleteIfExists(mark);
        Files.createDirectory(mark);

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

        assertTrue(refused.getMessage().contains("cannot read its last position from " + mark.toAbsolutePath()),
                refused.getMessage());
    }

    @Test
    void theLogIsSyncedBeforeTheMarkRecordsAnEndFoundAtOpenEvenWithoutDurableWrites() throws IOException {
        append(directory, 3);
        Path mark = directory.resolve(PositionMark.FILE);
        Files.delete(mark);     // as after a crash: the log holds more than the mark says
        List<String> markWhenSynced = new ArrayList<>();

        try (XodusEventStore store = new XodusEventStore(directory, XodusOptions.builder().durableWrites(false).build(),
                (environment, path) -> new LogSync(environment, path) {
                    @Override
                    void forceAll() throws IOException {
                        markWhenSynced.add(Files.exists(mark) ? Files.readString(mark) : "no mark");
                        super.forceAll();
                    }
                })) {
            assertEquals(3, store.lastPosition());
        }

        assertEquals(List.of("no mark"), markWhenSynced, "the mark may only say what is on disk");
        assertEquals("3\n", Files.readString(mark));
    }

    @Test
    void aMarkThatCannotBeRecordedAtCloseLeavesNoTemporaryFileAndSaysTheStoreIsClosedWithEveryWrite() throws IOException {
        Path mark = directory.resolve(PositionMark.FILE);
        XodusEventStore store = new XodusEventStore(directory);
        store.append("Account-1", ExpectedVersion.NO_STREAM,
                List.of(EventData.of("Credited", "{}".getBytes(StandardCharsets.UTF_8), Map.of())));
        Files.createDirectories(mark.resolve("in-the-way")); // the new mark cannot be renamed over it, as on a full disk

        FluxException failed = assertThrows(FluxException.class, store::close);

        assertTrue(failed.getMessage().contains("is closed, and every write it acknowledged is kept")
                && failed.getMessage().contains("could not record its last position (1) in " + mark.toAbsolutePath()),
                failed.getMessage());
        try (Stream<Path> files = Files.list(directory)) {
            assertEquals(List.of(), files.filter(file -> file.getFileName().toString().endsWith(".tmp")).toList(),
                    "no temporary mark left behind");
        }
        assertThrows(IllegalStateException.class, store::lastPosition, "closed");
        Files.delete(mark.resolve("in-the-way"));
        Files.delete(mark);
        try (XodusEventStore reopened = new XodusEventStore(directory)) {
            assertEquals(1, reopened.readAll(0, 10).size());
        }
    }

    @Test
    void aTemporaryMarkThatAKilledProcessLeftIsDeletedAtTheNextOpenAndALiveProcessIsKept() throws Exception {
        append(directory, 2);
        Process exited = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-version")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        exited.waitFor();
        // As a SIGKILL during a close leaves them: by a process gone, and by a flux that did not name the process.
        Path killed = directory.resolve(PositionMark.FILE + "." + exited.pid() + "." + UUID.randomUUID() + ".tmp");
        Path older = directory.resolve(PositionMark.FILE + "." + UUID.randomUUID() + ".tmp");
        Path live = directory.resolve(PositionMark.FILE + "." + ProcessHandle.current().pid() + "." + UUID.randomUUID() + ".tmp");
        for (Path leftover : List.of(killed, older, live)) {
            Files.writeString(leftover, "9");
            Files.setLastModifiedTime(leftover, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        }

        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(2, store.lastPosition());
        }

        assertFalse(Files.exists(killed), "the killed process's temporary mark is deleted");
        assertFalse(Files.exists(older), "an older flux's temporary mark is deleted");
        assertTrue(Files.exists(live), "a live process may be writing its mark: left alone");
        assertEquals("2\n", Files.readString(directory.resolve(PositionMark.FILE)));
    }

    @Test
    void aFreshTemporaryMarkOfAProcessNotSeenHereIsLeftAloneAsItMayBeBeingWritten() throws Exception {
        append(directory, 2);
        Process exited = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-version")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        exited.waitFor();
        // A process in another container (pid namespace) or on another machine sharing the directory, closing the
        // store just before this open took the directory's lock: its pid is no process here, its mark is being written.
        Path writing = directory.resolve(PositionMark.FILE + "." + exited.pid() + "." + UUID.randomUUID() + ".tmp");
        Path olderFlux = directory.resolve(PositionMark.FILE + "." + UUID.randomUUID() + ".tmp");
        Files.writeString(writing, "2\n");
        Files.writeString(olderFlux, "2\n");

        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(2, store.lastPosition());
        }

        assertTrue(Files.exists(writing), "a temporary mark written moments ago is left for its writer to rename");
        assertTrue(Files.exists(olderFlux), "an older flux's, written moments ago, too");
        Files.setLastModifiedTime(writing, FileTime.fromMillis(System.currentTimeMillis() - PositionMark.LEFTOVER_AGE_MILLIS - 1_000));
        new XodusEventStore(directory).close();
        assertFalse(Files.exists(writing), "once older than a write takes, it is a leftover and deleted");
    }

    @Test
    void aTemporaryMarkThatCannotBeExaminedDoesNotKeepTheOtherLeftoversFromBeingDeleted() throws Exception {
        append(directory, 2);
        // A name listed whose file is gone by the time its age is read (its writer renamed it): dangling links stand
        // in for them, several, so that whatever order the directory lists in, some come before the leftovers.
        List<Path> leftovers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Path leftover = directory.resolve(PositionMark.FILE + "." + UUID.randomUUID() + ".tmp");
            Files.writeString(leftover, "9");
            Files.setLastModifiedTime(leftover, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
            leftovers.add(leftover);
            if (i % 4 == 0) {
                Files.createSymbolicLink(directory.resolve(PositionMark.FILE + "." + UUID.randomUUID() + ".tmp"),
                        directory.resolve("renamed-" + i));
            }
        }

        try (XodusEventStore store = new XodusEventStore(directory)) {
            assertEquals(2, store.lastPosition());
        }

        assertEquals(List.of(), leftovers.stream().filter(Files::exists).toList(), "every leftover is deleted");
    }

    private static void append(Path directory, int events) {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            for (int i = 0; i < events; i++) {
                store.append("Account-" + (i % 10), ExpectedVersion.ANY,
                        List.of(EventData.of("Credited", ("{\"i\":" + i + "}").getBytes(StandardCharsets.UTF_8), Map.of())));
            }
        }
    }

    private static List<Path> logFiles(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(file -> file.getFileName().toString().endsWith(".xd")).sorted().toList();
        }
    }
}
