package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The store syncs its commits itself, off the writer thread: readers see only what is on disk, a
 * failed sync fails the appends it covered and stops further writes, and concurrent appenders share
 * syncs while each reads its own events back at once.
 */
class XodusSyncTest {
    @TempDir
    Path directory;

    private final ExecutorService callers = Executors.newCachedThreadPool();
    private XodusEventStore store;

    @AfterEach
    void close() throws InterruptedException {
        callers.shutdownNow();
        assertTrue(callers.awaitTermination(30, TimeUnit.SECONDS));
        if (store != null) {
            store.close();
        }
    }

    @Test
    void readersSeeNothingOfACommitUntilItIsOnDisk() throws Exception {
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        store = storeWhoseFirstSyncWaits(syncing, release);
        EventData event = event("opened");

        Future<Long> append = callers.submit(() -> store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event)));
        assertTrue(syncing.await(30, TimeUnit.SECONDS), "the append reached its sync");

        // Committed in Xodus, not yet synced: no read shows it.
        assertFalse(append.isDone());
        assertEquals(List.of(), store.readAll(0, 10));
        assertEquals(List.of(), store.readStream("Account-1", 0, 10));
        assertEquals(List.of(), store.readCategory("Account", 0, 10));
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("Account-1"));
        assertEquals(0, store.lastPosition());
        assertEquals(Optional.empty(), store.readEvent(event.eventId()));

        release.countDown();

        assertEquals(0, append.get(30, TimeUnit.SECONDS));
        assertEquals(1, store.readAll(0, 10).size());
        assertEquals(event.eventId(), store.readStream("Account-1", 0, 10).get(0).eventId());
        assertEquals(1, store.readCategory("Account", 0, 10).size());
        assertEquals(0, store.streamVersion("Account-1"));
        assertEquals(1, store.lastPosition());
        assertTrue(store.readEvent(event.eventId()).isPresent());
    }

    @Test
    void aStreamsVersionWhileALargeAppendOfItSyncsIsItsLastVersionOnDisk() throws Exception {
        AtomicBoolean holdNextSync = new AtomicBoolean();
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        store = new XodusEventStore(directory, XodusOptions.defaults(), (environment, path) -> new LogSync(environment, path) {
            @Override
            void force(long end) throws IOException {
                if (holdNextSync.getAndSet(false)) {
                    syncing.countDown();
                    await(release);
                }
                super.force(end);
            }
        });
        store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event("opened"), event("credited")));
        List<EventData> large = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            large.add(event("credited"));
        }
        holdNextSync.set(true);

        Future<Long> append = callers.submit(() -> store.append("Account-1", 1, large));
        assertTrue(syncing.await(30, TimeUnit.SECONDS), "the append reached its sync");

        assertEquals(1, store.streamVersion("Account-1"), "versions 2 to 1001 are not on disk yet");
        release.countDown();
        assertEquals(1001, append.get(30, TimeUnit.SECONDS));
        assertEquals(1001, store.streamVersion("Account-1"));
    }

    @Test
    void theLastVersionOnDiskIsFoundInLogarithmicallyManyIndexReads() {
        // Positions of versions 0.. are 1..; the disk ends at position 11, so version 10 is the last on it.
        AtomicInteger reads = new AtomicInteger();
        long found = XodusEventStore.lastVersionOnDisk(999_999, 11, version -> {
            reads.incrementAndGet();
            return version + 1;
        });

        assertEquals(10, found);
        assertTrue(reads.get() <= 21, "read " + reads.get() + " index entries to step back over 999,989 versions syncing");
        assertEquals(999_999, XodusEventStore.lastVersionOnDisk(999_999, 1_000_000, version -> version + 1));
        assertEquals(-1, XodusEventStore.lastVersionOnDisk(999_999, 0, version -> version + 1));
        assertEquals(0, XodusEventStore.lastVersionOnDisk(999_999, 1, version -> version + 1));
    }

    @Test
    void aFailedSyncFailsItsAppendsAndTheStoreTakesNoMoreWritesUntilReopened() throws Exception {
        store = new XodusEventStore(directory, XodusOptions.defaults(), (environment, path) -> new LogSync(environment, path) {
            @Override
            void force(long end) throws IOException {
                throw new IOException("Input/output error (simulated)");
            }
        });

        FluxException failed = assertThrows(FluxException.class,
                () -> store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event("opened"))));
        assertTrue(failed.getMessage().contains("could not force it to disk"), failed.getMessage());
        assertTrue(failed.getMessage().contains(directory.toString()), failed.getMessage());
        assertEquals("Input/output error (simulated)", failed.getCause().getMessage());
        assertEquals(List.of(), store.readAll(0, 10), "what was not synced is not shown");

        FluxException refused = assertThrows(FluxException.class,
                () -> store.append("Account-2", ExpectedVersion.NO_STREAM, List.of(event("opened"))));
        assertTrue(refused.getMessage().contains("takes no more writes"), refused.getMessage());
        assertTrue(refused.getMessage().contains("nothing of this write was written"), refused.getMessage());
        store.close();

        store = new XodusEventStore(directory);
        long before = store.lastPosition();
        assertEquals(0, store.append("Account-2", ExpectedVersion.NO_STREAM, List.of(event("opened"))));
        assertEquals("Account-2", store.readAll(before, 10).get(0).streamId());
        assertFalse(store.readStream("Account-2", 0, 10).isEmpty());
    }

    @Test
    void concurrentAppendersShareSyncsAndEachReadsItsOwnEventsAtOnce() throws Exception {
        AtomicInteger syncs = new AtomicInteger();
        store = new XodusEventStore(directory, XodusOptions.defaults(), (environment, path) -> new LogSync(environment, path) {
            @Override
            void force(long end) throws IOException {
                syncs.incrementAndGet();
                sleep(2); // a slow disk, so that the writer commits the next batches meanwhile
                super.force(end);
            }
        });
        int writers = 16;
        int saves = 40;
        AtomicBoolean writing = new AtomicBoolean(true);
        Future<List<RecordedEvent>> tail = callers.submit(() -> {
            List<RecordedEvent> seen = new ArrayList<>();
            while (writing.get() || seen.size() < writers * saves) {
                long after = seen.isEmpty() ? 0 : seen.get(seen.size() - 1).position();
                seen.addAll(store.readAll(after, 100));
            }
            return seen;
        });
        List<Future<?>> appenders = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            String stream = "Account-" + w;
            appenders.add(callers.submit(() -> {
                for (int version = 0; version < saves; version++) {
                    assertEquals(version, store.append(stream, version - 1, List.of(event("credited"))));
                    assertEquals(version, store.streamVersion(stream), "an appender sees its own append at once");
                    assertEquals(version + 1, store.readStream(stream, 0, 1000).size());
                }
                return null;
            }));
        }
        for (Future<?> appender : appenders) {
            appender.get(120, TimeUnit.SECONDS);
        }
        writing.set(false);

        List<RecordedEvent> seen = tail.get(120, TimeUnit.SECONDS);
        assertEquals(writers * saves, seen.size());
        for (int i = 0; i < seen.size(); i++) {
            assertEquals(i + 1, seen.get(i).position(), "every event once, in position order");
        }
        assertTrue(syncs.get() < writers * saves / 2, "appenders shared syncs: " + syncs.get() + " syncs for "
                + writers * saves + " appends");
    }

    @Test
    void withoutDurableWritesNothingIsSyncedPerCommitAndReadsSeeCommitsAtOnce() {
        AtomicInteger syncs = new AtomicInteger();
        store = new XodusEventStore(directory, XodusOptions.builder().durableWrites(false).build(),
                (environment, path) -> {
                    syncs.incrementAndGet();
                    return new LogSync(environment, path);
                });

        store.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event("opened")));

        assertEquals(0, syncs.get(), "no sync of flux's own is made");
        assertEquals(1, store.lastPosition());
        assertEquals(1, store.readAll(0, 10).size());
    }

    @Test
    void aCloseWhileAnotherIsUnderWayReturnsOnlyOnceTheDirectoryIsFree() throws Exception {
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        XodusEventStore closing = storeWhoseFirstSyncWaits(syncing, release);
        Future<Long> append = callers.submit(() -> closing.append("Account-1", ExpectedVersion.NO_STREAM, List.of(event("opened"))));
        assertTrue(syncing.await(30, TimeUnit.SECONDS), "the append reached its sync");
        Future<?> firstClose = callers.submit(closing::close);     // waits for the append's sync
        while (!isClosed(closing)) {
            sleep(1);
        }

        Future<?> secondClose = callers.submit(closing::close);    // say a shutdown hook

        assertThrows(TimeoutException.class, () -> secondClose.get(300, TimeUnit.MILLISECONDS),
                "the second close waits for the first");
        release.countDown();
        secondClose.get(30, TimeUnit.SECONDS);
        store = new XodusEventStore(directory);                     // free as soon as either close returned
        assertEquals(0, store.streamVersion("Account-1"));
        assertEquals(0, append.get(30, TimeUnit.SECONDS));
        firstClose.get(30, TimeUnit.SECONDS);
    }

    /** A store in {@code directory} whose first sync counts {@code syncing} down and waits for {@code release}. */
    private XodusEventStore storeWhoseFirstSyncWaits(CountDownLatch syncing, CountDownLatch release) {
        AtomicBoolean first = new AtomicBoolean(true);
        return new XodusEventStore(directory, XodusOptions.defaults(), (environment, path) -> new LogSync(environment, path) {
            @Override
            void force(long end) throws IOException {
                if (first.getAndSet(false)) {
                    syncing.countDown();
                    await(release);
                }
                super.force(end);
            }
        });
    }

    private static boolean isClosed(XodusEventStore store) {
        try {
            store.lastPosition();
            return false;
        } catch (IllegalStateException closed) {
            return true;
        }
    }

    private static EventData event(String type) {
        return EventData.of(type, ("{\"type\":\"" + type + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
