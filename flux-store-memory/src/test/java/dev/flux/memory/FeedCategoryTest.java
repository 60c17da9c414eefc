package dev.flux.memory;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventStore;
import dev.flux.FluxException;
import dev.flux.ForwardingEventStore;
import dev.flux.RecordedEvent;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One category of the feed over real sockets: {@code GET /events?category=C} and
 * {@link HttpEventSource#withCategory}, against a memory store holding several categories.
 */
@Timeout(60)
class FeedCategoryTest extends FeedTestBase {
    /** Appends {@code count} events, the streams taking turns: Account-1, Order-1, Payment-1, Account-2, ... */
    private void appendMixed(int count) {
        String[] categories = {"Account", "Order", "Payment"};
        for (int i = 0; i < count; i++) {
            append(categories[i % 3] + "-" + (i / 3 % 4), i);
        }
    }

    private List<Long> positionsOf(String category) {
        return store.readCategory(category, 0, Integer.MAX_VALUE).stream().map(RecordedEvent::position).toList();
    }

    private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode getJson(URI uri) throws Exception {
        HttpResponse<String> response = get(uri);
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    private static List<Long> positions(JsonNode page) {
        List<Long> positions = new ArrayList<>();
        page.get("events").forEach(e -> positions.add(e.get("position").asLong()));
        return positions;
    }

    @Test
    void aCategoryPageListsThatCategorysEventsAloneAtTheirGlobalPositions() throws Exception {
        appendMixed(12);
        FeedServer feed = feed(FeedServer.builder(store));

        JsonNode page = getJson(URI.create(feed.uri() + "?category=Order&include=data"));

        assertEquals(List.of(2L, 5L, 8L, 11L), positions(page));
        page.get("events").forEach(e -> {
            assertEquals("Order", e.get("aggregate_name").asText());
            assertTrue(e.get("stream_id").asText().startsWith("Order-"), e.toString());
        });
        assertEquals(4, page.get("events").get(1).get("data").get("amount").asLong());
        assertEquals(feed.uri() + "?after=11&limit=100&category=Order&include=data", page.get("next").asText());
        JsonNode after = getJson(URI.create(feed.uri() + "?category=Order&after=5"));
        assertEquals(List.of(8L, 11L), positions(after), "after is a global position, as on the whole feed");
    }

    @Test
    void pagingThroughACategoryByNextLinksYieldsEachOfItsEventsOnceInOrder() throws Exception {
        appendMixed(150);
        append("Überweisung Eil+-1", 1);    // a category a link must escape: a space, a '+', non-ASCII
        appendMixed(60);
        append("Überweisung Eil+-2", 2);
        FeedServer feed = feed(FeedServer.builder(store));

        for (String category : List.of("Payment", "Überweisung Eil+")) {
            List<Long> positions = new ArrayList<>();
            URI next = URI.create(feed.uri() + "?limit=7&category="
                    + URLEncoder.encode(category, StandardCharsets.UTF_8));
            while (true) {
                JsonNode page = getJson(next);
                if (page.get("events").isEmpty()) {
                    break;
                }
                assertTrue(page.get("events").size() <= 7);
                page.get("events").forEach(e -> assertEquals(category, e.get("aggregate_name").asText()));
                positions.addAll(positions(page));
                next = URI.create(page.get("next").asText());
                assertTrue(next.getRawQuery().endsWith("&limit=7&category=" + URLEncoder.encode(category,
                        StandardCharsets.UTF_8)), next.toString());
            }

            assertEquals(positionsOf(category), positions, category);
        }
        assertEquals(List.of(151L, 212L), positionsOf("Überweisung Eil+"));
    }

    @Test
    void aHeldPollOnACategoryIsNeitherAnsweredNorLookedForByOtherCategoriesAppendsButIsByItsOwn() throws Exception {
        long last = append("Account-1", 1);
        HoldWatchingStore watched = new HoldWatchingStore(store);
        // No recheck during the test: only the store's append signal wakes held polls.
        FeedServer feed = feed(FeedServer.builder(watched).recheck(Duration.ofHours(1)));

        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(HttpRequest.newBuilder(
                URI.create(feed.uri() + "?category=Account&after=" + last + "&wait=30")).build(),
                HttpResponse.BodyHandlers.ofString());
        int held = watched.awaitLooks("Account", 0);
        for (int i = 0; i < 100; i++) {
            append(i % 2 == 0 ? "Order-1" : "Payment-1", 2);
        }
        assertThrows(TimeoutException.class, () -> poll.get(200, TimeUnit.MILLISECONDS),
                "an append to another category answered the poll");
        assertEquals(held, watched.looks("Account"), "appends to other categories made the feed look for Account");

        long own = append("Account-2", 4);
        JsonNode page = JSON.readTree(poll.get(10, TimeUnit.SECONDS).body());

        assertEquals(List.of(own), positions(page));
        assertEquals(102, own, "positions stay global");
        assertEquals(feed.uri() + "?after=102&limit=100&category=Account&wait=30", page.get("next").asText());
    }

    @Test
    void aHeldPollOnACategoryThatOnlyOthersAppendToEndsEmptyAtItsWaitPointingAtItself() throws Exception {
        append("Account-1", 1);
        HoldWatchingStore watched = new HoldWatchingStore(store);
        FeedServer feed = feed(FeedServer.builder(watched).recheck(Duration.ofMillis(50)));

        long asked = System.nanoTime();
        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(HttpRequest.newBuilder(
                URI.create(feed.uri() + "?category=Nobody&wait=1")).build(), HttpResponse.BodyHandlers.ofString());
        watched.awaitLooks("Nobody", 0);
        append("Order-1", 2);
        JsonNode page = JSON.readTree(poll.get(10, TimeUnit.SECONDS).body());
        long heldMillis = (System.nanoTime() - asked) / 1_000_000;

        assertEquals(0, page.get("events").size(), "a category without events (unknown or misspelled) reads empty");
        assertTrue(heldMillis >= 900, "held its 1 s wait, not answered by the other category's append: " + heldMillis + " ms");
        assertEquals(feed.uri() + "?after=0&limit=100&category=Nobody&wait=1", page.get("next").asText());
    }

    @Test
    void aHeldPollOnACategoryOfAStoreWithoutAppendSignalsIsAnsweredByTheRecheck() throws Exception {
        long last = append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(new SignallessReader(store)).recheck(Duration.ofMillis(50)));

        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(HttpRequest.newBuilder(
                URI.create(feed.uri() + "?category=Account&after=" + last + "&wait=30")).build(),
                HttpResponse.BodyHandlers.ofString());
        append("Order-1", 2);
        Thread.sleep(300);
        assertFalse(poll.isDone(), "rechecks found the other category's event and answered");
        long own = append("Account-2", 3);

        assertEquals(List.of(own), positions(JSON.readTree(poll.get(10, TimeUnit.SECONDS).body())));
    }

    @Test
    void badCategoriesGet400NamingTheParameterAndTheValue() throws Exception {
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store));
        Map<String, String> badRequests = new LinkedHashMap<>();
        badRequests.put("category=", "parameter 'category' must not be empty or blank, was ''");
        badRequests.put("category=%20+", "parameter 'category' must not be empty or blank, was '  '");
        badRequests.put("category=Account-1", "parameter 'category' must not contain '-', was 'Account-1'");
        badRequests.put("category=Acc%C3", "parameter 'category' is not percent-encoded UTF-8, was 'Acc%C3'");
        badRequests.put("category=%ED%A0%80", "parameter 'category' is not percent-encoded UTF-8, was '%ED%A0%80'");
        badRequests.put("category=Account&category=Order", "parameter 'category' is given more than once ('Account' and 'Order')");
        for (Map.Entry<String, String> bad : badRequests.entrySet()) {
            HttpResponse<String> response = get(URI.create(feed.uri() + "?" + bad.getKey()));

            assertEquals(400, response.statusCode(), bad.getKey() + " -> " + response.body());
            JsonNode error = JSON.readTree(response.body());
            assertEquals("bad_request", error.get("error").asText());
            assertTrue(error.get("message").asText().startsWith(bad.getValue()), bad.getKey() + " -> " + response.body());
        }
        assertEquals(1, getJson(URI.create(feed.uri() + "?category=Account&foo=%ED%A0%80")).get("events").size(),
                "an unknown parameter is ignored, whatever its encoding");
    }

    @Test
    void curlReadsACategoryAndGets400ForABadOne() throws Exception {
        assumeTrue(Curl.installed(), "curl is not installed");
        append("Account-1", 1);
        long compte = append("Compte_é-1", 2);
        long strasse = append("Straße-1", 3);
        FeedServer feed = feed(FeedServer.builder(store));

        Curl.Answer page = Curl.run(feed.uri() + "?category=Account&limit=5");
        Curl.Answer raw = Curl.run("-g", feed.uri() + "?category=Compte_é");    // curl sends the UTF-8 unescaped
        // ß's second byte, 0x9F, is a control character to java.net.URI: the JDK's server refuses the URL itself.
        Curl.Answer rawRefused = Curl.run("-g", feed.uri() + "?category=Straße");
        Curl.Answer encoded = Curl.run("-G", "--data-urlencode", "category=Straße", feed.uri().toString());
        Curl.Answer dash = Curl.run(feed.uri() + "?category=Account-1");
        Curl.Answer surrogate = Curl.run("-g", feed.uri() + "?category=%ED%B0%80");

        assertEquals(200, page.status(), page.body());
        assertEquals(List.of(1L), positions(JSON.readTree(page.body())));
        assertEquals(200, raw.status(), raw.body());
        assertEquals(List.of(compte), positions(JSON.readTree(raw.body())));
        assertEquals(400, rawRefused.status(), rawRefused.body());
        assertEquals(200, encoded.status(), encoded.body());
        assertEquals(List.of(strasse), positions(JSON.readTree(encoded.body())), "what the README tells curl users to send");
        assertEquals(400, dash.status(), dash.body());
        assertTrue(JSON.readTree(dash.body()).get("message").asText().contains("'category' must not contain '-', was 'Account-1'"),
                dash.body());
        assertEquals(400, surrogate.status(), surrogate.body());
        assertTrue(surrogate.body().contains("'category' is not percent-encoded UTF-8, was '%ED%B0%80'"), surrogate.body());
    }

    @Test
    void aSubscriptionOnOneCategoryOfTheFeedSeesEachOfItsEventsOnceInOrderAcrossARestart() throws Exception {
        appendMixed(30);
        FeedServer feed = feed(FeedServer.builder(store));
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        HttpEventSource accounts = HttpEventSource.of(feed.uri(), Duration.ofSeconds(1)).withCategory("Account");
        List<Long> seen = new CopyOnWriteArrayList<>();
        List<String> streams = new CopyOnWriteArrayList<>();

        Subscription first = subscribe(accounts, offsets, seen, streams);
        try {
            assertTrue(first.awaitPosition(28, Duration.ofSeconds(10)), String.valueOf(first.lastError()));
            append("Order-9", 100);
            long late = append("Account-9", 101);         // arrives through the long poll
            assertTrue(first.awaitPosition(late, Duration.ofSeconds(10)), String.valueOf(first.lastError()));
        } finally {
            assertTrue(first.stop(Duration.ofSeconds(10)));
        }
        assertEquals(32, offsets.load("accounts"), "the offset is the global position of the last Account event");

        append("Account-3", 102);
        append("Payment-1", 103);
        long last = append("Account-1", 104);
        append("Order-1", 105);
        Subscription second = subscribe(accounts, offsets, seen, streams);
        try {
            assertTrue(second.awaitPosition(last, Duration.ofSeconds(10)), String.valueOf(second.lastError()));
        } finally {
            assertTrue(second.stop(Duration.ofSeconds(10)));
        }

        assertEquals(positionsOf("Account"), seen, "each Account event once, in order, none of another category");
        assertTrue(streams.stream().allMatch(s -> s.startsWith("Account-")), streams.toString());
        assertEquals(last, offsets.load("accounts"));
        assertEquals(36, accounts.end(), "the end is the feed's last position, as for a category in process");
        assertEquals("category 'Account' of the feed " + feed.uri(), accounts.toString());
    }

    private static Subscription subscribe(HttpEventSource source, InMemoryOffsetStore offsets, List<Long> seen,
                                          List<String> streams) {
        return Subscription.builder(source).name("accounts", offsets)
                .onRecorded(Credited.class, (e, recorded) -> {
                    seen.add(recorded.position());
                    streams.add(recorded.streamId());
                })
                .start();
    }

    @Test
    void stoppingTheWaitOfOneCategorySourceLeavesTheLongPollOfAnotherFromTheSameSourceAlone() throws Exception {
        HoldWatchingStore watched = new HoldWatchingStore(store);
        FeedServer feed = feed(FeedServer.builder(watched));
        HttpEventSource all = HttpEventSource.of(feed.uri(), Duration.ofSeconds(10));
        HttpEventSource accounts = all.withCategory("Account");
        HttpEventSource orders = all.withCategory("Order");
        CompletableFuture<List<RecordedEvent>> accountRead = CompletableFuture.supplyAsync(() -> accounts.read(0, 10));
        CompletableFuture<List<RecordedEvent>> orderRead = CompletableFuture.supplyAsync(() -> orders.read(0, 10));
        watched.awaitLooks("Account", 0);
        watched.awaitLooks("Order", 0);     // both held by the feed

        // Again until it ends: the feed may hold the request a moment before the source has it as in flight.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!accountRead.isDone() && System.nanoTime() < deadline) {
            accounts.stopWaiting();
            Thread.sleep(10);
        }
        assertEquals(List.of(), accountRead.get(1, TimeUnit.SECONDS));
        Thread.sleep(100);
        assertFalse(orderRead.isDone(), "the other source's long poll was cut short too");
        long order = append("Order-1", 1);

        List<RecordedEvent> read = orderRead.get(10, TimeUnit.SECONDS);
        assertEquals(List.of(order), read.stream().map(RecordedEvent::position).toList());
        assertEquals("the feed " + feed.uri(), all.toString(), "the source a category was made from is left as it was");
    }

    @Test
    void aCategorySourceRefusesAFeedThatIgnoresTheCategoryAndABadCategory() throws Exception {
        append("Account-1", 1);
        append("Order-1", 2);
        FeedServer feed = feed(FeedServer.builder(store));
        String everyCategory = get(URI.create(feed.uri() + "?include=data")).body();
        // A feed older than the parameter: it ignores it and serves every category.
        HttpServer old = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        old.createContext("/events", exchange -> {
            byte[] body = everyCategory.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        old.start();
        toClose.add(() -> old.stop(0));
        HttpEventSource accounts = HttpEventSource.of(URI.create("http://127.0.0.1:" + old.getAddress().getPort() + "/events"),
                Duration.ZERO).withCategory("Account");

        FluxException refused = assertThrows(FluxException.class, () -> accounts.read(0, 10));

        assertTrue(refused.getMessage().contains("&category=Account&") && refused.getMessage().contains(
                "the event at position 2 is of stream 'Order-1', not of category 'Account'"), refused.getMessage());
        IllegalArgumentException dash = assertThrows(IllegalArgumentException.class,
                () -> HttpEventSource.of(feed.uri()).withCategory("Account-1"));
        assertEquals("category must not contain '-', was 'Account-1'", dash.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(feed.uri()).withCategory("Acc\uD800"));
    }

    @Test
    void aCategorySourceKeepsItsCategoryWhenItsAnswerBoundChanges() throws Exception {
        append("Account-1", 1);
        long order = append("Order-1", 2);
        FeedServer feed = feed(FeedServer.builder(store));

        HttpEventSource orders = HttpEventSource.of(feed.uri(), Duration.ZERO).withCategory("Order").withMaxAnswerBytes(1 << 20);

        assertEquals(List.of(order), orders.read(0, 10).stream().map(RecordedEvent::position).toList());
        assertEquals("category 'Order' of the feed " + feed.uri(), orders.toString());
    }

    /**
     * The store as the feed reads it, counting its reads of a single event (of a category, or of the whole
     * log): the feed makes them only while it holds a poll (the look once the poll joined the held ones,
     * then each check), so a test waits for them instead of sleeping and hoping the feed got there first.
     */
    private static final class HoldWatchingStore extends ForwardingEventStore {
        /** By category; the whole log's under "". */
        private final Map<String, AtomicInteger> looks = new ConcurrentHashMap<>();
        private final AtomicInteger allLooks = new AtomicInteger();

        HoldWatchingStore(EventStore store) {
            super(store);
        }

        @Override
        public List<RecordedEvent> readCategory(String category, long afterPosition, int maxCount) {
            List<RecordedEvent> read = super.readCategory(category, afterPosition, maxCount);
            looked(category, maxCount);
            return read;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            List<RecordedEvent> read = super.readAll(afterPosition, maxCount);
            looked("", maxCount);
            return read;
        }

        private void looked(String category, int maxCount) {
            if (maxCount == 1) {
                looks.computeIfAbsent(category, c -> new AtomicInteger()).incrementAndGet();
                allLooks.incrementAndGet();
            }
        }

        /** How often the feed has looked for an event of {@code category}. */
        int looks(String category) {
            return looks.getOrDefault(category, new AtomicInteger()).get();
        }

        /**
         * Waits until the feed has looked for an event of {@code category} (null: for any event) more than
         * {@code seen} times; returns how often.
         */
        int awaitLooks(String category, int seen) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int count;
            while ((count = category == null ? allLooks.get() : looks.getOrDefault(category, new AtomicInteger()).get()) <= seen) {
                assertTrue(System.nanoTime() < deadline, "the feed looked for an event" + (category == null ? "" : " of"
                        + " category '" + category + "'") + " " + count + " times in 10 s, expected more than " + seen);
                Thread.sleep(5);
            }
            return count;
        }
    }

    /** The store giving no append signal, as one shared with other processes: only rechecks find events. */
    private static final class SignallessReader extends ForwardingEventStore {
        SignallessReader(EventStore store) {
            super(store);
        }

        @Override
        public Runnable onAppend(Runnable listener) {
            if (listener == null) {
                throw new IllegalArgumentException("listener must not be null");
            }
            return () -> { };
        }
    }
}
