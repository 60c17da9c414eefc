package dev.flux.feed;

import com.sun.net.httpserver.HttpServer;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Long polls answered before their wait ends leave nothing behind in the handler. */
class FeedHandlerHeldPollTest {
    private final Log log = new Log();
    private FeedHandler handler;
    private HttpServer server;

    @AfterEach
    void close() {
        if (handler != null) {
            handler.close();
        }
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void pollsAnsweredByAnAppendDropTheirTimeoutsInsteadOfKeepingThemUntilTheWaitWouldHaveEnded() throws Exception {
        // A recheck that never runs during the test: a running task is out of the queue the test counts.
        handler = FeedServer.builder(log).maxWait(Duration.ofSeconds(60)).recheck(Duration.ofHours(1)).handler();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/events", handler);
        server.start();
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
        handler = FeedServer.builder(log).maxWait(Duration.ofSeconds(60)).recheck(Duration.ofHours(1)).handler();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/events", handler);
        server.start();
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
        List<String> logged = new CopyOnWriteArrayList<>();
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(FeedHandler.class.getName());
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                logged.add(record.getLevel() + " " + record.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try {
            log.failTimerReadsOnceWith(new AssertionError("a store's bug"));
            handler = FeedServer.builder(log).maxWait(Duration.ofSeconds(60)).recheck(Duration.ofMillis(20)).handler();
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/events", handler);
            server.start();
            URI feed = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events?after=0&wait=60");
            CompletableFuture<HttpResponse<String>> poll = HttpClient.newHttpClient()
                    .sendAsync(HttpRequest.newBuilder(feed).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(waitUntil(() -> log.timerFailed.get()), "the recheck met the error");

            log.appendUntold("Account-1", "Opened");     // another process's append: only the recheck finds it

            HttpResponse<String> answer = poll.get(10, TimeUnit.SECONDS);
            assertEquals(200, answer.statusCode());
            assertTrue(answer.body().contains("\"Account-1\""), answer.body());
            assertTrue(logged.stream().anyMatch(line -> line.startsWith("SEVERE") && line.contains("a store's bug")),
                    () -> "the error is logged: " + logged);
        } finally {
            logger.removeHandler(capture);
        }
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

    /** The smallest log a feed serves: events in memory, telling its listeners of each append. */
    private static final class Log implements EventReader {
        private final List<RecordedEvent> events = new CopyOnWriteArrayList<>();
        private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
        /** Counted down when a read of the feed's timer thread waits for the latch {@link #holdTimerReads} returned. */
        final CountDownLatch timerReading = new CountDownLatch(1);
        /** Reads of the log done by other threads than the feed's timer (those the requests make), counted once they have read. */
        final AtomicInteger exchangeReads = new AtomicInteger();
        private volatile CountDownLatch timerReads;

        /** Makes reads on the feed's timer thread wait until the latch returned is counted down. */
        CountDownLatch holdTimerReads() {
            CountDownLatch release = new CountDownLatch(1);
            timerReads = release;
            return release;
        }

        /** Set once a read of the feed's timer thread threw the error {@link #failTimerReadsOnceWith} gave. */
        final AtomicBoolean timerFailed = new AtomicBoolean();
        private volatile Error timerError;

        /** Makes the next read on the feed's timer thread throw {@code error}. */
        void failTimerReadsOnceWith(Error error) {
            timerError = error;
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
            CountDownLatch release = timerReads;
            boolean onTimer = Thread.currentThread().getName().equals("flux-feed-timer");
            Error error = timerError;
            if (error != null && onTimer) {
                timerError = null;
                timerFailed.set(true);
                throw error;
            }
            if (release != null && onTimer) {
                timerReading.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            List<RecordedEvent> page = events.stream().filter(e -> e.position() > afterPosition).limit(maxCount).toList();
            if (!onTimer) {
                exchangeReads.incrementAndGet();    // once read: a look counted has seen all it will see
            }
            return page;
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
            return () -> listeners.remove(listener);
        }
    }
}
