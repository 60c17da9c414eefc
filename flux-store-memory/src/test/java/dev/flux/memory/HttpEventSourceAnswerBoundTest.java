package dev.flux.memory;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HttpEventSource} holds at most its bound of one answer's body: a feed (or a proxy in front of
 * it) that declares or sends more cannot fill the consumer's heap, and a page of big events comes in
 * smaller pages instead. Over real sockets on 127.0.0.1, against {@link FeedHandler} or a server that
 * misbehaves on purpose.
 */
@Timeout(120)
class HttpEventSourceAnswerBoundTest {
    private static final Pattern LIMIT = Pattern.compile("limit=(\\d+)");

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private int streams;

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        store.close();
    }

    @Test
    void anAnswerDeclaringABodyOverTheBoundIsRefusedBeforeItsBodyIsReadAndItsConnectionDropped() throws Exception {
        List<String> queries = new CopyOnWriteArrayList<>();
        CountDownLatch refused = new CountDownLatch(1);
        List<Boolean> droppedMidBody = new CopyOnWriteArrayList<>();
        URI feed = serve(exchange -> {
            queries.add(exchange.getRequestURI().getRawQuery());
            exchange.sendResponseHeaders(200, 64L << 20);
            exchange.getResponseBody().flush();
            try {
                refused.await(30, TimeUnit.SECONDS);     // no byte of the body is sent before the read has failed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            droppedMidBody.add(writeUntilClosed(exchange.getResponseBody(), 64L << 20, new AtomicLong()));
        });
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO).withMaxAnswerBytes(1 << 20);

        long started = System.nanoTime();
        FluxException tooLarge = assertThrows(FluxException.class, () -> source.read(0, 1000));
        refused.countDown();

        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10), "the bodies were never waited for");
        assertTrue(tooLarge.getMessage().contains("the feed at " + feed + "?after=0&limit=1&"), tooLarge.getMessage());
        assertTrue(tooLarge.getMessage().contains("declared a body of 67108864 bytes, over this source's bound of 1048576 bytes"),
                tooLarge.getMessage());
        assertTrue(tooLarge.getMessage().contains("HttpEventSource.withMaxAnswerBytes(long)"), tooLarge.getMessage());
        assertEquals(List.of(1000, 500, 250, 125, 62, 31, 15, 7, 3, 1), limits(queries),
                "each answer too big, it asked for half as many events, down to one, and then gave up");
        assertTrue(FeedTestBase.waitFor(() -> droppedMidBody.size() == queries.size()), droppedMidBody.toString());
        assertEquals(List.of(true), droppedMidBody.stream().distinct().toList(), "every connection was dropped mid-body");
    }

    @Test
    void anErrorAnswerOverTheBoundFailsAtOnceWithoutSmallerPagesOrAdviceToRaiseTheBound() throws Exception {
        List<String> queries = new CopyOnWriteArrayList<>();
        URI feed = serve(exchange -> {
            queries.add(exchange.getRequestURI().getRawQuery());
            exchange.sendResponseHeaders(502, 0);
            writeUntilClosed(exchange.getResponseBody(), 4L << 20, new AtomicLong());   // a proxy's error page, say
            exchange.close();
        });
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO).withMaxAnswerBytes(100_000);

        FluxException tooLarge = assertThrows(FluxException.class, () -> source.read(0, 1000));

        assertTrue(tooLarge.getMessage().contains("answered 502 and sent a body of more than this source's bound of 100000"),
                tooLarge.getMessage());
        assertTrue(tooLarge.getMessage().contains("not the feed's: check the URL"), tooLarge.getMessage());
        assertFalse(tooLarge.getMessage().contains("withMaxAnswerBytes"), tooLarge.getMessage());
        assertEquals(List.of(1000), limits(queries), "an error answer is not asked for again in smaller pages");
    }

    @Test
    void anEndlessChunkedBodyIsCutOffAtTheBoundAndItsConnectionDropped() throws Exception {
        AtomicLong written = new AtomicLong();
        List<Boolean> droppedMidBody = new CopyOnWriteArrayList<>();
        long endless = 8L << 30;                          // 8 GiB: more than the test's heap
        URI feed = serve(exchange -> {
            exchange.sendResponseHeaders(200, 0);         // chunked: no length to refuse it by
            droppedMidBody.add(writeUntilClosed(exchange.getResponseBody(), endless, written));
        });
        HttpEventSource source = HttpEventSource.of(feed, Duration.ZERO).withMaxAnswerBytes(1 << 20);

        long started = System.nanoTime();
        FluxException tooLarge = assertThrows(FluxException.class, () -> source.read(7, 1));
        long tookMillis = (System.nanoTime() - started) / 1_000_000;

        assertTrue(tookMillis < 5_000, "cut off at once, not at the read's time limit: " + tookMillis + " ms");
        assertTrue(tooLarge.getMessage().contains("the feed at " + feed + "?after=7&limit=1&include=data sent a body of "
                + "more than this source's bound of 1048576 bytes on one answer, with the event after position 7 alone"),
                tooLarge.getMessage());
        assertTrue(tooLarge.getMessage().contains("raise the bound with HttpEventSource.withMaxAnswerBytes(long)"),
                tooLarge.getMessage());
        assertTrue(FeedTestBase.waitFor(() -> droppedMidBody.size() == 1), "the server saw its connection closed");
        assertEquals(List.of(true), droppedMidBody);
        assertTrue(written.get() < 64L << 20, "the server could write only what sockets buffer past the bound, not "
                + "the endless body: " + written.get() + " bytes");
    }

    @Test
    void aRunOfEventsTooBigForOnePageComesInSmallerPagesAllInOrder() throws Exception {
        appendEvents(10, 10);
        appendEvents(12, 40_000);                          // a page of more than two is over the bound
        appendEvents(10, 10);
        List<String> queries = new CopyOnWriteArrayList<>();
        URI feed = serveFeed(queries);
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(feed, Duration.ofSeconds(1)).withMaxAnswerBytes(100_000))
                .batchSize(100).onRecorded(event -> seen.add(event.position())).start();
        try {
            assertTrue(subscription.awaitPosition(32, Duration.ofSeconds(30)), String.valueOf(subscription.lastError()));
        } finally {
            assertTrue(subscription.stop(Duration.ofSeconds(10)));
        }

        List<Long> expected = new ArrayList<>();
        for (long position = 1; position <= 32; position++) {
            expected.add(position);
        }
        assertEquals(expected, seen, "every event once, in order");
        assertNull(subscription.lastError(), "no read failed: the source asked for smaller pages itself");
        List<Integer> limits = limits(queries);
        assertEquals(List.of(100, 50, 25, 12), limits.subList(0, Math.min(4, limits.size())),
                "halved until a page fit: ten small events and two big");
        assertTrue(limits.contains(1), "later down to one big event at a time: " + limits);
        assertTrue(limits.get(limits.size() - 1) >= 8, "and up again once answers fit easily: " + limits);
        assertTrue(limits.size() <= 40, "a bounded number of requests for 32 events: " + limits);
    }

    @Test
    void oneEventOverTheBoundFailsTheReadClearlyAndIsNotSkipped() throws Exception {
        appendEvents(1, 10);
        appendEvents(1, 200_000);
        appendEvents(1, 10);
        URI feed = serveFeed(new CopyOnWriteArrayList<>());
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription bounded = Subscription.builder(HttpEventSource.of(feed, Duration.ofSeconds(1)).withMaxAnswerBytes(100_000))
                .name("bounded", offsets).checkpointEvery(1).errorDelay(Duration.ofMillis(20), Duration.ofMillis(200))
                .onRecorded(event -> seen.add(event.position())).start();
        try {
            assertTrue(FeedTestBase.waitFor(() -> bounded.lastError() != null && bounded.position() == 1), String.valueOf(bounded.lastError()));
            Thread.sleep(500);                             // it retries: still stuck, nothing skipped
            String message = bounded.lastError().getMessage();
            assertTrue(message.contains("the feed at " + feed + "?after=1&limit=1&"), message);
            assertTrue(message.contains("over this source's bound of 100000 bytes on one answer, with the event after "
                    + "position 1 alone"), message);
            assertTrue(message.contains("raise the bound with HttpEventSource.withMaxAnswerBytes(long)"), message);
            assertEquals(1, bounded.position());
            assertEquals(List.of(1L), seen);
        } finally {
            assertTrue(bounded.stop(Duration.ofSeconds(10)));
        }
        assertEquals(1, offsets.load("bounded"), "the offset stayed before the event");

        Subscription raised = Subscription.builder(HttpEventSource.of(feed, Duration.ofSeconds(1)).withMaxAnswerBytes(1 << 20))
                .name("bounded", offsets).onRecorded(event -> seen.add(event.position())).start();
        try {
            assertTrue(raised.awaitPosition(3, Duration.ofSeconds(20)), String.valueOf(raised.lastError()));
        } finally {
            assertTrue(raised.stop(Duration.ofSeconds(10)));
        }
        assertEquals(List.of(1L, 2L, 3L), seen, "with the bound raised, the event comes, then the rest");
    }

    @Test
    void theDefaultBoundPassesAFullPageAndAnEventAsBigAsAMongoDocumentInOneAnswerEach() throws Exception {
        appendEvents(1000, 8_000);                         // a page of 1,000 events of 8 KB: about 8 MB
        appendEvents(1, 16 << 20);
        List<String> queries = new CopyOnWriteArrayList<>();
        HttpEventSource source = HttpEventSource.of(serveFeed(queries), Duration.ZERO);

        List<RecordedEvent> page = source.read(0, 1000);
        List<RecordedEvent> big = source.read(1000, 1000);

        assertEquals(1000, page.size());
        assertEquals(1000, page.get(999).position());
        assertEquals(1, big.size());
        assertTrue(big.get(0).data().length > 16 << 20);
        assertEquals(List.of(1000, 1000), limits(queries), "one request each");
        assertEquals(HttpEventSource.DEFAULT_MAX_ANSWER_BYTES, 64L << 20);
    }

    @Test
    void theBoundIsCheckedAndSetOnACopyLeavingTheSourceAsItWas() throws Exception {
        appendEvents(1, 10_000);
        HttpEventSource source = HttpEventSource.of(serveFeed(new CopyOnWriteArrayList<>()), Duration.ZERO);

        for (long bad : new long[] {0, -1, Integer.MAX_VALUE, Long.MAX_VALUE}) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> source.withMaxAnswerBytes(bad));
            assertEquals("maxAnswerBytes must be between 1 and 2147483639 (the largest byte array), was " + bad,
                    refused.getMessage());
        }
        HttpEventSource small = source.withMaxAnswerBytes(1_000);

        assertThrows(FluxException.class, () -> small.read(0, 10));
        assertEquals(1, source.read(0, 10).size());
    }

    /** Appends {@code count} events whose data is about {@code bytes} long, each to a stream of its own. */
    private void appendEvents(int count, int bytes) {
        byte[] data = ("{\"pad\":\"" + "x".repeat(bytes) + "\"}").getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < count; i++) {
            store.append("Pad-" + streams++, ExpectedVersion.NO_STREAM,
                    List.of(EventData.of("Padded", data, Map.of())));
        }
    }

    /** The store's feed at {@code /events}, recording each request's query. */
    private URI serveFeed(List<String> queries) throws IOException {
        FeedHandler handler = FeedHandler.of(store);
        toClose.add(handler);
        return serve(exchange -> {
            if (!exchange.getRequestURI().getPath().endsWith("/head")) {     // a subscription also asks for the end
                queries.add(exchange.getRequestURI().getRawQuery());
            }
            handler.handle(exchange);
        });
    }

    /** Serves {@code handler} at {@code /events} on a loopback server with a thread per request; the feed's URI. */
    private URI serve(HttpHandler handler) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        ExecutorService threads = Executors.newCachedThreadPool();
        server.setExecutor(threads);
        server.createContext("/events", handler);
        server.start();
        toClose.add(threads::shutdownNow);
        toClose.add(() -> server.stop(0));
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events");
    }

    /**
     * Writes up to {@code bytes} of JSON-ish padding in 64 KiB pieces, counting them in {@code written};
     * true when the connection was closed before all of it went out.
     */
    private static boolean writeUntilClosed(OutputStream body, long bytes, AtomicLong written) {
        byte[] piece = new byte[64 << 10];
        Arrays.fill(piece, (byte) ' ');
        try {
            for (long sent = 0; sent < bytes; sent += piece.length) {
                body.write(piece);
                written.addAndGet(piece.length);
            }
            body.close();
            return false;
        } catch (IOException closed) {
            return true;
        }
    }

    private static List<Integer> limits(List<String> queries) {
        List<Integer> limits = new ArrayList<>();
        for (String query : queries) {
            Matcher limit = LIMIT.matcher(query);
            limits.add(limit.find() ? Integer.parseInt(limit.group(1)) : -1);
        }
        return limits;
    }
}
