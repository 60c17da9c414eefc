package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Environments;
import jetbrains.exodus.env.Transaction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Directories that cannot be used and records damaged on disk give errors that say what and where. */
class XodusBadInputTest {
    @TempDir
    Path directory;
    @TempDir
    Path logs;

    @Test
    void aDirectoryLockedByAnotherProcessIsRefusedNamingIt() throws Exception {
        try (ChildJvm holder = new ChildJvm(DirectoryHolder.class, true, logs.resolve("stderr.txt"), directory.toString())) {
            holder.awaitLines(line -> line.startsWith("READY"), 1, 60);

            FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

            assertTrue(refused.getMessage().contains(directory.toAbsolutePath().toString()), refused.getMessage());
            assertTrue(refused.getMessage().contains("locked by another process"), refused.getMessage());
        }
        new XodusEventStore(directory).close(); // the lock of a killed process does not outlive it
    }

    @Test
    void aSecondStoreOnTheSameDirectoryInOneProcessIsRefused() {
        try (XodusEventStore first = new XodusEventStore(directory)) {
            FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

            assertTrue(refused.getMessage().contains(directory.toAbsolutePath().toString()), refused.getMessage());
            assertTrue(refused.getMessage().contains("locked"), refused.getMessage());
            assertEquals(ExpectedVersion.NO_STREAM, first.streamVersion("account-1"), "the first store is unharmed");
        }
    }

    @Test
    void anEmptyPathIsRefusedRatherThanOpeningTheWorkingDirectory() {
        IllegalArgumentException events = assertThrows(IllegalArgumentException.class, () -> new XodusEventStore(Path.of("")));
        assertThrows(IllegalArgumentException.class, () -> new XodusOffsetStore(Path.of("")));
        assertThrows(IllegalArgumentException.class, () -> new XodusSnapshotStore(Path.of("")));

        assertTrue(events.getMessage().contains("empty path"), events.getMessage());
        assertFalse(Files.exists(Path.of("xd.lck")), "nothing was opened in the working directory");
    }

    @Test
    void aFileWhereTheDirectoryShouldBeIsRefused() throws Exception {
        Path file = Files.writeString(directory.resolve("events"), "not a directory");

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(file));
        FluxException refusedOffsets = assertThrows(FluxException.class, () -> new XodusOffsetStore(file));

        assertTrue(refused.getMessage().contains(file.toString()) && refused.getMessage().contains("is a file"), refused.getMessage());
        assertTrue(refusedOffsets.getMessage().contains(file.toString()), refusedOffsets.getMessage());
        assertEquals("not a directory", Files.readString(file), "the file is left alone");
    }

    @Test
    void anUnreadableDirectoryIsRefused() throws Exception {
        Path locked = Files.createDirectory(directory.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
        try {
            assumeFalse(Files.isReadable(locked), "this user (root?) can read any directory");

            FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(locked));

            assertTrue(refused.getMessage().contains(locked.toString()) && refused.getMessage().contains("not readable"),
                    refused.getMessage());
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void aDirectoryHoldingAnotherKindOfStoreIsRefused() {
        new XodusOffsetStore(directory).close();

        FluxException refused = assertThrows(FluxException.class, () -> new XodusEventStore(directory));

        assertTrue(refused.getMessage().contains("XodusOffsetStore") && refused.getMessage().contains(directory.toString()),
                refused.getMessage());
    }

    @Test
    void anEventTooLargeForALogFileIsRefusedOnTheCallersThreadAndNothingIsWritten() {
        int sevenMegabytes = 7 << 20;   // the default 8 MB log file, less the store's 1 MB margin
        try (XodusEventStore store = new XodusEventStore(directory)) {
            EventData largest = EventData.of("Scan", new byte[sevenMegabytes - 1024], Map.of());
            EventData tooLarge = EventData.of("Scan", new byte[sevenMegabytes + 1], Map.of());

            assertEquals(0, store.append("Document-1", ExpectedVersion.NO_STREAM, List.of(largest)));
            FluxException refused = assertThrows(FluxException.class,
                    () -> store.append("Document-2", ExpectedVersion.NO_STREAM, List.of(event("small"), tooLarge)));

            assertTrue(refused.getMessage().contains("'Document-2'"), refused.getMessage());
            assertTrue(refused.getMessage().contains(tooLarge.eventId().toString()), refused.getMessage());
            assertTrue(refused.getMessage().contains("at most 7168 KB"), refused.getMessage());
            assertTrue(refused.getMessage().contains("Nothing was written"), refused.getMessage());
            assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("Document-2"));
            assertEquals(1, store.lastPosition());
            assertEquals(0, store.append("Document-2", ExpectedVersion.NO_STREAM, List.of(event("small"))));
            assertEquals(sevenMegabytes - 1024, store.readStream("Document-1", 0, 1).get(0).data().length);
        }
    }

    @Test
    void aCorruptedEventBodyIsReportedWithStreamVersionAndType() {
        List<EventData> events = List.of(event("Opened"), event("Credited"), event("Debited"));
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, events);
        }
        rewriteRecord(2, bytes -> {
            bytes[bytes.length - 2] ^= 0x20; // a byte of the JSON body
            return bytes;
        });

        try (XodusEventStore store = new XodusEventStore(directory)) {
            for (Runnable read : List.<Runnable>of(
                    () -> store.readStream("account-1", 0, 10),
                    () -> store.readAll(0, 10),
                    () -> store.readCategory("account", 1, 10),
                    () -> store.readEvent(events.get(1).eventId()))) {
                FluxException corrupt = assertThrows(FluxException.class, read::run);

                String message = corrupt.getMessage();
                assertTrue(message.contains("'account-1'") && message.contains("version 1") && message.contains("'Credited'")
                        && message.contains("position 2") && message.contains(directory.toString()), message);
            }
            assertEquals(List.of(0L), versions(store.readStream("account-1", 0, 1)), "the events around it still read");
            assertEquals(List.of(2L), versions(store.readStream("account-1", 2, 10)));
        }
    }

    @Test
    void aTruncatedRecordIsReportedWithWhatTheIndexKnows() {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event("Opened"), event("Credited")));
        }
        rewriteRecord(2, bytes -> new byte[] {1, 2, 3});

        try (XodusEventStore store = new XodusEventStore(directory)) {
            FluxException corrupt = assertThrows(FluxException.class, () -> store.readStream("account-1", 0, 10));

            assertTrue(corrupt.getMessage().contains("'account-1'") && corrupt.getMessage().contains("version 1")
                    && corrupt.getMessage().contains("shorter than its"), corrupt.getMessage());
        }
    }

    @Test
    void aDamagedStreamHeadIsReportedNamingTheStreamAndOtherStreamsStillAppend() {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event("Opened")));
            store.append("account-2", ExpectedVersion.NO_STREAM, List.of(event("Opened")));
        }
        rewrite((layout, txn) -> layout.streamHeads.put(txn, new ArrayByteIterable("account-1".getBytes(StandardCharsets.UTF_8)),
                new ArrayByteIterable(new byte[] {1, 2, 3})));

        try (XodusEventStore store = new XodusEventStore(directory)) {
            FluxException read = assertThrows(FluxException.class, () -> store.streamVersion("account-1"));
            FluxException append = assertThrows(FluxException.class,
                    () -> store.append("account-1", 0, List.of(event("Credited"))));

            for (FluxException corrupt : List.of(read, append)) {
                String message = corrupt.getMessage() + " / " + corrupt.getCause();
                assertTrue(message.contains("the head of stream 'account-1' is 3 bytes") && message.contains(directory.toString()),
                        message);
            }
            assertTrue(append.getMessage().contains("nothing of this write was written"), append.getMessage());
            assertEquals(1, store.append("account-2", 0, List.of(event("Credited"))), "other streams append as before");
            assertEquals(3, store.lastPosition());
        }
    }

    @Test
    void aDamagedIndexEntryIsReportedNamingTheEntryAndTheDirectory() {
        UUID eventId;
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event("Opened")));
            EventData credited = event("Credited");
            eventId = credited.eventId();
            store.append("account-1", 0, List.of(credited));
        }
        rewrite((layout, txn) -> {
            byte[] stream = Layout.prefix("account-1".getBytes(StandardCharsets.UTF_8));
            layout.streamIndex.put(txn, layout.key(stream, 1), new ArrayByteIterable(new byte[] {1, 2, 3}));
            layout.eventIndex.put(txn, layout.eventIdKey(eventId), new ArrayByteIterable(new byte[5]));
        });

        try (XodusEventStore store = new XodusEventStore(directory)) {
            FluxException read = assertThrows(FluxException.class, () -> store.readStream("account-1", 0, 10));
            FluxException version = assertThrows(FluxException.class, () -> store.streamVersion("account-1"));
            FluxException byId = assertThrows(FluxException.class, () -> store.readEvent(eventId));

            for (FluxException corrupt : List.of(read, version)) {
                assertTrue(corrupt.getMessage().contains("the stream index entry of 'account-1'@1 is 3 bytes")
                        && corrupt.getMessage().contains(directory.toString()), corrupt.getMessage());
            }
            assertTrue(byId.getMessage().contains("the event index entry of event " + eventId + " is 5 bytes")
                    && byId.getMessage().contains(directory.toString()), byId.getMessage());
            assertEquals(List.of(0L, 1L), versions(store.readAll(0, 10)), "the events themselves read as before");
        }
    }

    @Test
    void anIndexEntryPointingAtAnotherEventIsReportedNotReadAsTheEventAskedFor() {
        UUID credited;
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, List.of(event("Opened")));
            EventData event = event("Credited");
            credited = event.eventId();
            store.append("account-1", 0, List.of(event));
            store.append("audit-1", ExpectedVersion.NO_STREAM, List.of(event("Noted")));
        }
        rewrite((layout, txn) -> {
            // Whole 8-byte positions, but of other events: event 2's id to position 1, category 'account' to position 3.
            layout.eventIndex.put(txn, layout.eventIdKey(credited), Layout.number(1));
            byte[] account = Layout.prefix("account".getBytes(StandardCharsets.UTF_8));
            layout.categoryIndex.put(txn, layout.key(account, 3), ArrayByteIterable.EMPTY);
        });

        try (XodusEventStore store = new XodusEventStore(directory)) {
            FluxException byId = assertThrows(FluxException.class, () -> store.readEvent(credited));
            FluxException byCategory = assertThrows(FluxException.class, () -> store.readCategory("account", 0, 10));

            assertTrue(byId.getMessage().contains("the event index entry of event " + credited + " points to position 1")
                    && byId.getMessage().contains("stream 'account-1' version 0")
                    && byId.getMessage().contains(directory.toString()), byId.getMessage());
            assertTrue(byCategory.getMessage().contains("the category index entry of 'account' at position 3 points to an"
                    + " event of stream 'audit-1'") && byCategory.getMessage().contains(directory.toString()),
                    byCategory.getMessage());
            assertEquals(List.of(0L, 1L), versions(store.readStream("account-1", 0, 10)), "the stream reads as before");
        }
    }

    @Test
    void aStringThatUtf8CannotHoldIsRefused() {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            String loneSurrogate = "account-\uD800x";

            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> store.append(loneSurrogate, ExpectedVersion.ANY, List.of(event("Opened"))));

            assertTrue(refused.getMessage().contains("surrogate"), refused.getMessage());
            assertEquals(0, store.lastPosition());
        }
    }

    @Test
    void everyCallAfterCloseFailsWithIllegalStateException() {
        XodusEventStore store = new XodusEventStore(directory.resolve("events"));
        XodusOffsetStore offsets = new XodusOffsetStore(directory.resolve("offsets"));
        store.close();
        offsets.close();
        store.close();
        offsets.close();

        assertThrows(IllegalStateException.class, () -> store.append("account-1", ExpectedVersion.ANY, List.of(event("Opened"))));
        assertThrows(IllegalStateException.class, () -> store.readStream("account-1", 0, 10));
        assertThrows(IllegalStateException.class, () -> store.readAll(0, 10));
        assertThrows(IllegalStateException.class, () -> store.readCategory("account", 0, 10));
        assertThrows(IllegalStateException.class, () -> store.readEvent(UUID.randomUUID()));
        assertThrows(IllegalStateException.class, () -> store.streamVersion("account-1"));
        assertThrows(IllegalStateException.class, store::lastPosition);
        assertThrows(IllegalStateException.class, () -> store.onAppend(() -> { }));
        assertThrows(IllegalStateException.class, () -> offsets.save("balances", 1));
        assertThrows(IllegalStateException.class, () -> offsets.load("balances"));
        assertThrows(IllegalStateException.class, () -> offsets.delete("balances"));
    }

    /** Replaces the record at {@code position} with Xodus directly, as damage on disk would. */
    private void rewriteRecord(long position, UnaryOperator<byte[]> damage) {
        rewrite((layout, txn) -> {
            ByteIterable key = layout.positionKey(position);
            ByteIterable record = layout.events.get(txn, key);
            byte[] bytes = java.util.Arrays.copyOf(record.getBytesUnsafe(), record.getLength());
            layout.events.put(txn, key, new ArrayByteIterable(damage.apply(bytes)));
        });
    }

    /** Changes the store's Xodus stores directly, in one transaction, as damage on disk would. */
    private void rewrite(BiConsumer<Layout, Transaction> damage) {
        Environment environment = Environments.newInstance(directory.toFile());
        try {
            Layout layout = Layout.open(environment, directory);
            environment.executeInTransaction(txn -> damage.accept(layout, txn));
        } finally {
            environment.close();
        }
    }

    private static List<Long> versions(List<RecordedEvent> events) {
        return events.stream().map(RecordedEvent::version).toList();
    }

    private static EventData event(String type) {
        return EventData.of(type, ("{\"type\":\"" + type + "\"}").getBytes(StandardCharsets.UTF_8), Map.of("k", "v"));
    }
}
