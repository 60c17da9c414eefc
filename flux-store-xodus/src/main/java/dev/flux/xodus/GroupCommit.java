package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Transaction;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The one thread that writes to an {@link Environment}: group commit. Callers {@link #submit} work
 * and wait; the thread takes every piece of work that is waiting (up to {@code maxBatchEvents} events
 * in all, a larger piece alone), runs them in one exclusive transaction, commits once (one
 * {@code fdatasync} with durable writes) and then tells each caller its own outcome. Concurrent writers so share syncs instead of queueing
 * behind one each. Two details keep batches full on a small machine: after a batch of several the
 * thread waits a moment for those callers to come back ({@link #gather}), and it wakes only the first
 * caller of a batch, each caller waking two more, so it can start the next batch at once.
 *
 * <p>Given a {@link LogSync}, the thread commits without a sync (the environment's durable writes are
 * off) and, while others wait, hands the committed batch to a second thread that syncs every batch
 * handed to it so far at once and only then tells their callers, in commit order. The writer so
 * builds the next batch while the disk syncs the last. A batch committed while nothing else waits or
 * syncs is synced on the writer thread itself, saving a lone writer the hand-over. A failed sync fails
 * the writes it covered and every later one (see {@link #submit}); so does a directory found gone
 * after a commit ({@link StoreDirectory#requirePresent}), checked with or without a {@code LogSync}.
 *
 * <p>A commit that fails (the disk full, a file size limit, an I/O error) fails its writes and every
 * later one too. Xodus undoes the failed commit, but after one that failed writing it may not read
 * its own last page again until the environment is reopened (Xodus 2.0.1: "Can't read full page"),
 * and every later check and write would fail on it; so the store stops at the first and says to
 * reopen it, which always finds every write acknowledged before.
 *
 * <p>Each piece of work is first {@linkplain Work#check checked} (reads only) against the
 * transaction and what the work before it in the same batch wrote, and only then
 * {@linkplain Work#write written}: a refused piece writes nothing and leaves the others alone. When a
 * check or a write fails (a damaged entry it read, a write failing halfway), the transaction is dropped,
 * that caller gets the failure, and the rest of the batch runs again in a new transaction. Outcomes are handed out only after the commit, so a check
 * that depended on another piece of the batch never outlives it.
 *
 * <p>The thread is never interrupted: Xodus turns an interrupt during a commit into an environment
 * that refuses every later call. Callers wait without being interruptible (see {@link #submit}).
 *
 * @param <B> the state one transaction's work shares, made by {@code begin} for each transaction
 */
final class GroupCommit<B> {

    /** One caller's write. Its methods run on the writer thread. */
    interface Work<B> {
        /** The events it writes, to bound a batch. */
        int events();

        /**
         * Reads only: whether the work may be written in this batch. When not, the work keeps the reason
         * for its caller, and nothing of it is written. Called again if the batch is run again.
         */
        boolean check(B batch);

        /** Writes the work into the batch's transaction, keeping its result for its caller. */
        void write(B batch);
    }

    /** The longest {@link #gather} waits. */
    static final long MAX_GATHER_NANOS = 100_000;

    private final LinkedBlockingQueue<Request<B>> queue = new LinkedBlockingQueue<>();
    private final Request<B> stop = new Request<>(null);
    private final StoreDirectory directory;
    private final Environment environment;
    private final String owner;
    private final int maxBatchEvents;
    private final Function<Transaction, B> begin;
    private final Consumer<B> committed;
    private final Consumer<B> durable;
    private final Thread thread;
    private volatile boolean closing;
    /** Null when each commit syncs itself (or nothing syncs); otherwise the sync stage. */
    private final LogSync sync;
    private final LinkedBlockingQueue<Committed<B>> committedBatches = new LinkedBlockingQueue<>();
    private final Committed<B> stopSyncing = new Committed<>(List.of(), null, 0);
    private final Thread syncThread;
    /**
     * Set when a sync failed, or the directory went away: what was committed since may not be on disk, so
     * no more writes are taken.
     */
    private volatile Throwable syncFailure;
    /** Set when a commit failed (see the class documentation): no more writes are taken. */
    private volatile Throwable commitFailure;
    /**
     * Set when the writer or sync thread ended on a failure outside a commit (an {@link Error} such as
     * {@link OutOfMemoryError}): nobody is left to complete what is queued, so it is failed, and so is every
     * later write, instead of waiting for good.
     */
    private volatile Throwable threadFailure;
    /** The name of the thread {@link #threadFailure} ended, set before it. */
    private volatile String endedThread;
    /** Writer thread only: a request taken from the queue and not yet in the batch being written, null when none. */
    private Request<B> inHand;
    /** Batches handed to the sync thread and not yet told: while any are, later ones must go the same way. */
    private final AtomicInteger syncing = new AtomicInteger();

    /**
     * Starts the writer thread.
     *
     * @param directory the store's directory and environment, also naming it in thread names and messages
     * @param begin     makes the shared state of a new transaction
     * @param committed told, on the writer thread, when a batch's transaction has committed
     */
    GroupCommit(StoreDirectory directory, int maxBatchEvents, Function<Transaction, B> begin, Consumer<B> committed) {
        this(directory, maxBatchEvents, begin, committed, null, state -> { });
    }

    /**
     * Starts the writer thread and, with {@code sync}, the thread that syncs: the writer then commits
     * without syncing (the environment's durable writes must be off) and goes on to the next batch,
     * while the sync thread forces each committed batch to disk and only then tells its callers.
     *
     * @param sync    forces the environment's commits to disk; null when commits need no sync of ours
     * @param durable told, on the sync thread (or the writer thread without {@code sync}), when a
     *                batch is on disk, in commit order, before its callers return
     */
    GroupCommit(StoreDirectory directory, int maxBatchEvents, Function<Transaction, B> begin, Consumer<B> committed,
                LogSync sync, Consumer<B> durable) {
        this.directory = directory;
        this.environment = directory.environment;
        this.owner = directory.owner;
        this.maxBatchEvents = maxBatchEvents;
        this.begin = begin;
        this.committed = committed;
        this.sync = sync;
        this.durable = durable;
        this.thread = new Thread(this::run, "flux-xodus-writer " + owner);
        thread.setDaemon(true);
        if (sync != null) {
            this.syncThread = new Thread(this::syncCommitted, "flux-xodus-sync " + owner);
            syncThread.setDaemon(true);
            syncThread.start();
        } else {
            this.syncThread = null;
        }
        thread.start();
    }

    /**
     * Hands {@code work} to the writer thread and waits until its batch has committed (or failed).
     * An interrupt does not cut the wait short: the caller still learns its outcome, and its interrupt
     * flag is set again when this returns or throws.
     *
     * @throws IllegalStateException when closed, before or while waiting (nothing was written)
     * @throws FluxException         when the commit failed (see the message for whether it was written)
     */
    void submit(Work<B> work) {
        Request<B> request = new Request<>(work);
        if (closing) {
            throw closed();
        }
        if (threadFailure != null) {
            throw threadFailed(threadFailure);
        }
        queue.add(request);
        // close() sets closing, then queues stop, then fails whatever is left. If we raced it, take our
        // request back; if we cannot, the writer or close() has it and will complete it. The same with a
        // writer that ended on a failure: it fails what it finds queued, this request if it was there.
        if (closing && queue.remove(request)) {
            throw closed();
        }
        if (threadFailure != null && queue.remove(request)) {
            throw threadFailed(threadFailure);
        }
        request.await(owner);
    }

    /**
     * Finishes every write submitted before, fails later ones with {@link IllegalStateException}, and
     * stops the thread. Waits for it uninterruptibly (a commit takes milliseconds).
     */
    void close() {
        closing = true;
        queue.add(stop);
        boolean interrupted = join(thread);
        if (syncThread != null) {
            committedBatches.add(stopSyncing);
            interrupted |= join(syncThread);
            try {
                sync.close();
            } catch (IOException e) {
                // Only our descriptor of a file Xodus goes on to manage; nothing is lost with it.
            }
        }
        for (Request<B> left; (left = queue.poll()) != null; ) {
            if (left != stop) {
                left.complete(closed());
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean join(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        return interrupted;
    }

    /** Writes waiting for the writer thread (for tests). */
    int waiting() {
        return queue.size();
    }

    private IllegalStateException closed() {
        return new IllegalStateException(owner + " is closed; nothing was written");
    }

    /**
     * The writer thread. A failure outside a commit (a commit's own are its callers') ends it: what it held and
     * what is queued fail, and so does every later write.
     */
    private void run() {
        List<Request<B>> batch = new ArrayList<>();
        try {
            writeUntilStopped(batch);
        } catch (Throwable e) {
            if (inHand != null) {
                batch.add(inHand);
            }
            threadEnded(e, batch);
        }
    }

    /** Fails {@code held} and everything queued, and every later write, after the writer thread ended on {@code cause}. */
    private void threadEnded(Throwable cause, List<Request<B>> held) {
        endedThread = Thread.currentThread().getName();
        threadFailure = cause;
        failAll(held, cause);
        for (Request<B> left; (left = queue.poll()) != null; ) {
            if (left != stop) {
                left.completeIfWaiting(threadFailed(cause));
            }
        }
    }

    private void failAll(List<Request<B>> requests, Throwable cause) {
        FluxException failure = threadFailed(cause);
        for (Request<B> request : requests) {
            request.completeIfWaiting(failure);
        }
    }

    private FluxException threadFailed(Throwable cause) {
        return new FluxException(owner + " takes no more writes: its thread '" + endedThread + "' ended on " + cause + "; whether the"
                + " writes it held reached the disk is unknown until the store is opened again. Close the store and open it"
                + " again (every write it acknowledged is kept)", cause);
    }

    private void writeUntilStopped(List<Request<B>> batch) {
        boolean stopping = false;
        int lastBatch = 0;
        long lastCommitNanos = 0;
        while (!stopping) {
            Request<B> next = inHand != null ? inHand : take(queue);
            inHand = next;
            if (lastBatch > 1) {
                gather(lastBatch - 1, Math.min(MAX_GATHER_NANOS, lastCommitNanos / 2));
            }
            long events = 0;
            while (next != null) {
                inHand = next;
                if (next == stop) {
                    inHand = null;
                    stopping = true;
                    break;
                }
                int more = next.work.events();
                if (!batch.isEmpty() && events + more > maxBatchEvents) {
                    break;  // too large for this batch: the first of the next
                }
                batch.add(next);
                inHand = null;
                events += more;
                if (events >= maxBatchEvents) {
                    break;
                }
                next = queue.poll();
            }
            lastBatch = batch.size();
            Throwable failedSync = syncFailure;
            Throwable failedCommit = commitFailure;
            if (failedSync != null) {
                fail(batch, " takes no more writes: " + (failedSync instanceof StoreDirectory.Gone
                        ? failedSync.getMessage() + ", so what it committed since is in files no longer there; nothing"
                                + " of this write was written. Close the store, and put the directory back, or restore it"
                                + " from a backup, before opening it again"
                        : "forcing an earlier commit to disk failed (" + IoFailure.describe(failedSync) + "), so what it"
                                + " committed since may not be on disk; nothing of this write was written. Close the store"
                                + " and open it again"), failedSync);
                batch.clear();
            } else if (failedCommit != null) {
                IoFailure io = IoFailure.in(failedCommit);
                fail(batch, " takes no more writes: an earlier commit failed (" + IoFailure.describe(failedCommit) + ");"
                        + " nothing of this write was written. " + (io != null ? capitalized(io.remedy()) + ", then close"
                        : "Close") + " the store and open it again (every write it acknowledged is kept)", failedCommit);
                batch.clear();
            }
            if (!batch.isEmpty()) {
                long start = System.nanoTime();
                try {
                    commit(batch);
                } catch (Throwable unexpected) {
                    for (Request<B> request : batch) {
                        request.complete(unexpected);
                    }
                }
                lastCommitNanos = System.nanoTime() - start;
                batch.clear();
            }
        }
    }

    /**
     * After a batch of several, gives their callers (just woken, now making their next write) a moment to
     * queue again, so the next batch shares its sync with as many of them: until {@code count} more wait
     * or {@code nanos} (half the last commit, at most {@value #MAX_GATHER_NANOS} ns) pass. A lone writer
     * never waits here.
     */
    private void gather(int count, long nanos) {
        long deadline = System.nanoTime() + nanos;
        while (queue.size() < count && System.nanoTime() - deadline < 0) {
            Thread.yield();
        }
    }

    /** The next element, waiting as long as it takes: the writer and sync threads ignore interrupts. */
    private static <T> T take(LinkedBlockingQueue<T> from) {
        while (true) {
            try {
                return from.take();
            } catch (InterruptedException e) {
                // Nobody should interrupt this thread; if someone did, carry on: stopping is close()'s job.
            }
        }
    }

    /** Runs the batch in one transaction; again without a request whose check or write failed. */
    private void commit(List<Request<B>> batch) {
        List<Request<B>> pending = batch;
        while (!pending.isEmpty()) {
            Transaction txn;
            try {
                txn = environment.beginExclusiveTransaction();
            } catch (RuntimeException e) {
                failCommit(pending, e, false);
                return;
            }
            Request<B> broken = null;
            Throwable brokenBy = null;
            boolean committedHere = false;
            try {
                B state = begin.apply(txn);
                for (Request<B> request : pending) {
                    try {
                        if (request.work.check(state)) {
                            request.work.write(state);
                        }
                    } catch (RuntimeException | Error e) {
                        broken = request;
                        brokenBy = e;
                        break;
                    }
                }
                if (broken == null) {
                    if (!txn.commit()) {
                        continue; // another transaction got in first (it should not: ours is exclusive); run again
                    }
                    committedHere = true;
                    committed.accept(state);
                    List<Request<B>> done = List.copyOf(pending);
                    Committed<B> synced = new Committed<>(done, state, sync == null ? 0 : sync.end());
                    if (sync != null && (syncing.get() > 0 || !queue.isEmpty())) {
                        // Others wait: let the sync thread sync this batch while this thread starts the next.
                        syncing.incrementAndGet();
                        committedBatches.add(synced);
                        if (threadFailure != null) {
                            // The sync thread ended meanwhile: nobody takes this batch but us.
                            for (Committed<B> left; (left = committedBatches.poll()) != null; ) {
                                failAll(left.requests(), threadFailure);
                            }
                        }
                    } else {
                        // Alone, or Xodus synced it: sync here (if need be), and skip the hand-over to the sync thread.
                        forceOrFail(List.of(synced));
                    }
                    return;
                }
            } catch (RuntimeException | Error e) {
                if (committedHere) {
                    failAfterCommit(pending, e);
                } else {
                    failCommit(pending, e, true);
                }
                return;
            } finally {
                if (!txn.isFinished()) {
                    txn.abort();
                }
            }
            broken.complete(new FluxException(owner + " failed to write; nothing of this write was written", brokenBy));
            List<Request<B>> rest = new ArrayList<>(pending);
            rest.remove(broken);
            pending = rest;
        }
    }

    /**
     * The sync thread: takes every batch committed so far, forces the log up to the last one's end (one
     * sync for them all), and then tells their callers, in commit order.
     */
    private void syncCommitted() {
        List<Committed<B>> taken = new ArrayList<>();
        try {
            syncUntilStopped(taken);
        } catch (Throwable e) {
            // Set before taking what is queued: a batch the writer hands over later, it sees this and fails itself.
            endedThread = Thread.currentThread().getName();
            threadFailure = e;
            syncFailure = e;    // what the writer commits from now on would never be synced: it takes no more
            List<Request<B>> held = new ArrayList<>();
            for (Committed<B> batch : taken) {
                held.addAll(batch.requests());
            }
            for (Committed<B> left; (left = committedBatches.poll()) != null; ) {
                held.addAll(left.requests());
            }
            failAll(held, e);   // the writer, still running, fails what it takes next (syncFailure)
        }
    }

    private void syncUntilStopped(List<Committed<B>> taken) {
        boolean stopping = false;
        while (!stopping) {
            taken.add(take(committedBatches));
            committedBatches.drainTo(taken);
            stopping = taken.remove(stopSyncing);
            if (taken.isEmpty()) {
                continue;
            }
            forceOrFail(taken);
            syncing.addAndGet(-taken.size());
            taken.clear();
        }
    }

    /**
     * Forces the log to the end of the last of {@code batches} (without a {@link LogSync}, Xodus did),
     * checks the directory is still there, and tells their callers, in commit order. Runs on the sync
     * thread, or on the writer thread while the sync thread has nothing in hand.
     */
    private void forceOrFail(List<Committed<B>> batches) {
        Throwable failure = syncFailure;
        if (failure == null) {
            try {
                if (sync != null) {
                    sync.force(batches.get(batches.size() - 1).end);
                }
                directory.requirePresent();
            } catch (IOException | RuntimeException | Error e) {
                failure = e;
                syncFailure = e;
            }
        }
        for (Committed<B> batch : batches) {
            if (failure == null) {
                durable.accept(batch.state);
                Request.completeAll(batch.requests);
            } else if (failure instanceof StoreDirectory.Gone) {
                fail(batch.requests, " committed this write, but " + failure.getMessage() + ": the write is in files no"
                        + " longer there (lost with them if they were deleted); the store takes no more writes. Close it,"
                        + " and put the directory back, or restore it from a backup, before opening it again", failure);
            } else {
                fail(batch.requests, " committed this write but could not force it to disk (" + IoFailure.describe(failure)
                        + "), so a machine crash may lose it; the store takes no more writes. Close it and open it again",
                        failure);
            }
        }
    }

    /** A committed batch waiting for its sync: its callers, its state, and where in the log it ended. */
    private record Committed<B>(List<Request<B>> requests, B state, long end) {
    }

    /**
     * Fails a batch whose transaction could not begin or commit, and stops taking writes (see the class
     * documentation). Xodus undoes a commit that fails and stays operative; when it went inoperative
     * instead, whether the batch reached the disk is known only once the store is opened again.
     *
     * @param begun whether the transaction began, so that its commit may have written
     */
    private void failCommit(List<Request<B>> requests, Throwable cause, boolean begun) {
        commitFailure = cause;
        directory.commitFailed(cause);
        IoFailure io = IoFailure.in(cause);
        String stop = " The store takes no more writes: " + (io != null ? io.remedy() + ", then close" : "close")
                + " it and open it again; every write it acknowledged before is kept";
        if (!begun || operative()) {
            fail(requests, " could not " + (begun ? "commit" : "begin a transaction for") + " this write: "
                    + IoFailure.describe(cause) + ". Nothing of this write was stored" + (begun ? " (Xodus undid the commit)."
                    : ".") + stop, cause);
        } else {
            fail(requests, " could not commit a group of " + requests.size() + " writes: " + IoFailure.describe(cause)
                    + ". Whether this one reached the disk is unknown until the store is opened again, whole or not at"
                    + " all." + stop, cause);
        }
    }

    /**
     * Fails a batch whose transaction committed but whose bookkeeping after the commit failed, and stops taking
     * writes: the batch is in the log, so its callers must not hear that nothing was stored, and what the store
     * keeps of its last commit (its last position, say) may be behind it.
     */
    private void failAfterCommit(List<Request<B>> requests, Throwable cause) {
        commitFailure = cause;
        fail(requests, " committed this write, but then failed (" + IoFailure.describe(cause) + "), so it is stored but"
                + " may not be on disk; whether it is there is known once the store is opened again. The store takes no"
                + " more writes: close it and open it again", cause);
    }

    /** Whether Xodus still takes transactions: it goes inoperative when it could not undo a failed commit. */
    private boolean operative() {
        try {
            environment.beginReadonlyTransaction().abort();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static String capitalized(String text) {
        return Character.toUpperCase(text.charAt(0)) + text.substring(1);
    }

    /** Completes each of {@code requests} with a {@link FluxException}: the owner, then {@code why}. */
    private void fail(List<Request<B>> requests, String why, Throwable cause) {
        for (Request<B> request : requests) {
            request.complete(new FluxException(owner + why, cause));
        }
    }

    /** A submitted write and its caller, who parks until {@link #complete} hands over the outcome. */
    private static final class Request<B> {
        final Work<B> work;
        final Thread caller = Thread.currentThread();
        private Throwable failure;
        private List<Request<B>> group;
        private int index;
        private volatile boolean done;

        Request(Work<B> work) {
            this.work = work;
        }

        /** Fails the request unless its outcome was already published. */
        void completeIfWaiting(Throwable failure) {
            if (!done) {
                complete(failure);
            }
        }

        /** Publishes the outcome: {@code failure}, or null when the batch committed; wakes the caller. */
        void complete(Throwable failure) {
            this.failure = failure;
            done = true;
            LockSupport.unpark(caller);
        }

        /**
         * Publishes success to a whole committed batch but wakes only its first caller: each woken caller
         * wakes two more (a binary tree), so the writer thread is free for the next batch after one
         * unpark instead of one per caller.
         */
        static <B> void completeAll(List<Request<B>> batch) {
            List<Request<B>> group = List.copyOf(batch);
            for (int i = 0; i < group.size(); i++) {
                Request<B> request = group.get(i);
                request.group = group;
                request.index = i;
                request.done = true;
            }
            LockSupport.unpark(group.get(0).caller);
        }

        void await(String owner) {
            boolean interrupted = false;
            while (!done) {
                LockSupport.park(this);
                if (Thread.interrupted()) {
                    interrupted = true;
                }
            }
            if (group != null) {
                for (int next = 2 * index + 1; next <= 2 * index + 2 && next < group.size(); next++) {
                    LockSupport.unpark(group.get(next).caller);
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (failure instanceof IllegalStateException closed) {
                throw new IllegalStateException(closed.getMessage(), closed);
            }
            if (failure instanceof FluxException flux) {
                throw new FluxException(flux.getMessage(), flux.getCause());
            }
            if (failure != null) {
                throw new FluxException(owner + " failed unexpectedly; whether this write reached the disk is unknown"
                        + " until the store is read again", failure);
            }
        }
    }
}
