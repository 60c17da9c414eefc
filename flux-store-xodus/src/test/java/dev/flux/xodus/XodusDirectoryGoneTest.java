package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.snapshot.Snapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A store whose directory is deleted, moved or replaced while it is open: Xodus keeps writing into the
 * files it holds open, which nobody finds again, so the store must stop acknowledging writes instead
 * of reporting saves that are already lost.
 */
class XodusDirectoryGoneTest {
    @TempDir
    Path parent;

    @Test
    void anAppendAfterTheDirectoryWasDeletedFailsNamingItAndLaterOnesFailToo() {
        for (boolean durable : new boolean[] {true, false}) {
            Path directory = parent.resolve("events-" + durable);
            XodusEventStore store = new XodusEventStore(directory, XodusOptions.builder().durableWrites(durable).build());
            try {
                assertEquals(0, store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event())));
                delete(directory);

                FluxException lost = assertThrows(FluxException.class,
                        () -> store.append("Account-1", 0, List.of(event())), "durable=" + durable);

                assertTrue(lost.getMessage().contains(directory.toString()), lost.getMessage());
                assertTrue(lost.getMessage().contains("deleted, moved or replaced"), lost.getMessage());
                FluxException later = assertThrows(FluxException.class,
                        () -> store.append("Account-2", ExpectedVersion.NO_STREAM, List.of(event())));
                assertTrue(later.getMessage().contains("takes no more writes")
                        && later.getMessage().contains("deleted, moved or replaced"), later.getMessage());
                // Opening again without putting the directory back would start an empty store where the events were.
                assertTrue(later.getMessage().contains("put the directory back"), later.getMessage());
            } finally {
                closeQuietly(store);
            }
        }
    }

    @Test
    void aDirectoryReplacedByAnEmptyOneIsNoticed() throws IOException {
        FluxException lost = secondAppendAfter(directory -> {
            delete(directory);
            Files.createDirectory(directory);
        });

        assertTrue(lost.getMessage().contains("deleted, moved or replaced"), lost.getMessage());
    }

    @Test
    void aDeletedLogFileIsNoticedThoughTheDirectoryStays() throws IOException {
        FluxException lost = secondAppendAfter(directory -> {
            try (DirectoryStream<Path> logs = Files.newDirectoryStream(directory, "*.xd")) {
                for (Path log : logs) {
                    Files.delete(log);
                }
            }
        });

        assertTrue(lost.getMessage().contains(".xd"), "names the log file: " + lost.getMessage());
    }

    /** Something done to a store's directory between two appends. */
    private interface Damage {
        void to(Path directory) throws IOException;
    }

    /** Opens a store, appends, damages its directory, and returns how the next append failed. */
    private FluxException secondAppendAfter(Damage damage) throws IOException {
        Path directory = parent.resolve("events");
        XodusEventStore store = new XodusEventStore(directory);
        try {
            store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event()));
            damage.to(directory);
            return assertThrows(FluxException.class, () -> store.append("Account-1", 0, List.of(event())));
        } finally {
            closeQuietly(store);
        }
    }

    @Test
    void aMovedDirectoryIsNoticedAndKeepsWhatWasWrittenIntoIt() throws IOException {
        Path directory = parent.resolve("events");
        Path moved = parent.resolve("moved");
        XodusEventStore store = new XodusEventStore(directory);
        EventData acknowledged = event();
        try {
            store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(acknowledged));
            Files.move(directory, moved);

            FluxException refused = assertThrows(FluxException.class, () -> store.append("Account-1", 0, List.of(event())));
            assertTrue(refused.getMessage().contains("put the directory back"), refused.getMessage());
            assertThrows(FluxException.class, () -> store.append("Account-1", 1, List.of(event())));
        } finally {
            closeQuietly(store);
        }
        try (XodusEventStore reopened = new XodusEventStore(moved)) {
            List<RecordedEvent> events = reopened.readStream("Account-1", 0, 10);
            assertEquals(acknowledged.eventId(), events.get(0).eventId(), "the acknowledged save is where the files went");
            assertEquals(2, events.size(), "the refused save's commit went there too, and the one after never did");
        }
    }

    @Test
    void closingAStoreWhoseDirectoryWasFoundGoneWritesNothingWhereItWas() throws IOException {
        Path directory = parent.resolve("events");
        XodusEventStore store = new XodusEventStore(directory);
        store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event()));
        Files.move(directory, parent.resolve("moved"));
        assertThrows(FluxException.class, () -> store.append("Account-1", 0, List.of(event())));

        store.close(); // the failed write told; close neither fails again nor records a position where the store was

        assertFalse(Files.exists(directory), "nothing written where the directory was");
    }

    @Test
    void closingAStoreWhoseDirectoryWasReplacedSinceItsLastWriteSaysSoAndRecordsNothingInTheNewOne() throws IOException {
        Path directory = parent.resolve("events");
        XodusEventStore store = new XodusEventStore(directory);
        store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event()));
        Files.move(directory, parent.resolve("moved"));
        Files.createDirectory(directory); // no write since, so nothing noticed it yet

        FluxException gone = assertThrows(FluxException.class, store::close);

        assertTrue(gone.getMessage().contains(directory.toString()) && gone.getMessage().contains("deleted, moved or replaced"),
                gone.getMessage());
        assertFalse(Files.exists(directory.resolve(PositionMark.FILE)), "no position recorded in a directory not the store's");
        try (XodusEventStore fresh = new XodusEventStore(directory)) {
            assertEquals(0, fresh.lastPosition(), "the new directory opens as the empty store it is");
        }
    }

    @Test
    void closingAStoreWhoseDirectoryWasDeletedSinceItsLastWriteSaysSo() {
        Path directory = parent.resolve("events");
        XodusEventStore store = new XodusEventStore(directory);
        store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event()));
        delete(directory);

        FluxException gone = assertThrows(FluxException.class, store::close);

        assertTrue(gone.getMessage().contains(directory.toString()) && gone.getMessage().contains("deleted, moved or replaced"),
                gone.getMessage());
        assertFalse(Files.exists(directory), "nothing written where the directory was");
        store.close(); // told once
    }

    @Test
    void offsetAndSnapshotStoresNoticeTheirDirectoryWentAway() {
        Path offsetsDirectory = parent.resolve("offsets");
        Path snapshotsDirectory = parent.resolve("snapshots");
        XodusOffsetStore offsets = new XodusOffsetStore(offsetsDirectory);
        XodusSnapshotStore snapshots = new XodusSnapshotStore(snapshotsDirectory);
        try {
            offsets.save("balances", 1);
            Snapshot snapshot = new Snapshot("Account-1", 0, "Account", "{}".getBytes(StandardCharsets.UTF_8), Instant.now());
            snapshots.save(snapshot);
            delete(offsetsDirectory);
            delete(snapshotsDirectory);

            FluxException offsetLost = assertThrows(FluxException.class, () -> offsets.save("balances", 2));
            FluxException snapshotLost = assertThrows(FluxException.class, () -> snapshots.save(snapshot));

            assertTrue(offsetLost.getMessage().contains(offsetsDirectory.toString())
                    && offsetLost.getMessage().contains("deleted, moved or replaced"), offsetLost.getMessage());
            assertTrue(snapshotLost.getMessage().contains(snapshotsDirectory.toString())
                    && snapshotLost.getMessage().contains("deleted, moved or replaced"), snapshotLost.getMessage());
        } finally {
            closeQuietly(offsets);
            closeQuietly(snapshots);
        }
    }

    private static EventData event() {
        return EventData.of("AccountCredited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8), Map.of());
    }

    private static void delete(Path directory) {
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(file);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Closing a store whose directory is gone may fail (it cannot record its last position); that is not under test here. */
    private static void closeQuietly(AutoCloseable store) {
        try {
            store.close();
        } catch (Exception expected) {
            // asserted elsewhere
        }
    }
}
