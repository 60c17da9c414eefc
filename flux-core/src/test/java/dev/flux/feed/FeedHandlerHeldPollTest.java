package dev.flux.feed;

import com.sun.net.httpserver.HttpServer;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Held long polls and the periodic check that finds events for them: polls answered before their wait ends
 * leave nothing behind in the handler, the check ends with the handler, and a failing store is reported.
 */
class FeedHandlerHeldPollTest {
    private CapturedLog logged;
    private final Log log = new Log();
    private FeedHandler handler;
    private HttpServer server;

    @BeforeEach
    void captureTheFeedsLog() {
        logged = new CapturedLog(FeedHandler.class);
    }

    @AfterEach
    void close() {
        if (handler != null) {
            handler.close();
        }
        if (server != null) {
            server.stop(0);
        }
        logged.close();
    }

    @Test
    void pollsAnsweredByAnAppendDropTheirTimeoutsInsteadOfKeepingThemUntilTheWaitWouldHaveEnded() throws Exception {
        // A recheck that never runs during the test: a running task is out of the queue the test counts.
        handler = serve(Duration.ofHours(1));
        URI feed = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events?after=0&wait=60");
        HttpClient client = HttpClient.newHttpClient();
        int before = handler.scheduledTasks();

        List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            polls.add(client.sendAsync(HttpRequest.newBuilder(feed).build(), HttpResponse.BodyHandlers.ofString()));
        }
        assertTrue(waitUntil(() -> handler.scheduledTasks() == before + 20),
                () -> "the 20 polls are held, each with its timeout; tasks " + handler.scheduledTasks());

        log.append("Account-1", "Opened");

        for (CompletableFuture<HttpResponse<String>> poll : polls) {
            HttpResponse<String> answer = poll.get(10, TimeUnit.SECONDS);
            assertEquals(200, answer.statusCode());
            assertTrue(answer.body().contains("\"Opened\""), answer.body());
        }
        assertTrue(waitUntil(() -> handler.scheduledTasks() == before),
                () -> "the answered polls' timeouts are gone, not kept for 60 s; tasks " + handler.scheduledTasks()
                        + ", before the polls " + before);
    }

    @Test
    void appendsWhileTheTimerChecksTheHeldPollsQueueOneMoreCheckNotOnePerAppend() throws Exception {
        // Each append queued a check of every held poll on the one timer thread: appends coming faster than the
        // checks ran (a store read each) grew its queue without bound, and the timeouts behind it waited.
        handler = serve(Duration.ofHours(1));
        URI feed = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events?after=0&wait=60");
        int before = handler.scheduledTasks();
        CompletableFuture<HttpResponse<String>> poll = HttpClient.newHttpClient()
                .sendAsync(HttpRequest.newBuilder(feed).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(waitUntil(() -> handler.scheduledTasks() == before + 1), "the poll is held with its timeout");
        // Its timeout is scheduled before the poll's last look (the page read, then that look): an append before
        // the look would answer the poll there, not through the timer's check this test holds up.
        assertTrue(waitUntil(() -> log.exchangeReads.get() == 2), () -> "the poll looked twice; " + log.exchangeReads);
        CountDownLatch release = log.holdTimerReads();

        log.append("Account-1", "Opened");     // its check now waits in the store read, the poll still held
        assertTrue(log.timerReading.await(10, TimeUnit.SECONDS), "the timer checks the held poll");
        for (int i = 2; i <= 1000; i++) {
            log.append("Account-" + i, "Opened");
        }
        int queued = handler.scheduledTasks() - before;
        release.countDown();

        assertEquals(2, queued, "the poll's timeout and one check for the 999 appends made during the first");
        HttpResponse<String> answer = poll.get(10, TimeUnit.SECONDS);
        assertEquals(200, answer.statusCode());
        assertTrue(answer.body().contains("\"Account-1\""), answer.body());
    }

    @Test
    void anErrorInTheRecheckIsLoggedAndTheRecheckGoesOnFindingEventsOtherProcessesAppend() throws Exception {
        // The recheck ran on a ScheduledExecutorService, which ends a periodic task for good, silently, when it
        // throws: one Error from a store read and held polls waited out their whole wait ever after.
        log.failTimerReadsOnceWith(new AssertionError("a store's bug"));
        handler = serve(Duration.ofMillis(20));
        CompletableFuture<HttpResponse<String>> poll = poll();
        assertTrue(waitUntil(() -> log.timerFailed.get()), "the recheck met the error");

        log.appendUntold("Account-1", "Opened");     // another process's append: only the recheck finds it

        HttpResponse<String> answer = poll.get(10, TimeUnit.SECONDS);
        assertEquals(200, answer.statusCode());
        assertTrue(answer.body().contains("\"Account-1\""), answer.body());
        assertTrue(logged.at(Level.SEVERE).stream().anyMatch(r -> r.getMessage().contains("a store's bug")),
                () -> "the error is logged: " + logged.text());
    }

    @Test
    void closeReturnsOnlyOnceACheckReadingTheStoreHasEnded() throws Exception {
        handler = serve(Duration.ofMillis(20));
        CompletableFuture<HttpResponse<String>> poll = poll();
        log.holdTimerReadsUntilClosed();
        assertTrue(log.timerReading.await(10, TimeUnit.SECONDS), "the recheck reads the store for the held poll");

        handler.close();
        int stillReading = log.timerReadsUnderWay.get();
        log.closeReturned.countDown();

        assertEquals(0, stillReading, "no check reads the store once close() has returned: the caller may close it next");
        assertEquals(200, poll.get(10, TimeUnit.SECONDS).statusCode());
    }

    @Test
    void aStoreFailingEveryCheckIsLoggedOnceWithItsTraceThenBrieflyAndItsRecoveryOnce() throws Exception {
        handler = serve(Duration.ofMillis(5));
        handler.failureReportNanos = TimeUnit.MILLISECONDS.toNanos(200);
        CompletableFuture<HttpResponse<String>> poll = poll();
        log.failTimerReads(true);
        assertTrue(waitUntil(() -> logged.at(Level.WARNING).size() >= 2), () -> "a reminder comes after 200 ms: " + logged.text());

        log.failTimerReads(false);
        assertTrue(waitUntil(() -> !logged.at(Level.INFO).isEmpty()), () -> "the recovery is logged: " + logged.text());
        log.appendUntold("Account-1", "Opened");    // only the recheck finds it

        assertTrue(poll.get(10, TimeUnit.SECONDS).body().contains("\"Account-1\""));
        List<LogRecord> warnings = logged.at(Level.WARNING);
        assertTrue(warnings.get(0).getThrown() != null && warnings.get(0).getMessage().contains("the store is closed"),
                "the first failure comes with its trace");
        assertTrue(logged.all().stream().allMatch(r -> r.getMessage().startsWith("feed of " + Log.NAME + " ")),
                () -> "each line names the feed by its store, for a process that runs several: " + logged.text());
        assertTrue(warnings.stream().skip(1).allMatch(r -> r.getThrown() == null
                && r.getMessage().contains(" checks failed in a row; the latest: ")), logged::text);
        assertEquals(1, logged.at(Level.INFO).size(), logged::text);
        assertTrue(logged.at(Level.INFO).get(0).getMessage().startsWith("feed of " + Log.NAME + " checks for new events again, after "),
                logged::text);
    }

    @Test
    void aStoreFailingEveryOtherCheckIsLoggedOnceNotAtEachFailureAndRecovery() throws Exception {
        handler = serve(Duration.ofMillis(5));
        handler.failureReportNanos = TimeUnit.HOURS.toNanos(1);
        CompletableFuture<HttpResponse<String>> poll = poll();
        log.flapTimerReads(true);
        assertTrue(waitUntil(() -> log.timerFailures.get() >= 10), "ten streaks of one failed check each");
        log.flapTimerReads(false);
        log.appendUntold("Account-1", "Opened");    // only the recheck finds it

        assertTrue(poll.get(10, TimeUnit.SECONDS).body().contains("\"Account-1\""));
        assertEquals(1, logged.at(Level.WARNING).size(), logged::text);
        assertTrue(logged.at(Level.WARNING).get(0).getThrown() != null, "the first failure comes with its trace");
        assertEquals(1, logged.at(Level.INFO).size(), () -> "only the logged streak's end is logged: " + logged.text());
    }

    private FeedHandler serve(Duration recheck) throws Exception {
        FeedHandler feed = FeedServer.builder(log).maxWait(Duration.ofSeconds(60)).recheck(recheck).handler();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/events", feed);
        server.start();
        return feed;
    }

    /** A long poll of the whole log, held: nothing is there yet. */
    private CompletableFuture<HttpResponse<String>> poll() throws InterruptedException {
        URI feed = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events?after=0&wait=60");
        int held = handler.scheduledTasks() + 1;
        CompletableFuture<HttpResponse<String>> poll = HttpClient.newHttpClient()
                .sendAsync(HttpRequest.newBuilder(feed).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(waitUntil(() -> handler.scheduledTasks() >= held), "the poll is held");
        return poll;
    }

    private static boolean waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    /**
     * The smallest log a feed serves: events in memory, telling its listeners of each append; its reads on the
     * feed's timer thread (the checks for held polls) can be held or made to fail.
     */
    private static final class Log implements EventReader {
        static final String NAME = "the test log";
        private final List<RecordedEvent> events = new CopyOnWriteArrayList<>();
        private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
        /** Counted down when a read of the feed's timer thread is held ({@link #holdTimerReads}, {@link #holdTimerReadsUntilClosed}). */
        final CountDownLatch timerReading = new CountDownLatch(1);
        /** Reads of the log done by other threads than the feed's timer (those the requests make), counted once they have read. */
        final AtomicInteger exchangeReads = new AtomicInteger();
        /** Set once a read of the feed's timer thread threw the error {@link #failTimerReadsOnceWith} gave. */
        final AtomicBoolean timerFailed = new AtomicBoolean();
        /** Reads of the timer held by {@link #holdTimerReadsUntilClosed} and not yet over. */
        final AtomicInteger timerReadsUnderWay = new AtomicInteger();
        /** Counted down when the feed stops listening to the log: its close has begun. */
        final CountDownLatch closeStarted = new CountDownLatch(1);
        /** Counted down by the test once the feed's close has returned. */
        final CountDownLatch closeReturned = new CountDownLatch(1);
        private volatile CountDownLatch timerReads;
        private volatile Error timerError;
        private volatile boolean failTimerReads;
        /** Whether reads on the feed's timer thread fail and succeed in turn, and how many failed so. */
        private volatile boolean flapTimerReads;
        private boolean nextFlapFails = true;
        final AtomicInteger timerFailures = new AtomicInteger();
        private volatile boolean holdTimerReadUntilClosed;

        /** Makes reads on the feed's timer thread wait until the latch returned is counted down. */
        CountDownLatch holdTimerReads() {
            CountDownLatch release = new CountDownLatch(1);
            timerReads = release;
            return release;
        }

        /**
         * Makes the next read on the timer wait, deaf to interrupts, until the feed stops listening (its close
         * has begun), then for the test to see close() return or 1 s, whichever comes first.
         */
        void holdTimerReadsUntilClosed() {
            holdTimerReadUntilClosed = true;
        }

        /** Makes the next read on the feed's timer thread throw {@code error}. */
        void failTimerReadsOnceWith(Error error) {
            timerError = error;
        }

        /** Makes every read on the feed's timer thread fail as a closed store's does, or no longer. */
        void failTimerReads(boolean fail) {
            failTimerReads = fail;
        }

        /** Makes reads on the feed's timer thread fail and succeed in turn (a failure first), or no longer. */
        void flapTimerReads(boolean flap) {
            flapTimerReads = flap;
        }

        void append(String streamId, String type) {
            appendUntold(streamId, type);
            listeners.forEach(Runnable::run);
        }

        /** Appends without telling the listeners, as another process appending to a shared store does. */
        void appendUntold(String streamId, String type) {
            EventData data = EventData.of(type, "{}".getBytes(StandardCharsets.UTF_8), Map.of());
            events.add(RecordedEvent.of(streamId, 0, events.size() + 1, data, Instant.now()));
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            boolean onTimer = Thread.currentThread().getName().equals("flux-feed-timer");
            if (onTimer) {
                onTimerRead();
            }
            List<RecordedEvent> page = events.stream().filter(e -> e.position() > afterPosition).limit(maxCount).toList();
            if (!onTimer) {
                exchangeReads.incrementAndGet();    // once read: a look counted has seen all it will see
            }
            return page;
        }

        private void onTimerRead() {
            Error error = timerError;
            if (error != null) {
                timerError = null;
                timerFailed.set(true);
                throw error;
            }
            if (failTimerReads) {
                throw new IllegalStateException("the store is closed");
            }
            if (flapTimerReads) {
                nextFlapFails = !nextFlapFails;     // the timer's one thread alone reads this
                if (!nextFlapFails) {
                    timerFailures.incrementAndGet();
                    throw new IllegalStateException("the store's connection dropped");
                }
            }
            CountDownLatch release = timerReads;
            if (release != null) {
                timerReading.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (holdTimerReadUntilClosed) {
                holdTimerReadUntilClosed = false;
                timerReadsUnderWay.incrementAndGet();
                timerReading.countDown();
                awaitUninterruptibly(closeStarted, 10_000);
                awaitUninterruptibly(closeReturned, 1_000);
                timerReadsUnderWay.decrementAndGet();
            }
        }

        private static void awaitUninterruptibly(CountDownLatch latch, long millis) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            boolean interrupted = false;
            while (true) {
                try {
                    latch.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            return events.stream().filter(e -> e.streamId().equals(streamId) && e.version() >= fromVersion).limit(maxCount)
                    .toList();
        }

        @Override
        public long streamVersion(String streamId) {
            return events.stream().filter(e -> e.streamId().equals(streamId)).mapToLong(RecordedEvent::version).max()
                    .orElse(-1);
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            return events.stream().filter(e -> e.eventId().equals(eventId)).findFirst();
        }

        @Override
        public Runnable onAppend(Runnable listener) {
            listeners.add(listener);
            return () -> {
                listeners.remove(listener);
                closeStarted.countDown();
            };
        }

        @Override
        public String toString() {
            return NAME;
        }
    }
}
