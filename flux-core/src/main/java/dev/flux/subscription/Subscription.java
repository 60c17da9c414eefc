package dev.flux.subscription;

import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Reads an {@link EventSource} in order and hands each event to its handlers: the one engine behind
 * read models, process managers and cross-process consumers.
 *
 * <pre>{@code
 * Subscription balances = Subscription.builder(EventSource.category(store, "Account"))
 *         .name("balances", offsets)                       // durable: resumes after the stored offset
 *         .onRecorded(AccountCredited.class, (e, recorded) -> readModel.credit(recorded.streamId(), e.amount()))
 *         .onRecorded(AccountDebited.class, (e, recorded) -> readModel.debit(recorded.streamId(), e.amount()))
 *         .build();
 * balances.start();
 * ...
 * balances.stop();                                          // waits for the event in hand, saves the offset
 * }</pre>
 *
 * <p><b>Delivery.</b> At-least-once, serially, in the source's order. A durable subscription stores
 * its offset every {@link Builder#checkpointEvery N events}, every
 * {@link Builder#checkpointInterval interval}, when it has caught up, before it waits (paused, or
 * retrying a source or a handler that failed), and on stop; after a crash the
 * events since the last stored offset come again, never fewer. Handlers should therefore be
 * idempotent (or store their own position with their data).
 *
 * <p><b>Handlers.</b> {@code on(type, event -> ...)} and {@code onRecorded(type, (event, recorded) -> ...)}
 * get events decoded through the serializer's {@link EventTypes}
 * (their classes are registered for you); a {@link RecordedHandler} gets every event undecoded.
 * Events whose type has no typed handler are not decoded, and every event, handled or not, moves
 * the offset: a subscription never sticks on a type it does not know. The exception: an event stored
 * at a version an upcaster reads (or below one, so that a gap in the upcasters fails rather than passes
 * it) is decoded when there are typed handlers, since it may become a handled type (a rename), so the
 * class it becomes must be registered.
 *
 * <p><b>Errors.</b> A handler that throws (or an event that cannot be decoded) is retried on the same
 * event after the error delay, doubling up to its maximum, up to {@link Builder#maxRetries} times;
 * then the {@link FailureHandler} decides: stop in state {@link State#FAILED} (the default, see
 * {@link #failure()}) or skip. A source that fails to read (store or server away) is retried with the
 * same back-off for as long as it takes; {@link #lastError()} tells what is going on. One that fails
 * with a {@link RetryAfterException} (a feed that answered {@code 503} with a {@code Retry-After}) is
 * read again at the time it gives instead, or after the first error delay when that is later, and its
 * back-off does not grow: the subscription stores its offset, keeps renewing its name's claim while
 * it waits, logs one warning per time given (without a stack trace), and a stop ends the wait at
 * once. One that refuses
 * to tell of appends ({@link EventSource#onAppend} throws an {@link IllegalStateException}, as it does on
 * a store that is closed, which can have no more events), when the subscription starts or after a read
 * failed, stops it in {@link State#FAILED} at once, its offset stored. An
 * {@link Error} a handler throws (an assertion, a class that failed to load, a stack overflow) is not
 * retried: the subscription stops in {@link State#FAILED} at once, that event not handled, so a
 * restart meets it again.
 *
 * <p><b>A source that went back.</b> Before it reads on from its position, a subscription checks that
 * its source still holds what it read up to there: when it starts (its stored offset), after a read
 * failed (a feed's service may be back with another log), and while caught up, at most once a second.
 * Once it has read an event since it started, it reads that one event again and compares ids. Another
 * event there means the source went back and was written again: it stops in {@link State#FAILED} at
 * once. No event there means it went back, or lags behind what it showed before (a Mongo secondary, a
 * failover): it reads nothing while it waits ({@link #lastError()} says so), reads on if the event
 * comes back within ten poll intervals, and stops in {@link State#FAILED} if not. Before it has read
 * an event (a stored offset, or {@link Builder#startAtEnd}), it asks for the source's
 * {@link EventSource#end end} instead, and an end below its position stops it at once: an end cannot
 * tell a lag from a new log, which could pass the position while it waited. Reading on would silently skip
 * the source's events up to the position: a memory store or the service behind a feed started again,
 * a store restored from an older copy, a feed URL now pointing at another service. {@link #failure()}
 * says what it found; start it again with {@link Builder#reset()} (on an offset store processes share,
 * {@link Builder#reset(String)}) once the source is the right one.
 * The check is one read of one event (over HTTP, one more request) per check.
 *
 * <p><b>Threads.</b> Each subscription runs on a daemon thread of its own, or on an
 * {@link Builder#executor executor} the caller passes. The subscription never interrupts that thread
 * (interrupts break embedded stores, see the Xodus store); an interrupt from outside, e.g. an
 * executor's {@code shutdownNow}, is taken as {@link #stop()}, also when it ends a handler blocked in a
 * sleep or I/O with an exception (an {@link InterruptedException}, also as the cause of the unchecked
 * one a {@code Consumer} handler must wrap it in): that event is not retried,
 * and a restart delivers it again; a stop before the executor ran the
 * subscription (a task {@code shutdownNow} dropped never runs) stops it at once, leaving its stored
 * offset as it was. When caught up it sleeps until the
 * source signals an append (in-process stores do) or the poll interval passes; it never busy-waits.
 *
 * <p><b>Names.</b> While a durable subscription runs, its name is taken on its offset store in this
 * process: starting another under the same name on the same store throws, since the two would
 * overwrite each other's offset and each skip or repeat events. The name is free again once the
 * subscription has stopped. Across processes, an offset store they share (a {@code MongoOffsetStore})
 * keeps a claim per name ({@link OffsetStore#claim}): a subscription handles events only while it
 * holds its name's claim, renewing it every third of its {@linkplain Builder#claimLease lease} between
 * events (so one event's handling must take under two thirds of it). Run the same subscription in
 * every replica of a service: one handles events, the others are in
 * {@link State#STANDBY}, and one of them takes over from the stored offset when the first stops
 * (it releases the claim) or dies (its lease runs out). One that finds its claim taken (it was paused
 * past its lease) stops handling at once, stores nothing, and stands by; its offsets are stored only
 * under its claim ({@link OffsetStore#saveClaimed}), so a save that lands after another took over
 * stores nothing. One whose claim ran out while another process took it, stored an offset and gave it up
 * (stopped, or died and let it run out) finds that offset when it renews the claim, and reads on from there
 * instead of storing its own, older position over it. For work shared between processes rather than failover, see {@link Builder#group}.
 */
public final class Subscription implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Subscription.class.getName());
    /** The names the running durable subscriptions of this process hold, per offset store (by identity). */
    private static final Map<OffsetStore, Set<String>> RUNNING_NAMES = new IdentityHashMap<>();

    /**
     * Where a subscription is in its life. {@code STANDBY}: durable, started, and not holding its name's
     * claim on a shared offset store (see {@link OffsetStore#claim}), so handling no events: a
     * subscription of that name in another process holds it, or the store cannot be reached to take or
     * renew it ({@link #lastError()} says why). It takes over once it holds the claim. A durable
     * subscription on a store that keeps claims is {@code STANDBY} from {@link #start()} until it first
     * holds one.
     */
    public enum State { NEW, RUNNING, PAUSED, STANDBY, STOPPED, FAILED }

    /** How often at most a caught-up subscription checks that its source still holds its position (see {@link #checkSource}). */
    private static final long SOURCE_CHECK_NANOS = 1_000_000_000L;
    /** Poll intervals a source may go without holding the subscription's position before it stops (a lag, not a loss). */
    private static final int SOURCE_GRACE_POLLS = 10;
    /** Longer durations count as this many nanoseconds: they are waits that never end in practice (see {@link #nanos}). */
    private static final long FOREVER_NANOS = Long.MAX_VALUE / 4;
    private static final Duration FOREVER = Duration.ofNanos(FOREVER_NANOS);
    /** The {@link Builder#claimLease} of a source whose reads are short (a third of it or less). */
    private static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
    /** The longest {@link Builder#claimLease}. */
    private static final Duration MAX_LEASE = Duration.ofDays(1);

    /** Appended to a subscription's name for where {@link Builder#reset(String)} records its id (see {@link #resetName}). */
    static final String RESET_SUFFIX = "#reset";

    /** What {@link #checkSource} found at the subscription's position. */
    private enum AtPosition { HELD, REPLACED, MISSING }

    private final EventSource source;
    private final String name;
    private final OffsetStore offsets;
    private final boolean startAtEnd;
    private final boolean reset;
    private final int batchSize;
    private final long pollNanos;
    /** How long the source may go without holding the position before the subscription stops: {@value #SOURCE_GRACE_POLLS} polls. */
    private final long sourceGraceNanos;
    private final long errorDelayNanos;
    private final long maxErrorDelayNanos;
    private final int maxRetries;
    private final FailureHandler failureHandler;
    private final int checkpointEvery;
    private final long checkpointNanos;
    private final int groupMember;
    private final int groupSize;
    private final Executor executor;
    private final EventSerializer serializer;
    private final Map<String, EventHandler<Object>> typedHandlers;
    private final Map<Class<?>, EventHandler<Object>> handlersByClass;
    private final RecordedHandler recordedHandler;
    /** Who this subscription claims its name as (see {@link OffsetStore#claim}); null when not durable. */
    private final String owner;
    private final Duration lease;
    private final long leaseNanos;
    /** Whether the offset store keeps claims between processes: then only a claim makes it RUNNING. */
    private final boolean sharedClaims;

    private final Object lifecycle = new Object();
    private final CountDownLatch finished = new CountDownLatch(1);
    /** Taken by the first of run() and a stop() before it: a subscription stopped before it ran never runs. */
    private final AtomicBoolean claimed = new AtomicBoolean();
    /** The thread in {@link #start()}'s {@code executor.execute}, which must not run the subscription itself. */
    private volatile Thread starter;
    private volatile boolean ranByStarter;
    /** Counts wake-ups, so the reading loop can tell one came while it was busy (see {@link #run}). */
    private final AtomicLong wakeUps = new AtomicLong();
    /** The id of the event at {@link #position}, once this run has read one; null before. Worker thread only. */
    private UUID positionEventId;
    /** What {@link #checkSource} last found: the source's end (before an event was read) and the event at the position. */
    private long sourceEnd = -1;
    private RecordedEvent replacedAt;
    /** Whether this subscription holds its name in {@link #RUNNING_NAMES}; guarded by that map. */
    private boolean holdsName;
    private volatile State state = State.NEW;
    private volatile boolean stopRequested;
    private volatile boolean pauseRequested;
    private volatile Thread worker;
    private volatile long position;
    private volatile long storedPosition = -1;
    private volatile SubscriptionException failure;
    private volatile Exception lastError;
    private final Object progress = new Object();
    /** The cursors awaitPosition callers wait for (guarded by progress); the lowest is mirrored in wakeAt. */
    private final PriorityQueue<Long> awaited = new PriorityQueue<>();
    private volatile long wakeAt = Long.MAX_VALUE;
    // The name's claim, on the subscription's thread: whether it is held, when it was last made, when to renew it.
    private boolean holdsClaim;
    private long claimedAt;
    private long renewAt;
    /** The time of the last {@link RetryAfterException} logged, so that it is logged once. Worker thread only. */
    private Instant loggedRetryAt;
    /** Whether {@link Builder#reset} was done: once, not again each time the claim is taken back. */
    private boolean resetDone;
    /** What {@link Builder#reset(String)} records under {@link #resetName}: its id's digest; 0 for {@link Builder#reset()}. */
    private final long resetMark;

    private Subscription(Builder builder) {
        this.source = builder.source;
        this.name = builder.name;
        this.offsets = builder.offsets;
        this.startAtEnd = builder.startAtEnd;
        this.reset = builder.reset;
        this.resetMark = builder.resetId == null ? 0 : resetMark(builder.resetId);
        this.batchSize = builder.batchSize;
        this.pollNanos = nanos(builder.pollInterval);
        this.sourceGraceNanos = Math.min(pollNanos, FOREVER_NANOS / SOURCE_GRACE_POLLS) * SOURCE_GRACE_POLLS;
        this.errorDelayNanos = nanos(builder.errorDelay);
        this.maxErrorDelayNanos = nanos(builder.maxErrorDelay);
        this.maxRetries = builder.maxRetries;
        this.failureHandler = builder.failureHandler;
        this.checkpointEvery = builder.checkpointEvery;
        this.checkpointNanos = nanos(builder.checkpointInterval);
        this.groupMember = builder.groupMember;
        this.groupSize = builder.groupSize;
        this.executor = builder.executor;
        this.recordedHandler = builder.recordedHandler;
        this.owner = builder.offsets == null ? null : ProcessHandle.current().pid() + "@" + host() + "/"
                + UUID.randomUUID().toString().substring(0, 8);
        this.lease = builder.lease();
        this.leaseNanos = nanos(lease);
        this.sharedClaims = builder.offsets != null && Builder.keepsClaims(builder.offsets);
        EventSerializer chosen = builder.serializer != null ? builder.serializer
                : new JacksonEventSerializer(new EventTypes());
        EventTypes types = chosen.eventTypes();
        Map<String, EventHandler<Object>> byType = new HashMap<>();
        for (Map.Entry<Class<?>, EventHandler<Object>> entry : builder.handlers.entrySet()) {
            byType.put(types.nameOrRegister(entry.getKey()), entry.getValue());
        }
        this.serializer = chosen;
        this.typedHandlers = Map.copyOf(byType);
        this.handlersByClass = Map.copyOf(builder.handlers);
    }

    /** Starts configuring a subscription to {@code source}. */
    public static Builder builder(EventSource source) {
        return new Builder(source);
    }

    /**
     * Starts reading: restores the stored offset (or applies reset and backfill) on the subscription's
     * thread and hands events to the handlers from there.
     *
     * @return this
     * @throws IllegalStateException when it was started before, or another subscription of this process
     *                               runs under its durable name on the same offset store (this one is
     *                               then left unstarted, and can be started once that one stopped)
     * @throws FluxException         when its {@link Builder#executor executor} refused it, or ran it on the
     *                               thread calling this (a direct executor, a full pool's caller-runs
     *                               policy), which would have held this call until the subscription stopped;
     *                               it is then {@code STOPPED}, its name free, and it cannot be started again
     */
    public Subscription start() {
        synchronized (lifecycle) {
            if (state != State.NEW) {
                throw new IllegalStateException("subscription " + describe() + " was already started (state " + state + ")");
            }
            takeName();
            state = sharedClaims ? State.STANDBY : pauseRequested ? State.PAUSED : State.RUNNING;
        }
        if (executor == null) {
            Thread thread = new Thread(this::run, "flux-subscription-" + (name != null ? name : source));
            thread.setDaemon(true);
            thread.start();
        } else {
            starter = Thread.currentThread();
            try {
                executor.execute(this::run);
            } catch (RuntimeException rejected) {
                throw refused("the executor refused subscription " + describe() + ": " + rejected, rejected);
            } finally {
                starter = null;
            }
            if (ranByStarter) {
                throw refused("the executor ran subscription " + describe() + " on the thread that started it (a"
                        + " direct executor, or a full pool's caller-runs policy), where it would have held start()"
                        + " until the subscription stopped; it did not run. Give it an executor that runs it on a"
                        + " thread of its own", null);
            }
        }
        return this;
    }

    /** Undoes a {@link #start()} whose executor did not run the subscription: stopped, its name free. */
    private FluxException refused(String why, RuntimeException cause) {
        claimed.set(true);      // it never runs now
        releaseName();          // first: a caller that sees STOPPED may start another under the name at once
        synchronized (lifecycle) {
            state = State.STOPPED;
        }
        finished.countDown();
        return new FluxException(why, cause);
    }

    /**
     * Finishes the event in hand, then waits until {@link #resume()}. {@link #state()} says
     * {@code PAUSED} at once, while that event's handler may still be running (a subscription in
     * {@code STANDBY} says so until it holds its name's claim, then {@code PAUSED}); a paused subscription
     * keeps its claim. Calling it again does nothing.
     */
    public void pause() {
        synchronized (lifecycle) {
            pauseRequested = true;
            if (state == State.RUNNING) {
                state = State.PAUSED;
            }
        }
    }

    /** Goes on reading after {@link #pause()}. Calling it when not paused does nothing. */
    public void resume() {
        synchronized (lifecycle) {
            pauseRequested = false;
            if (state == State.PAUSED) {
                state = State.RUNNING;
            }
        }
        wake();
    }

    /**
     * Stops: waits for the event in hand to be handled, stores the offset (durable subscriptions) and
     * returns. Called from a handler, it returns at once and the subscription stops after that
     * handler. A handler that throws once this was called (its read model shut down first, say) is
     * neither retried nor given to the {@link FailureHandler}: the subscription stops (not
     * {@code FAILED}), that event not passed, so a restart delivers it again. Calling it again, or on a
     * subscription never started, does nothing.
     */
    public void stop() {
        stop(Duration.ofDays(365));
    }

    /**
     * {@link #stop()}, for try-with-resources and owners that close what they hold: waits for the event
     * in hand to be handled, stores the offset (durable subscriptions) and returns. Calling it again
     * does nothing.
     */
    @Override
    public void close() {
        stop();
    }

    /**
     * As {@link #stop()}, waiting at most {@code timeout}. An interrupt ends the wait early, as
     * interrupts do: this returns with the interrupt flag set, the subscription still stopping on its
     * own thread (its offset perhaps not yet stored); another {@code stop} waits for the end.
     *
     * @return whether the subscription had stopped when this returned
     * @throws IllegalArgumentException when the timeout is null, zero or negative
     */
    public boolean stop(Duration timeout) {
        requirePositive(timeout, "timeout");
        synchronized (lifecycle) {
            if (state == State.NEW) {
                return true;        // never started: nothing to stop, and it may still be started
            }
            if (finished.getCount() == 0) {
                return true;        // stopped already: telling the source to stop waiting would cut short others' reads
            }
            stopRequested = true;
            if (claimed.compareAndSet(false, true)) {
                // Started, but its thread or task has not run yet (and now never will).
                releaseName();
                state = State.STOPPED;
                finished.countDown();
                signalProgress();
                return true;
            }
        }
        wake();
        if (Thread.currentThread() == worker) {
            return false;
        }
        // Tell the source again every 100 ms: a read that began just after the first call (its long poll
        // not yet in flight) would miss it and wait its whole poll out.
        long deadline = System.nanoTime() + nanos(timeout);
        try {
            while (true) {
                try {
                    source.stopWaiting();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + ": the source did not stop"
                            + " waiting: " + e, e);
                }
                long left = deadline - System.nanoTime();
                if (finished.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)), TimeUnit.NANOSECONDS)) {
                    return true;
                }
                if (left <= TimeUnit.MILLISECONDS.toNanos(100)) {
                    return false;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return finished.getCount() == 0;
        }
    }

    /**
     * Waits until the subscription has handled (or passed) every event up to cursor {@code cursor}, e.g.
     * to let a read model catch up with a save before answering a query. A subscription in
     * {@link State#STANDBY} handles nothing (another process does): this waits for it to take over and
     * get there, or for the timeout. Called from a handler (or anything else on the subscription's
     * thread), it answers at once: the subscription cannot move on while its own handler waits.
     *
     * <p>The cursor is the source's: on a category source it moves only to the global positions of that
     * category's events, so wait for one of those ({@link dev.flux.Repository#positionOf} gives an aggregate's
     * last saved one), not {@code EventReader.lastPosition()}, which may be
     * another category's and is then never reached; on a stream source it is the version after the last
     * event handled (version + 1).
     *
     * @return whether it got there within {@code timeout}; false also when it stopped first, and at once
     *         on the subscription's thread when it is not there yet
     * @throws IllegalArgumentException when the cursor is negative or the timeout is null, zero or negative
     */
    public boolean awaitPosition(long cursor, Duration timeout) throws InterruptedException {
        if (cursor < 0) {
            throw new IllegalArgumentException("cursor must be >= 0 (0 is before the first event), was " + cursor);
        }
        requirePositive(timeout, "timeout");
        if (Thread.currentThread() == worker) {
            // A handler waiting for its own subscription would hold it, and any stop(), for the whole timeout.
            return position >= cursor;
        }
        long deadline = System.nanoTime() + nanos(timeout);
        synchronized (progress) {
            awaited.add(cursor);
            wakeAt = awaited.peek();
            try {
                while (position < cursor) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || finished.getCount() == 0) {
                        return position >= cursor;
                    }
                    TimeUnit.NANOSECONDS.timedWait(progress, Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                }
                return true;
            } finally {
                awaited.remove(cursor);
                Long next = awaited.peek();
                wakeAt = next == null ? Long.MAX_VALUE : next;
            }
        }
    }

    /** The cursor of the last event handled (or passed): the offset a durable subscription stores. */
    public long position() {
        return position;
    }

    /** Where the subscription is in its life. */
    public State state() {
        return state;
    }

    /** Why it stopped in {@link State#FAILED}, or null. */
    public SubscriptionException failure() {
        return failure;
    }

    /** The last error it met and retried (a handler's or the source's), or null; for health checks. */
    public Exception lastError() {
        return lastError;
    }

    /** The durable name, or null for a subscription that does not store its offset. */
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "Subscription[" + describe() + ", " + state + ", position " + position + "]";
    }

    private String describe() {
        return (name != null ? "'" + name + "' on " : "on ") + source;
    }

    // ---- the reading loop, on the subscription's thread ----

    private void run() {
        if (Thread.currentThread() == starter) {
            ranByStarter = true;    // start() refuses it: run here, the whole subscription would be inside start()
            return;
        }
        if (!claimed.compareAndSet(false, true)) {
            return;     // stopped before it ran
        }
        worker = Thread.currentThread();
        Runnable stopListening = () -> { };
        boolean listening = false;
        boolean restored = false;
        try {
            Runnable remover = source.onAppend(this::wake);
            listening = true;
            if (remover == null) {
                failure = new SubscriptionException("subscription " + describe() + " could not start: its source's"
                        + " onAppend returned null instead of what to run to stop telling it of appends (a source"
                        + " with nothing to stop returns () -> { }); fix the source", null);
                LOG.log(System.Logger.Level.ERROR, failure.getMessage());
                return;
            }
            stopListening = remover;
            // Once per time it holds its name's claim: a subscription that loses it stands by and starts over.
            while (claimName()) {
                if (restorePosition()) {
                    restored = true;
                    readWhileClaimed();
                }
                if (offsets == null || holdsClaim) {
                    break;      // stopped
                }
                restored = false;
            }
        } catch (RuntimeException | Error e) {
            // A source that refuses to tell of appends (a store closed before the start) is one that has no more events.
            failure = new SubscriptionException("subscription " + describe() + (listening
                    ? " died at position " + position
                    : " could not start: its source refused to tell it of appends (a closed store does; start it on an open one)")
                    + ": " + e, e);
            LOG.log(System.Logger.Level.ERROR, failure.getMessage(), e);
        } finally {
            boolean interrupted = Thread.interrupted();
            try {
                try {
                    stopListening.run();
                } catch (RuntimeException e) {
                    // Its offset and claim matter more than a listener the source may go on calling.
                    LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + ": its source failed to"
                            + " stop telling it of appends: " + e, e);
                }
                if (restored) {     // else the position is not where the subscription was: keep the stored offset
                    checkpoint();
                }
                releaseClaim();
            } finally {
                releaseName();      // first: a caller that sees STOPPED or FAILED may restart under the name at once
                synchronized (lifecycle) {
                    state = failure != null ? State.FAILED : State.STOPPED;
                }
                finished.countDown();
                signalProgress();
                worker = null;
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Reads and handles events until stopped or the name's claim is lost. */
    private void readWhileClaimed() {
        long lastCheckpoint = System.nanoTime();
        long lastSourceCheck = lastCheckpoint;
        long missingSince = 0;
        boolean missing = false;
        int sinceCheckpoint = 0;
        int sourceFailures = 0;
        // First of all: a stored offset beyond a source that went back.
        boolean sourceToCheck = position > 0;
        while (!shouldStop() && keepClaim()) {
            if (pauseRequested) {
                if (storeBeforeWaiting()) {
                    LockSupport.parkNanos(this, untilRenewal(pollNanos));
                }
                continue;
            }
            List<RecordedEvent> batch;
            long wakeUpsBefore = wakeUps.get();
            try {
                if (sourceToCheck && position > 0) {
                    lastSourceCheck = System.nanoTime();
                    AtPosition found = checkSource();
                    // Only a check by id may wait: an end below the position cannot tell a lag from a new log,
                    // which would pass the position meanwhile and have its events up to there skipped.
                    if (found == AtPosition.MISSING && shouldStop()) {
                        continue;   // the stop cut the check's read short (a feed's request cancelled)
                    }
                    if (found == AtPosition.MISSING && positionEventId != null) {
                        if (!missing) {
                            missing = true;
                            missingSince = lastSourceCheck;
                        }
                        if (System.nanoTime() - missingSince < sourceGraceNanos) {
                            lastError = new FluxException("subscription " + describe() + " waits for its source to hold"
                                    + " its position " + position + " again (the event it handled there, id " + positionEventId
                                    + ", is not in the source) before it reads on");
                            LockSupport.parkNanos(this, untilRenewal(pollNanos));
                            continue;
                        }
                    }
                    if (found != AtPosition.HELD) {
                        stopWentBack(found == AtPosition.REPLACED ? replacedAt : null);
                        return;
                    }
                    missing = false;
                    sourceToCheck = false;
                    // Back through keepClaim before reading on: the check's read may have long-polled (a source
                    // that came back behind waits there until the event at the position is back), and the read
                    // after it may too; two waits in a row would leave the claim to run out.
                    continue;
                }
                batch = read(position, batchSize);
                if (batch.isEmpty() && position > 0 && System.nanoTime() - lastSourceCheck >= SOURCE_CHECK_NANOS) {
                    sourceToCheck = true;
                }
                sourceFailures = 0;
            } catch (RuntimeException e) {
                if (shouldStop()) {
                    continue;   // the stop cut the read short (a feed's request cancelled): not a failure
                }
                if (sourceClosed()) {
                    stopSourceClosed(e);
                    return;
                }
                // A source that failed may come back as another log, below the position (a feed's service started
                // again): check before reading it, or a first read there, a long poll held until the new log
                // passes the position, would skip its events up to there.
                sourceToCheck = true;
                lastError = e;
                long wait;
                if (e instanceof RetryAfterException held) {
                    wait = untilRetry(held, "read after " + position);
                } else {
                    int attempt = ++sourceFailures;
                    // The trace once a streak: a store or server away for minutes fails every retry the same way.
                    LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot read after "
                            + position + " (attempt " + attempt + "), retrying: " + e, attempt == 1 ? e : null);
                    wait = backoff(sourceFailures);
                }
                if (storeBeforeWaiting()) {
                    sleep(wait);
                }
                continue;
            }
            if (batch.isEmpty()) {
                if (offsets != null && position != storedPosition) {   // also retries a checkpoint that failed
                    checkpoint();
                    sinceCheckpoint = 0;
                    lastCheckpoint = System.nanoTime();
                }
                // Sleep unless woken since the read: the checkpoint may have parked (a durable offset
                // store waits for its sync) and so used up the permit an append's wake-up left. A claim
                // is renewed before a third of its lease has passed.
                if (!source.waitsForEvents() && wakeUps.get() == wakeUpsBefore) {
                    LockSupport.parkNanos(this, untilRenewal(pollNanos));
                }
                continue;
            }
            long[] cursors = cursorsInOrder(batch);
            if (cursors == null) {
                return;     // stopped: the source answered out of order
            }
            for (int i = 0; i < cursors.length; i++) {
                RecordedEvent event = batch.get(i);
                if (shouldStop() || pauseRequested || !keepClaim()) {
                    break;
                }
                if (!deliver(event)) {
                    break;
                }
                advance(cursors[i]);
                positionEventId = event.eventId();
                if (++sinceCheckpoint >= checkpointEvery || System.nanoTime() - lastCheckpoint >= checkpointNanos) {
                    checkpoint();
                    sinceCheckpoint = 0;
                    lastCheckpoint = System.nanoTime();
                }
            }
            if (offsets != null && !holdsClaim) {
                return;
            }
            if (sinceCheckpoint > 0 && System.nanoTime() - lastCheckpoint >= checkpointNanos) {
                checkpoint();
                sinceCheckpoint = 0;
                lastCheckpoint = System.nanoTime();
            }
        }
    }

    /**
     * Takes the name's claim on the offset store (see {@link OffsetStore#claim}), standing by while
     * another process holds it; at once for a subscription that is not durable.
     *
     * @return false when stopped first
     */
    private boolean claimName() {
        if (offsets == null) {
            return true;
        }
        boolean standingBy = false;
        int failures = 0;
        while (!shouldStop()) {
            long now = System.nanoTime();
            try {
                if (offsets.claim(name, owner, lease)) {
                    claimed(now);
                    storedPosition = -1;    // unknown until restorePosition reads it under this claim
                    synchronized (lifecycle) {
                        if (state == State.STANDBY) {
                            state = pauseRequested ? State.PAUSED : State.RUNNING;
                        }
                    }
                    if (standingBy) {
                        LOG.log(System.Logger.Level.INFO, () -> "subscription " + describe() + " took its name's claim"
                                + " as " + owner + " and runs");
                    }
                    return true;
                }
                failures = 0;
                if (!standingBy) {
                    standingBy = true;
                    standBy();
                    LOG.log(System.Logger.Level.INFO, () -> "subscription " + describe() + " stands by: another process"
                            + " holds its name's claim on " + offsets + "; it takes over when that claim ends");
                }
                sleep(Math.min(pollNanos, leaseNanos / 3));
            } catch (RuntimeException e) {
                failures++;
                lastError = e;
                LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot claim its name, retrying: "
                        + e, e);
                sleep(backoff(failures));
            }
        }
        return false;
    }

    private void claimed(long at) {
        holdsClaim = true;
        claimedAt = at;
        renewAt = at + leaseNanos / 3;
    }

    /** Says STANDBY for a subscription that no longer holds its name's claim, unless it stopped. */
    private void standBy() {
        synchronized (lifecycle) {
            if (state == State.RUNNING || state == State.PAUSED) {
                state = State.STANDBY;
            }
        }
    }

    /** {@code nanos}, or less: until the claim held is due for renewal. */
    private long untilRenewal(long nanos) {
        return holdsClaim ? Math.min(nanos, Math.max(0, renewAt - System.nanoTime())) : nanos;
    }

    /**
     * Renews the name's claim once a third of its lease has passed; false when it is lost: another
     * process holds it now, or it could not be renewed for two thirds of the lease, so may have run out.
     * A lost claim stops the handling of events at once, without storing the offset, and the
     * subscription stands by.
     */
    private boolean keepClaim() {
        if (offsets == null) {
            return true;
        }
        if (!holdsClaim) {
            return false;
        }
        long now = System.nanoTime();
        if (now - renewAt < 0) {
            return true;
        }
        try {
            if (offsets.claim(name, owner, lease)) {
                long stored = storedMeanwhile();
                if (stored >= 0) {
                    LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " renewed its name's claim"
                            + " after another process had held it and stored offset " + stored + " (was this one paused"
                            + " past its lease of " + lease + "?): it gives the claim back and reads on from the stored"
                            + " offset once it holds it again, instead of storing its own position " + position
                            + " over the other's");
                    releaseClaim();
                    standBy();
                    return false;
                }
                claimed(now);
                return true;
            }
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " lost its name's claim to another"
                    + " process (was this one paused past its lease of " + lease + ", or did a handler take over two thirds"
                    + " of it? Give a longer claimLease) and stands by");
        } catch (RuntimeException e) {
            lastError = e;
            long failedAt = System.nanoTime();  // not now: a call that failed may have taken longer than the lease
            if (failedAt - claimedAt < leaseNanos / 3 * 2) {
                renewAt = failedAt + leaseNanos / 10;
                LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot renew its name's claim,"
                        + " retrying: " + e, e);
                return true;
            }
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " could not renew its name's claim"
                    + " for two thirds of its lease (" + lease + "), which may have run out, and stands by: " + e, e);
        }
        holdsClaim = false;
        standBy();
        return false;
    }

    /**
     * Renews the name's claim now, whether due or not, before a decision that a lost claim makes another
     * process's (stopping {@code FAILED} or skipping an event that failed): the claim may have run out or been
     * taken while the handler ran, and the event is then the other's to handle, not this one's to fail on.
     */
    private boolean claimHeldNow() {
        if (offsets == null || !sharedClaims) {
            return true;
        }
        if (!holdsClaim) {
            return false;
        }
        renewAt = System.nanoTime();
        return keepClaim();
    }

    /**
     * The offset stored under the name when it is not the one this subscription last stored there, else -1:
     * another process took the claim while this one's lease had run out, handled events and stored its offset,
     * and gave the claim back (it stopped) or let it run out (it died), so that this renewal took it anew. This
     * one's position is then not where the name is: storing it would move the offset back (or past events the
     * other has not handled, were it ahead). A store's claim answers true alike for a renewal and a new claim,
     * so the stored offset tells. Not before this claim's position was restored (see {@link #claimName}).
     */
    private long storedMeanwhile() {
        if (!sharedClaims || storedPosition < 0) {
            return -1;
        }
        long stored = offsets.load(name);
        return stored == storedPosition || stored == position ? -1 : stored;   // the latter: a save that seemed to fail
    }

    /** Gives the claim back as the subscription stops, so that a standby takes over at once. */
    private void releaseClaim() {
        if (!holdsClaim) {
            return;
        }
        holdsClaim = false;
        try {
            offsets.release(name, owner);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " could not release its name's"
                    + " claim; another process takes over when its lease (" + lease + ") runs out: " + e, e);
        }
    }

    private static String host() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            host = System.getenv("COMPUTERNAME");
        }
        return host == null || host.isBlank() ? "localhost" : host;
    }

    private void takeName() {
        if (offsets == null) {
            return;
        }
        synchronized (RUNNING_NAMES) {
            if (!RUNNING_NAMES.computeIfAbsent(offsets, o -> new HashSet<>()).add(name)) {
                throw new IllegalStateException("another subscription named '" + name + "' is running on offset store "
                        + offsets + " in this process: the two would overwrite each other's offset. Stop it first,"
                        + " or give this one a name of its own");
            }
            holdsName = true;
        }
    }

    private void releaseName() {
        synchronized (RUNNING_NAMES) {
            if (!holdsName) {
                return;
            }
            holdsName = false;
            Set<String> names = RUNNING_NAMES.get(offsets);
            names.remove(name);
            if (names.isEmpty()) {
                RUNNING_NAMES.remove(offsets);
            }
        }
    }

    /**
     * Sets {@link #position} from the offset store, reset and backfill; false when stopped meanwhile,
     * or when the name's claim was lost while retrying.
     */
    private boolean restorePosition() {
        int failures = 0;
        while (!shouldStop() && (offsets == null || holdsClaim)) {
            try {
                OptionalLong stored = OptionalLong.empty();
                if (offsets != null) {
                    if (reset && !resetDone && !resetRecorded()) {
                        if (!forget()) {
                            return false;   // the claim was lost meanwhile: the offset is another process's now
                        }
                        recordReset();
                        resetDone = true;
                    } else {
                        resetDone = reset;  // another replica did this reset(id), and may have handled since
                        stored = offsets.find(name);
                    }
                }
                long start = stored.isPresent() ? stored.getAsLong() : startAtEnd ? source.end() : 0;
                position = start;
                positionEventId = null;
                if (offsets != null && !stored.isPresent() && !store(start)) {
                    return false;   // the claim was lost meanwhile
                }
                storedPosition = start;
                return true;
            } catch (RuntimeException e) {
                if (shouldStop()) {
                    return false;   // the stop cut the source's end() short (a feed's request cancelled)
                }
                lastError = e;
                if (e instanceof RetryAfterException held) {
                    sleep(untilRetry(held, "find where to start"));
                    continue;
                }
                int attempt = ++failures;
                LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot restore its offset"
                        + " (attempt " + attempt + "), retrying: " + e, attempt == 1 ? e : null);
                sleep(backoff(failures));
            }
        }
        return false;
    }

    /** Where {@link Builder#reset(String)} records that it was done: beside the offset, in the same store. */
    private String resetName() {
        return name + RESET_SUFFIX;
    }

    /** Whether a subscription of this name already did this {@link Builder#reset(String)} on this offset store. */
    private boolean resetRecorded() {
        return resetMark != 0 && offsets.find(resetName()).orElse(-1) == resetMark;
    }

    /**
     * Records a {@link Builder#reset(String)} once the offset is forgotten, not before: a crash between the two
     * then has the next holder reset again (once too often) rather than never.
     */
    private void recordReset() {
        if (resetMark != 0) {
            offsets.save(resetName(), resetMark);
        }
    }

    /** A reset id's digest: the first 8 bytes of its UTF-8 MD5, made positive and not 0 (a stored offset is >= 0). */
    private static long resetMark(String id) {
        byte[] digest = MD5.get().digest(id.getBytes(StandardCharsets.UTF_8));
        long hash = 0;
        for (int i = 0; i < 8; i++) {
            hash = (hash << 8) | (digest[i] & 0xFF);
        }
        return (hash & Long.MAX_VALUE) | 1;
    }

    /**
     * Forgets the stored offset for {@link Builder#reset}: on a store that keeps claims, only under this
     * subscription's claim ({@link OffsetStore#deleteClaimed}); false, and standing by, when it no longer holds it.
     */
    private boolean forget() {
        if (!sharedClaims) {
            offsets.delete(name);
            return true;
        }
        if (offsets.deleteClaimed(name, owner)) {
            return true;
        }
        LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " found its name's claim taken as it"
                + " reset its offset (was this one paused past its lease of " + lease + "?), reset nothing, and stands by");
        holdsClaim = false;
        standBy();
        return false;
    }

    /**
     * Whether {@code event} must be decoded to know which typed handler takes it: an upcaster reads it at
     * the version it was stored at (or a later one), and may make it another type (a rename, a split). Not
     * for a subscription with no typed handler, nor for an event stored at its type's current version: a read
     * side that shares the writer's upcasters but handles none of a type needs no class for its current events.
     */
    private boolean decodesToKnow(RecordedEvent event) {
        EventTypes types = serializer.eventTypes();
        return !handlersByClass.isEmpty() && types.hasUpcasters(event.type()) && types.needsUpcast(event);
    }

    /** Hands one event to the handlers, retrying as configured; false when the subscription must stop. */
    private boolean deliver(RecordedEvent event) {
        if (groupSize > 1 && groupMemberOf(event.streamId(), groupSize) != groupMember) {
            return true;
        }
        EventHandler<Object> typed = typedHandlers.get(event.type());
        boolean upcast = decodesToKnow(event);
        if (typed == null && recordedHandler == null && !upcast) {
            return true;
        }
        int attempts = 0;
        while (true) {
            try {
                attempts++;
                if (recordedHandler != null) {
                    recordedHandler.handle(event);
                }
                if (upcast) {
                    Object decoded = serializer.deserialize(event);
                    EventHandler<Object> byClass = handlersByClass.get(decoded.getClass());
                    if (byClass != null) {
                        byClass.handle(decoded, event);
                    }
                } else if (typed != null) {
                    typed.handle(serializer.deserialize(event), event);
                }
                return true;
            } catch (Exception e) {
                if (endedByInterrupt(e) || Thread.currentThread().isInterrupted()) {
                    // An interrupt from outside (shutdownNow) woke a blocked handler: a stop, not a failure.
                    // The event is not passed, so a restart delivers it again.
                    Thread.currentThread().interrupt();
                    return false;
                }
                lastError = e;
                if (shouldStop()) {
                    // Stopped while the handler ran, which may have failed for that (its read model shut down
                    // first): not a failure to judge, nor an event to skip. It is not passed; a restart delivers it.
                    return false;
                }
                if (attempts > maxRetries) {
                    if (!claimHeldNow()) {
                        return false;   // lost while the handler ran: the event is another process's now, no failure here
                    }
                    return afterRetries(event, e, attempts);
                }
                int attempt = attempts;
                LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + ": handling " + event.type()
                        + " at " + event.streamId() + "@" + event.version() + " (position " + event.position()
                        + ") failed, attempt " + attempt + " of " + (maxRetries + 1) + ": " + e, attempt == 1 ? e : null);
                if (!storeBeforeWaiting()) {
                    return false;   // the claim is lost: the event is another process's now
                }
                sleep(backoff(attempts));
                if (shouldStop() || offsets != null && !holdsClaim) {
                    return false;   // stopped, or the claim is lost: the event is another process's now
                }
            }
        }
    }

    /**
     * Whether a handler's exception is, or wraps, the {@link InterruptedException} that an interrupt of this
     * thread ended it with: throwing it cleared the interrupt flag, and a {@code Consumer} handler can only
     * throw it wrapped. Not through an {@link ExecutionException} or {@link CompletionException}: those carry
     * the failure of another thread's task, whose interrupt is not this subscription's stop.
     */
    private static boolean endedByInterrupt(Throwable e) {
        for (int depth = 0; e != null && depth < 16; depth++, e = e.getCause()) {
            if (e instanceof InterruptedException) {
                return true;
            }
            if (e instanceof ExecutionException || e instanceof CompletionException) {
                return false;
            }
        }
        return false;
    }

    /**
     * Whether the source still holds what this subscription has read up to its position: the event it
     * handled there, by id, once it has read one since it started; before that, an end at or past the
     * position. {@code REPLACED} (another event at the position, kept in {@link #replacedAt}) means the
     * source went back and was written again; {@code MISSING} (no event there, or an end below) means it
     * went back, or lags behind what it showed before (a read from a Mongo secondary, say). Only the
     * check by id is waited for (see {@link #readWhileClaimed}).
     */
    private AtPosition checkSource() {
        if (positionEventId == null) {
            sourceEnd = source.end();
            return sourceEnd >= position ? AtPosition.HELD : AtPosition.MISSING;
        }
        List<RecordedEvent> at = read(position - 1, 1);
        if (at.isEmpty() || source.cursorOf(at.get(0)) != position) {
            return AtPosition.MISSING;
        }
        replacedAt = at.get(0);
        return replacedAt.eventId().equals(positionEventId) ? AtPosition.HELD : AtPosition.REPLACED;
    }

    /** The source's read, refusing a null answer as a read that failed, naming it (not a bare NullPointerException). */
    private List<RecordedEvent> read(long after, int maxCount) {
        List<RecordedEvent> events = source.read(after, maxCount);
        if (events == null) {
            throw new IllegalStateException(source + " returned null from read(" + after + ", " + maxCount
                    + "), neither events nor the empty list that says none are there yet; fix the source");
        }
        return events;
    }

    /**
     * Whether a source that failed to read can have no more events: its {@link EventSource#onAppend}
     * refuses with an {@link IllegalStateException}, as a source over a closed store does. Any other
     * answer (a source that cannot tell keeps the default) leaves the failure to be retried.
     */
    private boolean sourceClosed() {
        Runnable remover;
        try {
            remover = source.onAppend(() -> { });
        } catch (IllegalStateException closed) {
            return true;
        } catch (RuntimeException cannotTell) {
            return false;
        }
        if (remover != null) {
            try {
                remover.run();
            } catch (RuntimeException e) {
                // Only the probe's own listener, which does nothing when called.
            }
        }
        return false;
    }

    /**
     * Stops in {@link State#FAILED}: its source failed to read and refuses to tell of appends (its store
     * was closed under it), so retrying could never read another event.
     */
    private void stopSourceClosed(RuntimeException readFailure) {
        failure = new SubscriptionException("subscription " + describe() + " stopped at position " + position
                + ": its source failed to read (" + readFailure + ") and refuses to tell of appends, as one over a closed"
                + " store does, so it can have no more events. Start it again on an open store"
                + (offsets == null ? "" : "; it stores its offset as it stops, and reads on from there"), readFailure);
        LOG.log(System.Logger.Level.ERROR, failure.getMessage(), readFailure);
        stopRequested = true;
    }

    /**
     * Stops in {@link State#FAILED}: the source no longer holds what the subscription read up to its
     * position, so it lost events it had handed out, or is another source than the one the position came
     * from; reading on would skip its events up to the position as they come.
     *
     * @param replaced the other event found at the position; null when none was there for the grace time,
     *                 or the source's end was below the position
     */
    private void stopWentBack(RecordedEvent replaced) {
        String found = replaced != null
                ? "its source holds another event at its position " + position + " (" + replaced.type() + " "
                        + replaced.streamId() + "@" + replaced.version() + ", id " + replaced.eventId()
                        + ") than the one it handled there (id " + positionEventId + ")"
                : positionEventId == null
                        ? "its position " + position + " is beyond the end of its source (" + sourceEnd + ")"
                        : "the event it handled at its position " + position + " (id " + positionEventId
                                + ") is no longer in its source";
        failure = new SubscriptionException("subscription " + describe() + " stopped: " + found
                + (replaced != null || positionEventId == null ? "" : ", for " + Duration.ofNanos(sourceGraceNanos).toMillis() + " ms")
                + ". The source went back: it no longer holds events this subscription has handled (a memory store"
                + " or the service behind a feed started again, a store restored from an older copy, a feed URL that"
                + " now points elsewhere). It handles nothing more, since reading on would skip the source's events up"
                + " to " + position + ". Point it at the right source, or, if this one is right, start it with reset() (reset(id)"
                + " on an offset store processes share) to handle the source from its beginning (or with startAtEnd()"
                + " too for its new events only)", null);
        LOG.log(System.Logger.Level.ERROR, failure.getMessage());
        stopRequested = true;
    }

    /**
     * The cursors of a batch read after {@link #position}, checked before any of its events is handled: each
     * after the one before, the first after the position. Null, and stopped in {@link State#FAILED}, when not:
     * handed out of order, an offset stored at a later event (a checkpoint, a stop) would let a restart skip
     * the earlier ones that came after it.
     */
    private long[] cursorsInOrder(List<RecordedEvent> batch) {
        long[] cursors = new long[batch.size()];
        long previous = position;
        for (int i = 0; i < cursors.length; i++) {
            RecordedEvent event = batch.get(i);
            long cursor = source.cursorOf(event);
            if (cursor <= previous) {
                failure = new SubscriptionException("subscription " + describe() + " stopped: asked for the events after "
                        + position + ", its source returned " + event.type() + " " + event.streamId() + "@" + event.version()
                        + " (id " + event.eventId() + ") at cursor " + cursor + (i == 0 ? "" : " after one at " + previous)
                        + ", out of order. A source must return only events after the cursor asked for, in cursor order"
                        + " (EventSource.read, EventSource.cursorOf): handled so, an offset stored past an event that"
                        + " came late would skip it after a restart. Nothing of that read was handled; fix the source", null);
                LOG.log(System.Logger.Level.ERROR, failure.getMessage());
                stopRequested = true;
                return null;
            }
            cursors[i] = cursor;
            previous = cursor;
        }
        return cursors;
    }

    private boolean afterRetries(RecordedEvent event, Exception error, int attempts) {
        FailureHandler.Action action;
        try {
            action = failureHandler.onFailure(event, error, attempts);
        } catch (RuntimeException hookFailed) {
            error.addSuppressed(hookFailed);
            action = FailureHandler.Action.STOP;
        }
        if (action == null) {
            error.addSuppressed(new IllegalStateException("the failure hook returned null, taken as STOP: return"
                    + " FailureHandler.Action.STOP or SKIP"));
            action = FailureHandler.Action.STOP;
        }
        String what = event.type() + " at " + event.streamId() + "@" + event.version() + " (position "
                + event.position() + ") after " + attempts + " attempts: " + error;
        if (action == FailureHandler.Action.SKIP) {
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " skips " + what);
            return true;
        }
        failure = new SubscriptionException("subscription " + describe() + " stopped on " + what, error);
        LOG.log(System.Logger.Level.ERROR, failure.getMessage(), error);
        stopRequested = true;
        return false;
    }

    /** Moves the position; wakes awaitPosition callers only once the lowest cursor they wait for is reached. */
    private void advance(long cursor) {
        position = cursor;
        if (cursor >= wakeAt) {
            signalProgress();
        }
    }

    private void signalProgress() {
        synchronized (progress) {
            progress.notifyAll();
        }
    }

    /**
     * Stores the offset of the events handled since the last checkpoint before the subscription waits (paused,
     * or retrying a source or a handler that failed), which may take longer than its checkpoint interval. Not
     * once stopping: an interrupt would break some stores' writes, and the stop stores it anyway.
     *
     * @return false when it found the name's claim lost (the subscription then stands by, and need not wait)
     */
    private boolean storeBeforeWaiting() {
        if (offsets != null && position != storedPosition && !shouldStop()) {
            checkpoint();
        }
        return offsets == null || holdsClaim;
    }

    private void checkpoint() {
        long at = position;
        if (offsets == null || at == storedPosition || !keepClaim()) {
            return;     // a lost claim: the offset is another process's now
        }
        try {
            if (store(at)) {
                storedPosition = at;
            }
        } catch (RuntimeException e) {
            lastError = e;
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot store its offset "
                    + at + " (events since the last stored offset will come again after a restart): " + e, e);
        }
    }

    /**
     * Saves {@code at} as the offset: on a store that keeps claims, only while this subscription holds
     * its name's claim ({@link OffsetStore#saveClaimed}); false, and standing by, when it no longer does.
     * (Also where a subscription stores where it starts, so that a restart does not move its start to a
     * later end.)
     */
    private boolean store(long at) {
        if (!sharedClaims) {
            offsets.save(name, at);
            return true;
        }
        if (offsets.saveClaimed(name, at, owner)) {
            return true;
        }
        LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " found its name's claim taken as it"
                + " stored offset " + at + " (was this one paused past its lease of " + lease + "?), stored nothing, and"
                + " stands by");
        holdsClaim = false;
        standBy();
        return false;
    }

    /** An interrupt of the subscription's thread counts as a stop request. */
    private boolean shouldStop() {
        if (Thread.currentThread().isInterrupted()) {
            stopRequested = true;
        }
        return stopRequested;
    }

    /**
     * How long to wait before reading a source that asked not to be read before {@code held.retryAt()}: until
     * then, and at least the first error delay, so a source that keeps giving a time already passed is not
     * read in a loop. Logs it once per time given (the wait may be cut short by a lost claim, and the source
     * then gives the same time again); the message is the source's, so no stack trace.
     */
    private long untilRetry(RetryAfterException held, String doing) {
        Instant at = held.retryAt();
        Duration left = Duration.between(Instant.now(), at);
        long wait = left.compareTo(Duration.ofNanos(errorDelayNanos)) > 0 ? nanos(left) : errorDelayNanos;
        if (!at.equals(loggedRetryAt)) {
            loggedRetryAt = at;
            LOG.log(System.Logger.Level.WARNING, () -> "subscription " + describe() + " cannot " + doing + " before "
                    + at + ", as its source asks, and tries again then (in "
                    + TimeUnit.NANOSECONDS.toSeconds(wait + 999_999_999) + " s): " + held.getMessage());
        }
        return wait;
    }

    private long backoff(int failures) {
        long delay = errorDelayNanos;
        for (int i = 1; i < failures && delay < maxErrorDelayNanos; i++) {
            delay *= 2;
        }
        return Math.min(delay, maxErrorDelayNanos);
    }

    /**
     * Sleeps without throwing, cut short by {@link #stop()}; renews the name's claim when due (a retry's
     * back-off may outlast the lease), and returns early when that finds it lost.
     */
    private void sleep(long nanos) {
        long deadline = System.nanoTime() + nanos;
        long left;
        while (!shouldStop() && (left = deadline - System.nanoTime()) > 0) {
            if (holdsClaim && !keepClaim()) {
                return;
            }
            LockSupport.parkNanos(this, untilRenewal(left));
        }
    }

    private void wake() {
        wakeUps.incrementAndGet();
        Thread thread = worker;
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    /** One MD5 per thread, reset by each digest: a member asks for every event it reads. */
    private static final ThreadLocal<MessageDigest> MD5 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is missing from this JVM", e);
        }
    });

    /**
     * The consumer-group member that handles {@code streamId} in a group of {@code size}: the first 8
     * bytes of the MD5 of the stream's {@linkplain StreamName#cardinalId cardinal id}, as a signed
     * long, modulo {@code size} (floor). Every member computes the same, in every process.
     */
    public static int groupMemberOf(String streamId, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("group size must be >= 1, was " + size);
        }
        byte[] digest = MD5.get().digest(StreamName.cardinalId(streamId).getBytes(StandardCharsets.UTF_8));
        long hash = 0;
        for (int i = 0; i < 8; i++) {
            hash = (hash << 8) | (digest[i] & 0xFF);
        }
        return (int) Math.floorMod(hash, (long) size);
    }

    /**
     * {@code duration} in nanoseconds; {@link #FOREVER_NANOS} (about 73 years) when longer, so that waits of
     * "forever" ({@code ChronoUnit.FOREVER.getDuration()}, say) work and sums and multiples of them cannot overflow.
     */
    private static long nanos(Duration duration) {
        return duration.compareTo(FOREVER) >= 0 ? FOREVER_NANOS : duration.toNanos();
    }

    private static void requirePositive(Duration duration, String what) {
        if (duration == null || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(what + " must be a positive duration, was " + duration);
        }
    }

    /** Options of a {@link Subscription}; every one has a default except the handlers. */
    public static final class Builder {
        private final EventSource source;
        private String name;
        private OffsetStore offsets;
        private boolean startAtEnd;
        private boolean reset;
        private String resetId;
        private int batchSize = 256;
        private Duration pollInterval = Duration.ofSeconds(1);
        private Duration errorDelay = Duration.ofMillis(100);
        private Duration maxErrorDelay = Duration.ofSeconds(30);
        private int maxRetries = 10;
        private FailureHandler failureHandler = FailureHandler.stop();
        private int checkpointEvery = 100;
        private Duration checkpointInterval = Duration.ofSeconds(1);
        private int groupMember;
        private int groupSize = 1;
        /** Null until {@link #claimLease} is called: the default then depends on the source (see {@link #lease()}). */
        private Duration claimLease;
        private Executor executor;
        private EventSerializer serializer;
        private final Map<Class<?>, EventHandler<Object>> handlers = new LinkedHashMap<>();
        private RecordedHandler recordedHandler;

        private Builder(EventSource source) {
            if (source == null) {
                throw new IllegalArgumentException("source must not be null");
            }
            this.source = source;
        }

        /**
         * Makes the subscription durable: its offset lives in {@code offsets} under {@code name} and
         * is restored on start. A name may not end with {@code #reset}: {@link #reset(String)} records
         * its ids under the subscription's name followed by that.
         */
        public Builder name(String name, OffsetStore offsets) {
            OffsetStore.requireValid(name, 0);
            if (name.endsWith(RESET_SUFFIX)) {
                throw new IllegalArgumentException("subscription name '" + name + "' ends with '" + RESET_SUFFIX
                        + "', which is kept for where reset(id) records its ids (under the name followed by '"
                        + RESET_SUFFIX + "'); choose another name");
            }
            if (offsets == null) {
                throw new IllegalArgumentException("offsets must not be null");
            }
            this.name = name;
            this.offsets = offsets;
            return this;
        }

        /**
         * With no stored offset, start after the source's current end (only new events) instead of
         * at its beginning (backfill, the default). A durable subscription stores that start at once;
         * its {@link OffsetStore} must then tell a stored 0 from none (override {@link OffsetStore#find}),
         * which {@link #build()} checks.
         */
        public Builder startAtEnd() {
            this.startAtEnd = true;
            return this;
        }

        /** With no stored offset, start at the source's beginning: the default. */
        public Builder startAtBeginning() {
            this.startAtEnd = false;
            return this;
        }

        /**
         * Forget the stored offset on start and begin again as if none were stored: at every start, so take
         * it out again once done. Needs {@link #name}, on an offset store one process alone uses (memory,
         * Xodus); {@link #build()} refuses it on one that processes share, where every replica would reset
         * as it first took the claim: use {@link #reset(String)} there.
         */
        public Builder reset() {
            this.reset = true;
            this.resetId = null;
            return this;
        }

        /**
         * Forget the stored offset once for {@code id}, on any offset store: the first subscription of this
         * name to start with this id on this store (the first replica to hold the name's claim, on a store
         * that processes share) forgets the offset, begins again as if none were stored, and records the id
         * beside the offset (under the name followed by {@code #reset}); every later start with the same id,
         * in any replica, reads on from the stored offset, so a deploy of three replicas replays the source
         * once, and a replica taking over after a crash reads on from where the others got. Give a new id (a
         * release's version, the date of the decision) to reset again. On a store that keeps claims, the
         * offset is forgotten only under the claim ({@link OffsetStore#deleteClaimed}), so a reset that lands
         * after another process took over leaves that one's offset alone. A process that dies between
         * forgetting the offset and recording the id leaves the reset to the next holder, which does it
         * again (once too often rather than never).
         *
         * @throws IllegalArgumentException when the id is null or blank
         */
        public Builder reset(String id) {
            if (id == null || id.isBlank()) {
                throw new IllegalArgumentException("reset id must not be null or blank, was "
                        + (id == null ? "null" : "'" + id + "'"));
            }
            this.reset = true;
            this.resetId = id;
            return this;
        }

        /** How many events to read at once; default 256. */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, was " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /**
         * How long to wait before reading again when caught up, default 1 s. Sources over in-process
         * stores also wake the subscription as soon as an append lands.
         */
        public Builder pollInterval(Duration pollInterval) {
            requirePositive(pollInterval, "pollInterval");
            this.pollInterval = pollInterval;
            return this;
        }

        /**
         * The wait before retrying after an error, doubled after each further error up to
         * {@code max}; default 100 ms up to 30 s.
         */
        public Builder errorDelay(Duration initial, Duration max) {
            requirePositive(initial, "errorDelay");
            requirePositive(max, "maxErrorDelay");
            if (max.compareTo(initial) < 0) {
                throw new IllegalArgumentException("maxErrorDelay " + max + " must not be below errorDelay " + initial);
            }
            this.errorDelay = initial;
            this.maxErrorDelay = max;
            return this;
        }

        /** How many times to retry an event whose handler fails before the failure handler decides; default 10. */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0) {
                throw new IllegalArgumentException("maxRetries must be >= 0, was " + maxRetries);
            }
            this.maxRetries = maxRetries;
            return this;
        }

        /** What to do with an event past {@link #maxRetries}: {@link FailureHandler#stop()} by default. */
        public Builder onFailure(FailureHandler failureHandler) {
            if (failureHandler == null) {
                throw new IllegalArgumentException("failureHandler must not be null");
            }
            this.failureHandler = failureHandler;
            return this;
        }

        /** Store the offset after this many events; default 100. */
        public Builder checkpointEvery(int events) {
            if (events < 1) {
                throw new IllegalArgumentException("checkpointEvery must be >= 1, was " + events);
            }
            this.checkpointEvery = events;
            return this;
        }

        /** Store the offset when this long has passed since the last time, default 1 s. */
        public Builder checkpointInterval(Duration interval) {
            requirePositive(interval, "checkpointInterval");
            this.checkpointInterval = interval;
            return this;
        }

        /**
         * Makes this subscription member {@code member} of a consumer group of {@code size}: it handles
         * only streams for which {@link Subscription#groupMemberOf} gives {@code member}, so each
         * stream's events stay in order on one member. Give every member its own durable name: members
         * sharing one on a shared offset store take turns on one claim and one offset, each passing over the
         * others' streams. Changing {@code size} moves streams between members while each reads on from its
         * own offset, so a stream that moves to a member further along skips the events between the two
         * offsets: stop every member, and start the new ones under new names with the lowest offset the old
         * ones stored saved under each name first ({@link OffsetStore#save}).
         */
        public Builder group(int member, int size) {
            if (size < 1 || member < 0 || member >= size) {
                throw new IllegalArgumentException("consumer group member must be in [0, size) with size >= 1, was member "
                        + member + " of " + size);
            }
            this.groupMember = member;
            this.groupSize = size;
            return this;
        }

        /**
         * How long a durable subscription's claim on its name lasts on an offset store that processes
         * share ({@link OffsetStore#claim}): by default 30 s, or three times the longest one read of the
         * source can block when that is longer (45 s for an HTTP feed's default 5 s wait). The
         * subscription renews it every third of that; when its process dies without releasing it, a
         * subscription of the same name standing by in another process takes over once it runs out. A
         * lease given here must be at least three times the longest one read of the source can block
         * ({@link EventSource#longestWait()}, checked by {@link #build()}; for an HTTP feed, its
         * long-poll wait plus the time it gives the answer), and above the clock difference between the
         * machines. The claim is renewed between events, not while a handler runs: one event's handling
         * (with its retries' attempts) must take less than two thirds of the lease, or the claim may run out
         * while it runs, another process take over and handle the same events meanwhile, and this one stand by
         * once its handler returns. That is deliberate: a renewal from another thread during the handler would
         * also keep the claim of a process whose handler hangs (a deadlock, a read model that never answers),
         * which no replica could then take over from. A subscription that cannot renew in time stops handling
         * events and stands by; the events since its last stored offset may then be handled by both (delivery
         * is at-least-once).
         */
        public Builder claimLease(Duration lease) {
            requirePositive(lease, "claimLease");
            if (lease.compareTo(Duration.ofMillis(30)) < 0 || lease.compareTo(MAX_LEASE) > 0) {
                throw new IllegalArgumentException("claimLease must be from 30 ms to 1 day, was " + lease);
            }
            this.claimLease = lease;
            return this;
        }

        /**
         * Run on this executor instead of a daemon thread of the subscription's own. The subscription holds
         * one of its threads until it stops; {@link Subscription#start()} refuses an executor that runs it on
         * the thread that starts it (a direct executor, or a full pool's caller-runs policy).
         */
        public Builder executor(Executor executor) {
            if (executor == null) {
                throw new IllegalArgumentException("executor must not be null");
            }
            this.executor = executor;
            return this;
        }

        /**
         * Decode with this serializer (and its {@link EventTypes}) instead of a
         * {@link JacksonEventSerializer} with default settings. Pass a repository's serializer to
         * decode exactly as it encodes.
         */
        public Builder serializer(EventSerializer serializer) {
            if (serializer == null) {
                throw new IllegalArgumentException("serializer must not be null");
            }
            this.serializer = serializer;
            return this;
        }

        /**
         * Handles events of {@code eventClass}, decoded, with their record (stream, version, position,
         * metadata).
         *
         * @throws IllegalArgumentException when the class already has a handler
         */
        @SuppressWarnings("unchecked")
        public <E> Builder onRecorded(Class<E> eventClass, EventHandler<? super E> handler) {
            if (eventClass == null || handler == null) {
                throw new IllegalArgumentException("eventClass and handler must not be null");
            }
            if (handlers.containsKey(eventClass)) {
                throw new IllegalArgumentException(eventClass.getName() + " already has a handler in this subscription");
            }
            handlers.put(eventClass, (EventHandler<Object>) handler);
            return this;
        }

        /** Handles events of {@code eventClass}, decoded. */
        public <E> Builder on(Class<E> eventClass, Consumer<? super E> handler) {
            if (handler == null) {
                throw new IllegalArgumentException("handler must not be null");
            }
            return onRecorded(eventClass, (E event, RecordedEvent recorded) -> handler.accept(event));
        }

        /**
         * Handles every event, whatever its type, undecoded, before its typed handler if it has one.
         *
         * @throws IllegalArgumentException when one is already set
         */
        public Builder onRecorded(RecordedHandler handler) {
            if (handler == null) {
                throw new IllegalArgumentException("handler must not be null");
            }
            if (recordedHandler != null) {
                throw new IllegalArgumentException("this subscription already has a RecordedHandler");
            }
            this.recordedHandler = handler;
            return this;
        }

        /**
         * The subscription, not yet started.
         *
         * @throws IllegalArgumentException when it has no handler, {@link #reset()} without a name or on an
         *                                  offset store that processes share (use {@link #reset(String)}),
         *                                  {@link #startAtEnd()} with an {@link OffsetStore} that does not
         *                                  override {@link OffsetStore#find}, or a claim (an offset store that
         *                                  processes share) whose {@link #claimLease lease} is shorter than
         *                                  three times the {@link EventSource#longestWait() longest} one of
         *                                  the source's reads blocks
         */
        public Subscription build() {
            if (handlers.isEmpty() && recordedHandler == null) {
                throw new IllegalArgumentException("a subscription needs at least one handler (on(...) or onRecorded(...))");
            }
            if (reset && name == null) {
                throw new IllegalArgumentException("reset() needs a durable name(...): without one there is no stored offset to forget");
            }
            if (reset && resetId == null && keepsClaims(offsets)) {
                throw new IllegalArgumentException("reset() on " + offsets + ", an offset store that processes share,"
                        + " would reset '" + name + "' in every replica as it first takes the name's claim: each would"
                        + " handle the source again, one taking over after a crash from the beginning. Use reset(id)"
                        + " with an id for this one reset (a release's version, say): the first replica to hold the"
                        + " claim resets and records it, the others read on from the stored offset");
            }
            if (startAtEnd && offsets != null && !tellsZeroFromNothing(offsets)) {
                throw new IllegalArgumentException("startAtEnd() needs an OffsetStore that tells a stored 0 from none: "
                        + offsets.getClass().getName() + " does not override find(name), so the start it stores on an"
                        + " empty source would read back as none, and a restart would skip to the end");
            }
            if (offsets != null && keepsClaims(offsets)) {
                requireRenewableBetweenReads(lease());
            }
            return new Subscription(this);
        }

        /**
         * The lease given, or the default: 30 s, or three times the source's longest read when that is
         * longer (at most {@link #MAX_LEASE}, which {@link #requireRenewableBetweenReads} then refuses
         * for a source whose reads are longer than a third of it).
         */
        private Duration lease() {
            if (claimLease != null) {
                return claimLease;
            }
            Duration read = source.longestWait();
            if (read == null || read.isNegative()) {
                return DEFAULT_LEASE;   // refused by build() where a claim needs it (see longestRead)
            }
            Duration threeReads = read.compareTo(MAX_LEASE.dividedBy(3)) <= 0 ? read.multipliedBy(3) : MAX_LEASE;
            return threeReads.compareTo(DEFAULT_LEASE) > 0 ? threeReads : DEFAULT_LEASE;
        }

        /** The source's {@link EventSource#longestWait()}, checked. */
        private Duration longestRead() {
            Duration wait = source.longestWait();
            if (wait == null || wait.isNegative()) {
                throw new IllegalArgumentException("source.longestWait() must be zero or positive, was " + wait
                        + " (" + source + ")");
            }
            return wait;
        }

        /**
         * The claim is renewed between reads, once a third of its lease has passed since the last renewal.
         * A read that starts just before that and blocks longer than another third, waiting for events or
         * for a stalled server's answer, leaves the claim to run out while it waits: another process takes
         * over, this one stands by when its read returns, and with long polls the name changes hands at
         * every poll, each time handling again the events since the last stored offset. A read of at most
         * a third of the lease leaves a third for the renewal to land.
         */
        private void requireRenewableBetweenReads(Duration lease) {
            Duration wait = longestRead();
            if (wait.compareTo(lease.dividedBy(3)) > 0) {
                throw new IllegalArgumentException("claimLease " + lease + " is too short for " + source
                        + ", whose reads can block up to " + wait + " (waiting for new events, or for the answer of a"
                        + " stalled server): the claim is renewed between reads, every third of its lease, so a longer"
                        + " read lets it run out while the read waits, and the name changes hands. Make "
                        + (wait.compareTo(MAX_LEASE.dividedBy(3)) <= 0 ? "the lease at least " + wait.multipliedBy(3) + " or " : "")
                        + "the source's longest read (longestWait()) at most "
                        + lease.dividedBy(3).truncatedTo(ChronoUnit.MILLIS));
            }
        }

        /** Whether {@code offsets} overrides {@link OffsetStore#claim}: a store that processes share. */
        private static boolean keepsClaims(OffsetStore offsets) {
            return overrides(offsets, "claim", String.class, String.class, Duration.class);
        }

        /** Whether {@code offsets} overrides {@link OffsetStore#find}, telling a stored 0 from none. */
        private static boolean tellsZeroFromNothing(OffsetStore offsets) {
            return overrides(offsets, "find", String.class);
        }

        private static boolean overrides(OffsetStore offsets, String method, Class<?>... parameters) {
            try {
                return offsets.getClass().getMethod(method, parameters).getDeclaringClass() != OffsetStore.class;
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException("OffsetStore." + method + " is missing", e);
            }
        }

        /** Builds and starts it. */
        public Subscription start() {
            return build().start();
        }
    }
}
