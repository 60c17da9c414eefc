package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.Transaction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** One batch, one transaction, and each caller's own outcome: a refused or failing write leaves the others alone. */
class GroupCommitTest {
    @TempDir
    Path directory;

    private StoreDirectory storeDirectory;
    private Store store;
    private GroupCommit<Transaction> writer;
    private final AtomicInteger commits = new AtomicInteger();
    /** The events written into the transaction under way (writer thread only), and those of each commit. */
    private int eventsWritten;
    private final List<Integer> eventsPerCommit = new CopyOnWriteArrayList<>();
    /** Thrown once by the writer's hook after a commit, when set. */
    private volatile RuntimeException failAfterCommit;
    private final ExecutorService callers = Executors.newCachedThreadPool();

    @BeforeEach
    void open() {
        storeDirectory = StoreDirectory.open(directory, XodusOptions.defaults(), "GroupCommitTest");
        store = storeDirectory.environment.computeInExclusiveTransaction(txn -> Layout.open(storeDirectory.environment, "t", txn));
        writer = new GroupCommit<>(storeDirectory, 100, txn -> {
            eventsWritten = 0;
            return txn;
        }, txn -> {
            commits.incrementAndGet();
            eventsPerCommit.add(eventsWritten);
            RuntimeException failure = failAfterCommit;
            if (failure != null) {
                failAfterCommit = null;
                throw failure;
            }
        });
    }

    @AfterEach
    void close() throws InterruptedException {
        callers.shutdownNow();
        assertTrue(callers.awaitTermination(30, TimeUnit.SECONDS));
        writer.close();
        storeDirectory.environment.close();
    }

    /** Submits a write, "gate", that keeps the writer thread busy until {@code release}; returns once it does. */
    private Future<?> holdWriter(CountDownLatch release) throws InterruptedException {
        CountDownLatch writerBusy = new CountDownLatch(1);
        Future<?> gate = callers.submit(() -> writer.submit(new Put("gate", () -> {
            writerBusy.countDown();
            await(release);
        })));
        assertTrue(writerBusy.await(30, TimeUnit.SECONDS));
        return gate;
    }

    @Test
    void writesWaitingTogetherCommitTogetherWithTheirOwnOutcomes() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Future<?> gate = holdWriter(release);
        Put first = new Put("first", () -> { });
        Put refused = new Put("refused", () -> { });
        refused.refuse = true;
        Put broken = new Put("broken", () -> {
            throw new IllegalStateException("disk on fire");
        });
        Put last = new Put("last", () -> { });
        Future<?> firstDone = callers.submit(() -> writer.submit(first));
        Future<?> refusedDone = callers.submit(() -> writer.submit(refused));
        Future<?> brokenDone = callers.submit(() -> writer.submit(broken));
        Future<?> lastDone = callers.submit(() -> writer.submit(last));
        awaitWaiting(4);

        release.countDown();

        gate.get(30, TimeUnit.SECONDS);
        firstDone.get(30, TimeUnit.SECONDS);
        refusedDone.get(30, TimeUnit.SECONDS);
        lastDone.get(30, TimeUnit.SECONDS);
        Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class, () -> brokenDone.get(30, TimeUnit.SECONDS))
                .getCause();
        assertInstanceOf(FluxException.class, failure);
        assertTrue(failure.getMessage().contains("nothing of this write was written"), failure.getMessage());
        assertEquals("disk on fire", failure.getCause().getMessage());
        assertEquals(2, commits.get(), "the gate, then the four waiting writes in one transaction");
        assertTrue(has("gate") && has("first") && has("last"));
        assertFalse(has("refused"), "a refused write writes nothing");
        assertFalse(has("broken"), "a write that failed halfway left nothing behind");
    }

    @Test
    void aWriteWhoseCheckFailsFailsAloneAndTheOthersOfItsBatchCommit() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Future<?> gate = holdWriter(release);
        Put first = new Put("first", () -> { });
        Put unreadable = new Put("unreadable", () -> { });
        unreadable.checkFailure = new IllegalStateException("expected an 8-byte number, found 3 bytes");
        Put last = new Put("last", () -> { });
        Future<?> firstDone = callers.submit(() -> writer.submit(first));
        awaitWaiting(1);
        Future<?> unreadableDone = callers.submit(() -> writer.submit(unreadable));
        awaitWaiting(2);
        Future<?> lastDone = callers.submit(() -> writer.submit(last));
        awaitWaiting(3);

        release.countDown();

        gate.get(30, TimeUnit.SECONDS);
        firstDone.get(30, TimeUnit.SECONDS);
        lastDone.get(30, TimeUnit.SECONDS);
        Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> unreadableDone.get(30, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(FluxException.class, failure);
        assertTrue(failure.getMessage().contains("nothing of this write was written"), failure.getMessage());
        assertEquals("expected an 8-byte number, found 3 bytes", failure.getCause().getMessage());
        assertTrue(has("first") && has("last"), "the writes around it committed");
        assertFalse(has("unreadable"));
    }

    @Test
    void aFailureAfterTheCommitSaysTheWriteIsStoredNotThatNothingWasAndStopsTheWrites() {
        // It said "Nothing of this write was stored (Xodus undid the commit)" of a write that was in the store.
        failAfterCommit = new IllegalStateException("the writer's bookkeeping failed");

        FluxException failed = assertThrows(FluxException.class, () -> writer.submit(new Put("kept", () -> { })));
        FluxException refused = assertThrows(FluxException.class, () -> writer.submit(new Put("after", () -> { })));

        assertTrue(has("kept"), "the commit went through");
        assertFalse(failed.getMessage().contains("Nothing of this write was stored"), failed.getMessage());
        assertTrue(failed.getMessage().contains("committed this write, but then failed (java.lang.IllegalStateException:"
                + " the writer's bookkeeping failed), so it is stored"), failed.getMessage());
        assertTrue(refused.getMessage().contains("takes no more writes") && refused.getMessage().contains("open it again"),
                refused.getMessage());
        assertFalse(has("after"));
    }

    @Test
    void noTransactionHoldsMoreThanMaxBatchEventsAndALargerWriteCommitsAlone() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Future<?> gate = holdWriter(release);
        List<Future<?>> done = new ArrayList<>();
        int[] sizes = {60, 60, 30, 1, 150, 1};
        for (int i = 0; i < sizes.length; i++) {
            Put put = new Put("put-" + i, () -> { });
            put.events = sizes[i];
            done.add(callers.submit(() -> writer.submit(put)));
            awaitWaiting(i + 1); // queued in this order
        }

        release.countDown();

        gate.get(30, TimeUnit.SECONDS);
        for (Future<?> put : done) {
            put.get(30, TimeUnit.SECONDS);
        }
        // With at most 100 events a transaction (the writer's bound here): 60 | 60 + 30 + 1 | 150 alone | 1.
        assertEquals(List.of(1, 60, 91, 150, 1), eventsPerCommit);
    }

    @Test
    void closeFinishesWhatWasSubmittedAndRefusesWhatComesAfter() throws Exception {
        Future<?> submitted = callers.submit(() -> writer.submit(new Put("before", () -> { })));
        submitted.get(30, TimeUnit.SECONDS);

        writer.close();

        assertTrue(has("before"));
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> writer.submit(new Put("after", () -> { })));
        assertTrue(refused.getMessage().contains("closed"), refused.getMessage());
        assertFalse(has("after"));
    }

    private void awaitWaiting(int writes) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (writer.waiting() < writes) {
            if (System.nanoTime() > deadline) {
                fail("the writes did not queue up: " + writer.waiting());
            }
            Thread.onSpinWait();
        }
    }

    private boolean has(String key) {
        return storeDirectory.environment.computeInReadonlyTransaction(txn -> store.get(txn, key(key)) != null);
    }

    private static ByteIterable key(String key) {
        return new ArrayByteIterable(key.getBytes(StandardCharsets.UTF_8));
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(30, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** Puts its key, then runs {@code after} (which may block or throw) inside the transaction. */
    @Test
    void anErrorThatEndsTheWriterThreadFailsTheWritesWaitingAndLaterOnesInsteadOfLeavingThemWaiting() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Future<?> gate = holdWriter(release);
        Put poisoned = new Put("poisoned", () -> { });
        poisoned.sizeFailure = new OutOfMemoryError("simulated: the heap ran out on the writer thread");
        Put behind = new Put("behind", () -> { });
        Future<?> poisonedDone = callers.submit(() -> writer.submit(poisoned));
        awaitWaiting(1);
        Future<?> behindDone = callers.submit(() -> writer.submit(behind));
        awaitWaiting(2);

        release.countDown();

        gate.get(30, TimeUnit.SECONDS);
        for (Future<?> done : List.of(poisonedDone, behindDone)) {
            Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> done.get(30, TimeUnit.SECONDS), "a write the ended writer held or left queued fails").getCause();
            assertInstanceOf(FluxException.class, failure);
            assertTrue(failure.getMessage().contains("thread 'flux-xodus-writer")
                    && failure.getMessage().contains("ended on java.lang.OutOfMemoryError"), failure.getMessage());
            assertTrue(failure.getMessage().contains("open it again"), failure.getMessage());
        }
        FluxException later = assertThrows(FluxException.class, () -> writer.submit(new Put("later", () -> { })));
        assertTrue(later.getMessage().contains("takes no more writes"), later.getMessage());
        assertFalse(has("poisoned") || has("behind") || has("later"));
        assertTrue(has("gate"));
    }

    @Test
    void anErrorThatEndsTheSyncThreadFailsTheBatchItHeldThoseBehindItAndLaterWritesInsteadOfLeavingThemWaiting()
            throws Exception {
        writer.close();
        // With a sync stage, whose thread meets an Error after a sync (the heap ran out as it told the callers).
        writer = new GroupCommit<>(storeDirectory, 100, txn -> txn, txn -> { }, new LogSync(storeDirectory.environment,
                directory), txn -> {
                    if (Thread.currentThread().getName().startsWith("flux-xodus-sync")) {
                        throw new OutOfMemoryError("simulated: the heap ran out on the sync thread");
                    }
                });
        CountDownLatch release = new CountDownLatch(1);
        Future<?> gate = holdWriter(release);
        Future<?> firstDone = callers.submit(() -> writer.submit(new Put("first", () -> { })));
        Future<?> secondDone = callers.submit(() -> writer.submit(new Put("second", () -> { })));
        awaitWaiting(2);

        release.countDown();   // the gate's batch commits with others waiting: the sync thread takes it, and ends

        Throwable gateFailure = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> gate.get(30, TimeUnit.SECONDS), "the batch the sync thread held fails").getCause();
        assertInstanceOf(FluxException.class, gateFailure);
        assertTrue(gateFailure.getMessage().contains("takes no more writes: its thread 'flux-xodus-sync")
                && gateFailure.getMessage().contains("ended on java.lang.OutOfMemoryError")
                && gateFailure.getMessage().contains("open it again"), gateFailure.getMessage());
        for (Future<?> done : List.of(firstDone, secondDone)) {
            Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> done.get(30, TimeUnit.SECONDS), "a write behind it fails, whether it was committed or not").getCause();
            assertInstanceOf(FluxException.class, failure);
            assertTrue(failure.getMessage().contains("takes no more writes"), failure.getMessage());
        }
        FluxException later = assertThrows(FluxException.class, () -> writer.submit(new Put("later", () -> { })));
        assertTrue(later.getMessage().contains("takes no more writes: its thread 'flux-xodus-sync"), later.getMessage());
        assertFalse(has("later"));
    }

    private final class Put implements GroupCommit.Work<Transaction> {
        final String key;
        final Runnable after;
        boolean refuse;
        RuntimeException checkFailure;
        /** Thrown where the writer thread sizes its batch, outside any commit. */
        Error sizeFailure;
        int events = 1;

        Put(String key, Runnable after) {
            this.key = key;
            this.after = after;
        }

        @Override
        public int events() {
            if (sizeFailure != null) {
                throw sizeFailure;
            }
            return events;
        }

        @Override
        public boolean check(Transaction txn) {
            assertNull(store.get(txn, key(key)));
            if (checkFailure != null) {
                throw checkFailure;
            }
            return !refuse;
        }

        @Override
        public void write(Transaction txn) {
            store.put(txn, key(key), key(key));
            eventsWritten += events;
            after.run();
        }
    }
}
