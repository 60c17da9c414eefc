package dev.flux.feed;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.subscription.RetryAfterException;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A feed that answers {@code Retry-After} is not asked again before that time has passed. */
class HttpEventSourceRetryAfterTest {
    private static final String PAGE = "{\"events\":[{\"event_id\":\"6f1c2a9e-2f4b-4d1e-9a43-0c1b2d3e4f50\","
            + "\"stream_id\":\"Account-1\",\"aggregate_version\":0,\"event_type\":\"Opened\","
            + "\"created\":\"2026-01-01T00:00:00Z\",\"position\":1,\"metadata\":{},\"data\":{}}]}";

    /** When each request reached the server, by {@link System#nanoTime()}. */
    private final List<Long> requests = new CopyOnWriteArrayList<>();
    /** When the server answered each request it answered 503, by {@link System#nanoTime()}, before sending the answer. */
    private final List<Long> busyAnswers = new CopyOnWriteArrayList<>();
    private CapturedLog log;
    private HttpServer server;

    @BeforeEach
    void captureTheSubscriptionsLog() {
        log = new CapturedLog(Subscription.class);
    }

    @AfterEach
    void stop() {
        log.close();
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void aSubscriptionWaitsOutEachRetryAfterOfABusyFeedThenDeliversItsEventsLoggingEachOnceWithoutATrace()
            throws Exception {
        URI feed = serve(3, "2", PAGE);
        List<Long> delivered = new CopyOnWriteArrayList<>();

        try (Subscription subscription = Subscription.builder(HttpEventSource.of(feed, Duration.ZERO))
                .onRecorded(e -> delivered.add(e.position())).start()) {
            assertTrue(subscription.awaitPosition(1, Duration.ofSeconds(60)), () -> subscription + ": " + log.text());
        }

        assertEquals(List.of(1L), delivered);
        assertTrue(requests.size() >= 4, () -> requests.size() + " requests");
        for (int i = 0; i < busyAnswers.size(); i++) {
            long after = requests.get(i + 1) - busyAnswers.get(i);
            assertTrue(after >= TimeUnit.SECONDS.toNanos(2), "request " + (i + 2) + " came " + after / 1_000_000
                    + " ms after the 503 with Retry-After: 2");
        }
        List<LogRecord> warnings = log.at(Level.WARNING);
        assertEquals(3, warnings.size(), log::text);
        for (LogRecord warning : warnings) {
            assertNull(warning.getThrown(), log::text);
            assertTrue(warning.getMessage().contains("as its source asks, and tries again then (in 2 s): the feed at "
                    + feed + "?after=0&limit=256&include=data answered 503 (Retry-After: 2; this source sends the feed"
                    + " nothing for 2 s): busy"), log::text);
        }
    }

    @Test
    void aReadAfterA503WithRetryAfterWaitsItOutBeforeAskingAgain() throws Exception {
        URI feed = serve("1");
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO);

        FluxException busy = assertThrows(FluxException.class, () -> source.read(0, 10));
        List<RecordedEvent> read = source.read(0, 10);

        assertTrue(busy.getMessage().contains(" answered 503 (Retry-After: 1; this source sends the feed nothing for 1 s)"),
                busy.getMessage());
        assertEquals(1, read.size());
        assertEquals(2, requests.size());
        assertTrue(requests.get(1) - requests.get(0) >= TimeUnit.SECONDS.toNanos(1),
                () -> "asked again " + (requests.get(1) - requests.get(0)) / 1_000_000 + " ms after the 503");
    }

    @Test
    void aRetryAfterLongerThanAReadWaitsFailsTheReadsBeforeItEndsWithoutAskingTheFeed() throws Exception {
        URI feed = serve("120");
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO);
        assertThrows(FluxException.class, () -> source.read(0, 10));

        FluxException held = assertThrows(FluxException.class, () -> source.read(0, 10));
        FluxException headHeld = assertThrows(FluxException.class, source::end);

        assertTrue(held.getMessage().startsWith("the feed at " + feed + " answered 503 with Retry-After: 120: this source"
                + " sends it nothing for "), held.getMessage());
        assertTrue(held.getMessage().contains(" s more, longer than a read waits for that (5 s); not asking for " + feed
                + "?after=0&limit=10&include=data before then"), held.getMessage());
        assertTrue(headHeld.getMessage().contains("not asking for " + feed + "/head before then"), headHeld.getMessage());
        assertEquals(1, requests.size(), "only the first read reached the feed");
    }

    @Test
    void theAnswerWithARetryAfterAndTheReadsHeldBackByItGiveTheTimeToReadAgain() throws Exception {
        URI feed = serve("120");
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO);
        Instant before = Instant.now();

        RetryAfterException busy = assertThrows(RetryAfterException.class, () -> source.read(0, 10));
        RetryAfterException held = assertThrows(RetryAfterException.class, () -> source.read(0, 10));
        RetryAfterException headHeld = assertThrows(RetryAfterException.class, source::end);

        assertFalse(busy.retryAt().isBefore(before.plusSeconds(120)), () -> busy.retryAt() + " is before " + before + " + 120 s");
        assertFalse(busy.retryAt().isAfter(Instant.now().plusSeconds(120)), () -> busy.retryAt() + " is after now + 120 s");
        assertEquals(busy.retryAt(), held.retryAt());
        assertEquals(busy.retryAt(), headHeld.retryAt());
    }

    @Test
    void stopWaitingEndsAReadWaitingOutARetryAfterEmpty() throws Exception {
        URI feed = serve("4");
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO);
        assertThrows(FluxException.class, () -> source.read(0, 10));
        AtomicReference<Thread> reader = new AtomicReference<>();
        CompletableFuture<List<RecordedEvent>> read = CompletableFuture.supplyAsync(() -> {
            reader.set(Thread.currentThread());
            return source.read(0, 10);
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        // Asking nothing of the feed, the reading thread waits on a timer only while it waits out the Retry-After.
        while ((reader.get() == null || reader.get().getState() != Thread.State.TIMED_WAITING) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(reader.get() != null && reader.get().getState() == Thread.State.TIMED_WAITING,
                "the read waits out the Retry-After");

        source.stopWaiting();

        assertEquals(List.of(), read.get(10, TimeUnit.SECONDS));
        assertEquals(1, requests.size(), "the stopped read asked nothing");
    }

    @Test
    void aFeedThatAnswersAtOnceWithNothingOnceTheRetryAfterHasPassedIsNotAskedAgainAtOnce() throws Exception {
        URI feed = serve("2", "{\"events\":[]}");
        HttpEventSource source = HttpEventSource.of(feed, Duration.ofSeconds(5));
        assertThrows(FluxException.class, () -> source.read(0, 10));

        List<RecordedEvent> read = source.read(0, 10);

        assertEquals(List.of(), read);
        assertEquals(2, requests.size());
        assertFalse(source.waitsForEvents(), "the long poll after the Retry-After was answered at once, not held: the"
                + " time waited before asking is not the feed's");
    }

    @Test
    void aRetryAfterIsSecondsOrAnHttpDateAndHoldsASourceBackAtMostFiveMinutes() {
        Instant now = Instant.parse("2026-11-24T12:00:00Z");

        assertEquals(Duration.ofSeconds(30), HttpEventSource.retryAfter(" 30 ", now));
        assertEquals(Duration.ofSeconds(90), HttpEventSource.retryAfter("Tue, 24 Nov 2026 12:01:30 GMT", now));
        assertEquals(Duration.ZERO, HttpEventSource.retryAfter("Tue, 24 Nov 2026 11:00:00 GMT", now));
        assertEquals(Duration.ofMinutes(5), HttpEventSource.retryAfter("86400", now));
        assertEquals(Duration.ofMinutes(5), HttpEventSource.retryAfter("99999999999999999999999", now));
        assertNull(HttpEventSource.retryAfter("soon", now));
        assertNull(HttpEventSource.retryAfter("-5", now));
    }

    @Test
    void aRetryAfterDateMayBeInEitherObsoleteFormOfAnHttpDate() {
        Instant now = Instant.parse("2026-11-24T12:00:00Z");

        assertEquals(Duration.ofSeconds(90), HttpEventSource.retryAfter("Tuesday, 24-Nov-26 12:01:30 GMT", now));
        assertEquals(Duration.ofSeconds(90), HttpEventSource.retryAfter("Tue Nov 24 12:01:30 2026", now));
        assertEquals(Duration.ofSeconds(90), HttpEventSource.retryAfter("Tue Nov  3 00:01:30 2026",
                Instant.parse("2026-11-03T00:00:00Z")));
        assertEquals(Duration.ZERO, HttpEventSource.retryAfter("Sun Nov  6 08:49:37 1994", now));
        assertNull(HttpEventSource.retryAfter("Monday, 24-Nov-26 12:01:30 GMT", now), "the wrong day of the week");
        assertNull(HttpEventSource.retryAfter("Tue Nov 24 12:01:30 2026 GMT", now));
    }

    @Test
    void aTwoDigitYearMoreThanFiftyYearsAheadIsTheLastSuchYearGone() {
        Instant now = Instant.parse("2026-11-24T12:00:00Z");

        assertEquals(Duration.ofMinutes(5), HttpEventSource.retryAfter("Tuesday, 24-Nov-76 12:00:00 GMT", now), "2076");
        assertEquals(Duration.ZERO, HttpEventSource.retryAfter("Thursday, 24-Nov-77 12:00:00 GMT", now), "1977");
        assertEquals(Duration.ZERO, HttpEventSource.retryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), "1994");
    }

    @Test
    void aTwoDigitYearFiftyYearsAheadIsTheLastSuchYearGoneFromTheTimeItWouldBeMoreThanFiftyYearsAhead() {
        Instant now = Instant.parse("2026-11-24T12:00:00Z");

        assertEquals(Duration.ZERO, HttpEventSource.retryAfter("Thursday, 25-Nov-76 12:00:00 GMT", now), "1976, a Thursday");
        assertNull(HttpEventSource.retryAfter("Wednesday, 25-Nov-76 12:00:00 GMT", now),
                "1976 too, whose 25 November was no Wednesday (2076's is)");
        assertNull(HttpEventSource.retryAfter("Thursday, 01-Jan-76 12:00:00 GMT", now),
                "2076, less than 50 years ahead, whose 1 January is no Thursday (1976's was)");
    }

    /** A feed answering its first request 503 with {@code Retry-After: retryAfter}, and the next ones a page of one event. */
    private URI serve(String retryAfter) throws IOException {
        return serve(retryAfter, PAGE);
    }

    /** A feed answering its first request 503 with {@code Retry-After: retryAfter}, and the next ones {@code page} at once. */
    private URI serve(String retryAfter, String page) throws IOException {
        return serve(1, retryAfter, page);
    }

    /**
     * A feed answering its first {@code busy} requests 503 with {@code Retry-After: retryAfter}, and the next ones
     * at once: {@code page} after position 0, no events after that.
     */
    private URI serve(int busy, String retryAfter, String page) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/events", exchange -> {
            requests.add(System.nanoTime());
            if (requests.size() <= busy) {
                exchange.getResponseHeaders().set("Retry-After", retryAfter);
                busyAnswers.add(System.nanoTime());
                answer(exchange, 503, "busy");
            } else if (exchange.getRequestURI().getPath().endsWith("/head")) {
                answer(exchange, 200, "{\"position\":1}");
            } else {
                answer(exchange, 200, exchange.getRequestURI().getQuery().startsWith("after=0&") ? page : "{\"events\":[]}");
            }
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events");
    }

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
