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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The periodic check that finds events for held long polls: how it ends with the handler, and how it reports a failing store. */
class FeedHandlerRecheckTest {
    private final Logger logger = Logger.getLogger(FeedHandler.class.getName());
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
    private final Log log = new Log();
    private FeedHandler handler;
    private HttpServer server;

    @BeforeEach
    void captureTheFeedsLog() {
        logger.addHandler(capture);
    }

    @AfterEach
    void close() {
        if (handler != null) {
            handler.close();
        }
        if (server != null) {
            server.stop(0);
        }
        logger.removeHandler(capture);
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
        assertTrue(waitUntil(() -> records(Level.WARNING).size() >= 2), () -> "a reminder comes after 200 ms: " + text());

        log.failTimerReads(false);
        assertTrue(waitUntil(() -> !records(Level.INFO).isEmpty()), () -> "the recovery is logged: " + text());
        log.appendUntold("Account-1", "Opened");    // only the recheck finds it

        assertTrue(poll.get(10, TimeUnit.SECONDS).body().contains("\"Account-1\""));
        List<LogRecord> warnings = records(Level.WARNING);
        assertTrue(warnings.get(0).getThrown() != null && warnings.get(0).getMessage().contains("the store is closed"),
                "the first failure comes with its trace");
        assertTrue(warnings.stream().skip(1).allMatch(r -> r.getThrown() == null
                && r.getMessage().contains(" checks failed in a row; the latest: ")), this::text);
        long firstReminderCount = Long.parseLong(warnings.get(1).getMessage().replaceAll(".*: (\\d+) checks failed.*", "$1"));
        assertTrue(firstReminderCount >= 2, () -> "a reminder stands for the failures since the line before: " + text());
        assertEquals(1, records(Level.INFO).size(), this::text);
        assertTrue(records(Level.INFO).get(0).getMessage().startsWith("feed checks for new events again, after "), this::text);
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

    private List<LogRecord> records(Level level) {
        return logged.stream().filter(r -> r.getLevel().equals(level)).toList();
    }

    private String text() {
        return logged.stream().map(r -> r.getLevel() + " " + r.getMessage() + (r.getThrown() == null ? "" : " [trace]"))
                .toList().toString();
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

    /** Events in memory whose reads on the feed's timer thread a test can hold or fail. */
    private static final class Log implements EventReader {
        private final List<RecordedEvent> events = new CopyOnWriteArrayList<>();
        private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
        final CountDownLatch timerReading = new CountDownLatch(1);
        final CountDownLatch closeStarted = new CountDownLatch(1);
        final CountDownLatch closeReturned = new CountDownLatch(1);
        final AtomicInteger timerReadsUnderWay = new AtomicInteger();
        final AtomicInteger timerFailures = new AtomicInteger();
        private volatile boolean holdTimerReads;
        private volatile boolean failTimerReads;

        /**
         * Makes the next read on the timer wait, deaf to interrupts, until the feed stops listening (its close
         * has begun), then for the test to see close() return or 1 s, whichever comes first.
         */
        void holdTimerReadsUntilClosed() {
            holdTimerReads = true;
        }

        void failTimerReads(boolean fail) {
            failTimerReads = fail;
        }

        void appendUntold(String streamId, String type) {
            EventData data = EventData.of(type, "{}".getBytes(StandardCharsets.UTF_8), Map.of());
            events.add(RecordedEvent.of(streamId, 0, events.size() + 1, data, Instant.now()));
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            if (Thread.currentThread().getName().equals("flux-feed-timer")) {
                if (failTimerReads) {
                    timerFailures.incrementAndGet();
                    throw new IllegalStateException("the store is closed");
                }
                if (holdTimerReads) {
                    holdTimerReads = false;
                    timerReadsUnderWay.incrementAndGet();
                    timerReading.countDown();
                    awaitUninterruptibly(closeStarted, 10_000);
                    awaitUninterruptibly(closeReturned, 1_000);
                    timerReadsUnderWay.decrementAndGet();
                }
            }
            return events.stream().filter(e -> e.position() > afterPosition).limit(maxCount).toList();
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
    }
}
