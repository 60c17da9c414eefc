package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.snapshot.Snapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Xodus moving on to a new log file, and its cleaner deleting old ones, is normal operation: the check
 * that the directory and the log file are still the ones opened must never take it for a directory gone.
 * Log files of 2 MB (Xodus reads its settings from system properties) make a few hundred large writes
 * cross several of them, and a cleaner told to start at once deletes those holding only overwritten
 * snapshots while the store writes on.
 */
class XodusManyLogFilesTest {
    private static final Map<String, String> SMALL_FILES = Map.of(
            "exodus.log.fileSize", "2048",
            "exodus.gc.startIn", "0",
            "exodus.gc.fileMinAge", "1",
            "exodus.gc.filesInterval", "1",
            "exodus.gc.filesDeletionDelay", "0",
            "exodus.gc.runPeriod", "50");

    @TempDir
    Path parent;

    @BeforeEach
    void smallLogFiles() {
        SMALL_FILES.forEach(System::setProperty);
    }

    @AfterEach
    void defaultLogFiles() {
        SMALL_FILES.keySet().forEach(System::clearProperty);
    }

    @Test
    void appendsAcrossManyLogFilesNeverFailAsAGoneDirectory() throws Exception {
        for (boolean durable : new boolean[] {true, false}) {
            Path directory = parent.resolve("events-" + durable);
            XodusOptions options = XodusOptions.builder().durableWrites(durable).build();
            int writers = 4;
            int appends = 80;
            byte[] payload = new byte[60_000];
            try (XodusEventStore store = new XodusEventStore(directory, options)) {
                ExecutorService pool = Executors.newFixedThreadPool(writers);
                try {
                    List<Future<?>> done = new ArrayList<>();
                    for (int w = 0; w < writers; w++) {
                        String stream = "Account-" + w;
                        done.add(pool.submit(() -> {
                            for (int i = 0; i < appends; i++) {
                                store.append(stream, i == 0 ? ExpectedVersion.NO_STREAM : i - 1,
                                        List.of(EventData.of("AccountCredited", payload, Map.of())));
                            }
                            return null;
                        }));
                    }
                    for (Future<?> writer : done) {
                        writer.get(60, TimeUnit.SECONDS);
                    }
                } finally {
                    pool.shutdownNow();
                }
                assertTrue(logFiles(directory) >= 5, "crossed log files: " + logFiles(directory));
                assertEquals(writers * appends, store.lastPosition(), "durable=" + durable);
            }
            try (XodusEventStore reopened = new XodusEventStore(directory, options)) {
                reopened.append("Account-0", appends - 1, List.of(EventData.of("AccountCredited", payload, Map.of())));
                assertEquals(writers * appends + 1, reopened.lastPosition());
            }
        }
    }

    @Test
    void snapshotsOverwrittenAcrossLogFilesTheCleanerDeletesNeverFailAsAGoneDirectory() throws Exception {
        for (boolean durable : new boolean[] {true, false}) {
            Path directory = parent.resolve("snapshots-" + durable);
            byte[] state = new byte[200_000];
            try (XodusSnapshotStore snapshots = new XodusSnapshotStore(directory,
                    XodusOptions.builder().durableWrites(durable).build())) {
                for (int version = 0; version < 120; version++) {
                    snapshots.save(new Snapshot("Account-1", version, "Account", state, Instant.now()));
                }
                assertTrue(lastLogFile(directory).compareTo("00000000400.xd") > 0, "crossed log files: " + lastLogFile(directory));
                assertEquals(119, snapshots.load("Account-1").orElseThrow().version(), "durable=" + durable);
            }
        }
    }

    @Test
    void aStoreIdleSinceItOpenedWritesAfterTheCleanerDeletedTheFileItsLogEndedIn() throws Exception {
        System.setProperty("exodus.log.fileSize", "256");
        Path directory = parent.resolve("idle");
        byte[] payload = new byte[3_000];
        try (XodusEventStore store = new XodusEventStore(directory, XodusOptions.builder().durableWrites(false).build())) {
            for (int i = 0; i < 300; i++) {     // one stream's tree rewritten over and over: files of mostly garbage
                store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("AccountCredited", payload, Map.of())));
            }
        }
        Path endAtOpen = directory.resolve(lastLogFile(directory));
        try (XodusEventStore store = new XodusEventStore(directory, XodusOptions.builder().gcMinUtilization(90).build())) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (Files.exists(endAtOpen)) {   // the cleaner moves the live entries on and deletes the file
                assertTrue(System.nanoTime() < deadline, "the cleaner did not delete " + endAtOpen);
                Thread.sleep(10);
            }

            assertEquals(300, store.append("Account-1", 299, List.of(EventData.of("AccountCredited", payload, Map.of()))));

            assertEquals(301, store.lastPosition());
            assertEquals(0, store.append("Account-2", ExpectedVersion.NO_STREAM,
                    List.of(EventData.of("AccountOpened", new byte[10], Map.of()))), "the store still takes writes");
        }
    }

    @Test
    void logFilesUnderOneMegabyteStillHoldEventsUpToThreeQuartersOfAFile() {
        System.setProperty("exodus.log.fileSize", "512");
        for (boolean durable : new boolean[] {true, false}) {
            try (XodusEventStore store = new XodusEventStore(parent.resolve("tiny-" + durable),
                    XodusOptions.builder().durableWrites(durable).build())) {
                byte[] nearTheLimit = new byte[380 * 1024];
                store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(EventData.of("Big", nearTheLimit, Map.of())));
                FluxException tooBig = assertThrows(FluxException.class, () -> store.append("Account-1", 0,
                        List.of(EventData.of("Big", new byte[390 * 1024], Map.of()))));
                assertTrue(tooBig.getMessage().contains("holds at most 384 KB"), tooBig.getMessage());
                store.append("Account-1", 0, List.of(EventData.of("Small", new byte[10], Map.of())));
                assertEquals(nearTheLimit.length, store.readStream("Account-1", 0, 1).get(0).data().length);
                assertEquals(2, store.lastPosition(), "durable=" + durable);
            }
        }
    }

    private static String lastLogFile(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).filter(name -> name.endsWith(".xd")).max(String::compareTo)
                    .orElseThrow();
        }
    }

    private static long logFiles(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(file -> file.toString().endsWith(".xd")).count();
        }
    }
}
