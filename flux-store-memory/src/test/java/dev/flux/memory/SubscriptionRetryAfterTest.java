package dev.flux.memory;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.OffsetStore;
import dev.flux.subscription.RetryAfterException;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A source that says "not before time T" is read again at T, not on the subscription's back-off. */
class SubscriptionRetryAfterTest {
    /**
     * A subscription times its wait with {@link System#nanoTime()}, the time given is the wall clock's, which NTP
     * may slew meanwhile: a read this much before the time given counts as at it.
     */
    private static final Duration CLOCK_SLEW = Duration.ofMillis(20);
    private final InMemoryEventStore store = new InMemoryEventStore();
    private final InMemoryOffsetStore offsets = new InMemoryOffsetStore();
    private final List<Subscription> started = new ArrayList<>();
    private final Logger logger = Logger.getLogger(Subscription.class.getName());
    private final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            logged.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void captureTheSubscriptionsLog() {
        logger.addHandler(capture);
    }

    @AfterEach
    void stopAll() {
        started.forEach(s -> s.stop(Duration.ofSeconds(5)));
        logger.removeHandler(capture);
        store.close();
    }

    @Test
    void aSourceHeldBackIsReadAgainAtTheTimeItGivesWithOneWarningWithoutATrace() throws Exception {
        long last = append(3);
        AtomicReference<Instant> firstRetryAt = new AtomicReference<>();
        List<Instant> heldReads = new CopyOnWriteArrayList<>();
        List<Instant> reads = new CopyOnWriteArrayList<>();
        EventSource held = readThrough((real, after, maxCount) -> {
            Instant now = Instant.now();
            reads.add(now);
            Instant retryAt = twoSecondsAfterTheFirstCall(firstRetryAt, now);
            if (now.isBefore(retryAt.minus(CLOCK_SLEW))) {
                heldReads.add(now);
                throw new RetryAfterException("the test's service asks for a pause", retryAt);
            }
            return real.read(after, maxCount);
        });
        List<Long> seen = new CopyOnWriteArrayList<>();

        Subscription subscription = start(Subscription.builder(held).name("held", offsets)
                .onRecorded(e -> seen.add(e.position())));

        assertTrue(subscription.awaitPosition(last, Duration.ofSeconds(30)), () -> subscription + ": " + text());
        Instant retryAt = firstRetryAt.get();
        assertEquals(List.of(1L, 2L, 3L), seen);
        assertEquals(1, heldReads.size(), () -> "read " + heldReads.size() + " times before " + retryAt + ": " + reads);
        assertFalse(reads.get(1).isBefore(retryAt.minus(CLOCK_SLEW)), () -> "read again at " + reads.get(1) + ", before " + retryAt);
        List<LogRecord> warnings = warnings("'held'");
        assertEquals(1, warnings.size(), this::text);
        assertNull(warnings.get(0).getThrown(), "the hold is logged without a stack trace");
        assertTrue(warnings.get(0).getMessage().contains("before " + retryAt + ", as its source asks")
                && warnings.get(0).getMessage().endsWith(": the test's service asks for a pause"), this::text);
    }

    @Test
    void aSourceFailingAgainAndAgainIsLoggedWithItsTraceOnceAStreakNotAtEveryRetry() throws Exception {
        long last = append(2);
        AtomicInteger failures = new AtomicInteger();
        EventSource away = readThrough((real, after, maxCount) -> {
            if (failures.get() < 5) {     // its server is away for the first 5 reads
                failures.incrementAndGet();
                throw new IllegalStateException("the store's server is away");
            }
            return real.read(after, maxCount);
        });

        Subscription subscription = start(Subscription.builder(away).name("away", offsets)
                .errorDelay(Duration.ofMillis(1), Duration.ofMillis(1)).onRecorded(e -> { }));

        assertTrue(subscription.awaitPosition(last, Duration.ofSeconds(30)), () -> subscription + ": " + text());
        List<LogRecord> warnings = warnings("'away'");
        assertEquals(5, warnings.size(), this::text);
        for (int i = 0; i < 5; i++) {
            LogRecord warning = warnings.get(i);
            assertTrue(warning.getMessage().contains("(attempt " + (i + 1) + "), retrying: ")
                    && warning.getMessage().endsWith("the store's server is away"), this::text);
            assertEquals(i == 0, warning.getThrown() != null,
                    () -> "the trace with the streak's first failure alone, not with each retry: " + text());
        }
    }

    @Test
    void aSourceWhoseEndIsHeldBackIsAskedForItAgainAtTheTimeItGives() throws Exception {
        long end = append(2);
        AtomicReference<Instant> firstRetryAt = new AtomicReference<>();
        List<Instant> heldEnds = new CopyOnWriteArrayList<>();
        EventSource real = EventSource.all(store);
        EventSource held = new EventSource() {
            @Override
            public List<RecordedEvent> read(long after, int maxCount) {
                return real.read(after, maxCount);
            }

            @Override
            public long cursorOf(RecordedEvent event) {
                return real.cursorOf(event);
            }

            @Override
            public long end() {
                Instant now = Instant.now();
                Instant retryAt = twoSecondsAfterTheFirstCall(firstRetryAt, now);
                if (now.isBefore(retryAt.minus(CLOCK_SLEW))) {
                    heldEnds.add(now);
                    throw new RetryAfterException("the test's service asks for a pause", retryAt);
                }
                return real.end();
            }
        };

        Subscription subscription = start(Subscription.builder(held).name("new-only", offsets).startAtEnd()
                .onRecorded(e -> { }));

        assertTrue(waitUntil(() -> offsets.find("new-only").isPresent()), this::text);
        Instant retryAt = firstRetryAt.get();
        assertEquals(end, offsets.load("new-only"));
        assertEquals(1, heldEnds.size(), () -> "asked for the end " + heldEnds.size() + " times before " + retryAt);
        List<LogRecord> warnings = warnings("'new-only'");
        assertEquals(1, warnings.size(), this::text);
        assertNull(warnings.get(0).getThrown(), this::text);
        assertTrue(warnings.get(0).getMessage().contains("cannot find where to start before " + retryAt), this::text);
    }

    @Test
    void aStopDuringALongHoldEndsItAtOnceWithTheOffsetStoredBeforeTheWait() throws Exception {
        long last = append(2);
        EventSource held = readThrough((real, after, maxCount) -> {
            if (after < last) {
                return real.read(after, maxCount);
            }
            throw new RetryAfterException("the test's service asks for an hour's pause", Instant.now().plusSeconds(3600),
                    new IllegalStateException("429 from the rate limiter"));
        });
        Subscription subscription = start(Subscription.builder(held).name("paused-for-an-hour", offsets)
                .checkpointEvery(1000).checkpointInterval(Duration.ofHours(1)).onRecorded(e -> { }));
        assertTrue(waitUntil(() -> subscription.lastError() != null), "the source held the subscription back");
        assertInstanceOf(RetryAfterException.class, subscription.lastError());
        assertEquals("429 from the rate limiter", subscription.lastError().getCause().getMessage(),
                "what the source's client threw is kept as the cause");
        // Stored after lastError is set, as the wait begins: nothing else stores it within the hour's checkpoint interval.
        assertTrue(waitUntil(() -> offsets.load("paused-for-an-hour") == last), "the offset is stored before the wait");

        boolean stopped = subscription.stop(Duration.ofSeconds(30));

        assertTrue(stopped, "the stop ended the hour's wait");
        assertEquals(Subscription.State.STOPPED, subscription.state());
    }

    @Test
    void aDurableSubscriptionKeepsRenewingItsClaimWhileHeldBack() throws Exception {
        AtomicInteger claims = new AtomicInteger();
        OffsetStore shared = new HookedOffsets(offsets) {     // claims, as a store shared by processes does
            @Override
            public boolean claim(String name, String owner, Duration lease) {
                claims.incrementAndGet();
                return true;
            }
        };
        AtomicInteger heldReads = new AtomicInteger();
        EventSource held = readThrough((real, after, maxCount) -> {
            heldReads.incrementAndGet();
            throw new RetryAfterException("the test's service asks for an hour's pause", Instant.now().plusSeconds(3600));
        });
        Subscription subscription = start(Subscription.builder(held).name("claimed", shared)
                .claimLease(Duration.ofMillis(300)).onRecorded(e -> { }));
        assertTrue(waitUntil(() -> heldReads.get() == 1 && subscription.lastError() != null), "held back");
        int claimsWhenHeld = claims.get();

        assertTrue(waitUntil(() -> claims.get() >= claimsWhenHeld + 5), "the claim is renewed while held back");
        assertEquals(Subscription.State.RUNNING, subscription.state());
        assertEquals(1, heldReads.get(), "not read again before the time given");
    }

    /**
     * The time a held source gives: 2 s after its first call, not after the test began, so that a subscription
     * slow to start (a loaded machine) still makes its first call before it.
     */
    private static Instant twoSecondsAfterTheFirstCall(AtomicReference<Instant> retryAt, Instant now) {
        return retryAt.updateAndGet(given -> given != null ? given : now.plusSeconds(2));
    }

    /** The store's whole log, each read made by {@code read}. */
    private EventSource readThrough(ReadThroughSource.Read read) {
        return new ReadThroughSource(store, read, null, "the test's held source");
    }

    private Subscription start(Subscription.Builder builder) {
        Subscription subscription = builder.build();
        started.add(subscription);
        return subscription.start();
    }

    /** Appends {@code count} events to one stream; returns the last one's position. */
    private long append(int count) {
        List<EventData> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(new EventData(UUID.randomUUID(), "Credited", "{}".getBytes(StandardCharsets.UTF_8), Map.of()));
        }
        store.append("Account-1", ExpectedVersion.ANY, events);
        return store.lastPosition();
    }

    /** The warnings of the subscription whose description holds {@code name}. */
    private List<LogRecord> warnings(String name) {
        return logged.stream().filter(r -> r.getLevel().equals(Level.WARNING) && r.getMessage().contains(name)).toList();
    }

    private String text() {
        return logged.stream().map(r -> r.getLevel() + " " + r.getMessage() + (r.getThrown() == null ? "" : " [trace]"))
                .toList().toString();
    }

    private static boolean waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }
}
