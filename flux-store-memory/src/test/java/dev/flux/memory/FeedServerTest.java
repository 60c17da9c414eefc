package dev.flux.memory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.BasicAuthenticator;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.Metadata;
import dev.flux.RecordedEvent;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.feed.RequestTimeout;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import javax.management.ObjectName;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(120)
class FeedServerTest extends FeedTestBase {
    private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode getJson(URI uri) throws Exception {
        HttpResponse<String> response = get(uri);
        assertEquals(200, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        return JSON.readTree(response.body());
    }

    @Test
    void pagingThroughTenThousandEventsByNextYieldsEachOnceInOrder() throws Exception {
        for (int i = 0; i < 10_000; i++) {
            append("Account-" + (i % 50), i);
        }
        FeedServer feed = feed(FeedServer.builder(store));

        List<Long> positions = new ArrayList<>();
        URI next = URI.create(feed.uri() + "?limit=100");
        int pages = 0;
        while (true) {
            JsonNode page = getJson(next);
            assertEquals("event feed", page.get("description").asText());
            if (page.get("events").isEmpty()) {
                break;
            }
            assertTrue(page.get("events").size() <= 100);
            page.get("events").forEach(e -> positions.add(e.get("position").asLong()));
            next = URI.create(page.get("next").asText());
            pages++;
        }

        List<Long> expected = store.readAll(0, Integer.MAX_VALUE).stream().map(RecordedEvent::position).toList();
        assertEquals(expected, positions);
        assertEquals(100, pages);
    }

    @Test
    void aPageOfBigEventsEndsAtAboutEightMebibytesAndItsNextLinkGoesOnFromThere() throws Exception {
        byte[] big = ("{\"pad\":\"" + "x".repeat(1 << 20) + "\"}").getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 40; i++) {
            store.append("Big-1", ExpectedVersion.ANY, List.of(EventData.of("Big", big, Map.of())));
        }
        FeedServer feed = feed(FeedServer.builder(store));

        List<Long> positions = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        URI next = URI.create(feed.uri() + "?limit=1000&include=data");
        while (true) {
            HttpResponse<String> answer = get(next);
            assertEquals(200, answer.statusCode());
            JsonNode page = JSON.readTree(answer.body());
            if (page.get("events").isEmpty()) {
                break;
            }
            sizes.add(answer.body().length());
            page.get("events").forEach(e -> positions.add(e.get("position").asLong()));
            next = URI.create(page.get("next").asText());
        }

        List<Long> expected = new ArrayList<>();
        for (long position = 1; position <= 40; position++) {
            expected.add(position);
        }
        assertEquals(expected, positions, "every event once, in order, page after page");
        assertTrue(sizes.stream().allMatch(size -> size < 9 << 20), "no page much over 8 MiB, though 1,000 events"
                + " were asked for (40 MiB of them): " + sizes);
        assertEquals(5, sizes.size(), "pages of eight 1 MiB events: " + sizes);
    }

    @Test
    void bigEventsAfterSmallOnesAreNotAllReadFromTheStoreForAPageThatHoldsAFewOfThem() throws Exception {
        for (int i = 0; i < 16; i++) {
            append("Account-" + i, i + 1);
        }
        byte[] big = ("{\"pad\":\"" + "x".repeat(64 << 10) + "\"}").getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 984; i++) {
            store.append("Big-1", ExpectedVersion.ANY, List.of(EventData.of("Big", big, Map.of())));
        }
        AtomicInteger handedOver = new AtomicInteger();
        EventReader reader = new ReadAllWatchingReader(store, (maxCount, read) -> handedOver.addAndGet(read.size()));
        FeedServer feed = feed(FeedServer.builder(reader));

        JsonNode page = getJson(URI.create(feed.uri() + "?limit=1000&include=data"));

        int served = page.get("events").size();
        assertTrue(served > 16 + 120 && served <= 16 + 128, "the small events and about 8 MiB of the 64 KiB ones: " + served);
        assertTrue(handedOver.get() <= served + 256, "the store handed over " + handedOver
                + " events for a page of " + served + ": the small ones first must not make the feed ask for all"
                + " the big ones at once");
    }

    @Test
    void entriesCarryTheFeedFieldsAndTheSingleEventItsDataAndMetadata() throws Exception {
        append("Account-42", 150);
        RecordedEvent recorded = store.readAll(0, 1).get(0);
        FeedServer feed = feed(FeedServer.builder(store));

        JsonNode entry = getJson(feed.uri()).get("events").get(0);
        assertEquals(recorded.eventId().toString(), entry.get("event_id").asText());
        assertEquals(feed.uri() + "/" + recorded.eventId(), entry.get("url").asText());
        assertEquals("Account", entry.get("aggregate_name").asText());
        assertEquals("42", entry.get("aggregate_id").asText());
        assertEquals("Account-42", entry.get("stream_id").asText());
        assertEquals(0, entry.get("aggregate_version").asLong());
        assertEquals("Credited", entry.get("event_type").asText());
        assertEquals(recorded.recordedAt(), Instant.parse(entry.get("created").asText()));
        assertTrue(entry.get("created").asText().endsWith("Z"), "created is UTC");
        assertEquals(recorded.position(), entry.get("position").asLong());
        assertFalse(entry.has("data"), "the list leaves data out unless include=data");

        JsonNode one = getJson(URI.create(entry.get("url").asText()));
        assertEquals(150, one.get("data").get("amount").asLong());
        assertEquals("c-150", one.get("metadata").get(Metadata.CORRELATION_ID).asText());
        assertEquals(recorded.eventId().toString(), one.get("event_id").asText());
    }

    @Test
    void afterLimitOffsetAndTheMaximumLimitWork() throws Exception {
        for (int i = 1; i <= 30; i++) {
            append("Account-1", i);
        }
        FeedServer feed = feed(FeedServer.builder(store).limits(10, 20));

        JsonNode first = getJson(feed.uri());
        assertEquals(10, first.get("events").size(), "default limit");
        assertEquals(feed.uri() + "?after=10&limit=10", first.get("next").asText());

        JsonNode clamped = getJson(URI.create(feed.uri() + "?after=5&limit=500"));
        assertEquals(20, clamped.get("events").size(), "limit above the maximum is cut to it");
        assertEquals(6, clamped.get("events").get(0).get("position").asLong());

        JsonNode byOffset = getJson(URI.create(feed.uri() + "?offset=28"));
        assertEquals(2, byOffset.get("events").size());
        assertEquals(29, byOffset.get("events").get(0).get("position").asLong());
        JsonNode bothAgreeing = getJson(URI.create(feed.uri() + "?after=28&offset=028"));
        assertEquals(29, bothAgreeing.get("events").get(0).get("position").asLong(), "the same number, written twice");

        JsonNode end = getJson(URI.create(feed.uri() + "?after=30"));
        assertEquals(0, end.get("events").size());
        assertEquals(feed.uri() + "?after=30&limit=10", end.get("next").asText(), "an empty page points at itself");

        assertEquals(30, getJson(URI.create(feed.uri() + "/head")).get("position").asLong());
    }

    @Test
    void aLongPollIsAnsweredByTheAppendNotByItsWaitEnding() throws Exception {
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store).recheck(Duration.ofHours(1)));

        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(
                HttpRequest.newBuilder(URI.create(feed.uri() + "?after=1&wait=30")).build(), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(200);
        assertFalse(poll.isDone(), "nothing after 1 yet: the request is held");

        long appended = System.nanoTime();
        append("Account-1", 2);
        HttpResponse<String> response = poll.get(10, TimeUnit.SECONDS);
        long tookMillis = (System.nanoTime() - appended) / 1_000_000;

        JsonNode page = JSON.readTree(response.body());
        assertEquals(1, page.get("events").size());
        assertEquals(2, page.get("events").get(0).get("position").asLong());
        assertTrue(tookMillis < 5_000, "held until its 30 s wait instead of the append: " + tookMillis + " ms");
    }

    @Test
    void aRecheckTooLongForALongOfMillisecondsMeansNeverAndTheAppendStillAnswersALongPoll() throws Exception {
        // ChronoUnit.FOREVER, "never recheck", failed with ArithmeticException: long overflow.
        append("Account-1", 1);
        // Once it holds a poll, the feed looks for a single event: from then on only the append can answer it.
        CountDownLatch holding = new CountDownLatch(1);
        EventReader reader = new ReadAllWatchingReader(store, (maxCount, read) -> {
            if (maxCount == 1) {
                holding.countDown();
            }
        });
        FeedServer feed = feed(FeedServer.builder(reader).recheck(ChronoUnit.FOREVER.getDuration()));

        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(
                HttpRequest.newBuilder(URI.create(feed.uri() + "?after=1&wait=30")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(holding.await(10, TimeUnit.SECONDS), "the feed never held the poll");
        append("Account-1", 2);
        JsonNode page = JSON.readTree(poll.get(10, TimeUnit.SECONDS).body());

        assertEquals(2, page.get("events").get(0).get("position").asLong());
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> FeedServer.builder(store).recheck(Duration.ofNanos(999_999)));
        assertEquals("recheck must be at least 1 ms, was PT0.000999999S", refused.getMessage());
    }

    @Test
    void aLongPollWithNothingNewEndsEmptyAfterItsWait() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store));

        JsonNode page = getJson(URI.create(feed.uri() + "?wait=1"));

        assertEquals(0, page.get("events").size());
    }

    @Test
    void aConsumerFollowingNextFromALongPollIsHeldUntilTheNextEventLands() throws Exception {
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store).recheck(Duration.ofHours(1)));
        JsonNode first = getJson(URI.create(feed.uri() + "?wait=30&include=data"));
        assertEquals(feed.uri() + "?after=1&limit=100&include=data&wait=30", first.get("next").asText());

        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(
                HttpRequest.newBuilder(URI.create(first.get("next").asText())).build(), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(500);
        assertFalse(poll.isDone(), "the page after the last event is long-polled, not answered empty at once");
        append("Account-1", 2);
        HttpResponse<String> response = poll.get(10, TimeUnit.SECONDS);

        JsonNode second = JSON.readTree(response.body());
        assertEquals(2, second.get("events").get(0).get("position").asLong());
        assertEquals(2, second.get("events").get(0).get("data").get("amount").asLong());
        assertEquals(feed.uri() + "?after=2&limit=100&include=data&wait=30", second.get("next").asText());
    }

    @Test
    void aNextLinkCarriesTheWaitAsTheFeedCutItAndCurlFollowingItIsHeldThatLong() throws Exception {
        assumeTrue(Curl.installed(), "curl is not installed");
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store).maxWait(Duration.ofSeconds(2)));
        JsonNode first = JSON.readTree(curl(feed.uri() + "?limit=5&wait=600"));
        String next = first.get("next").asText();
        assertEquals(feed.uri() + "?after=1&limit=5&wait=2", next);

        long asked = System.nanoTime();
        JsonNode empty = JSON.readTree(curl(next));
        long heldMillis = (System.nanoTime() - asked) / 1_000_000;

        assertEquals(0, empty.get("events").size());
        assertTrue(heldMillis >= 1_500 && heldMillis < 8_000, "held " + heldMillis + " ms for a 2 s wait");
        assertEquals(next, empty.get("next").asText(), "an empty page points at itself, wait and all");
    }

    @Test
    void aNextLinkFromARequestWithoutWaitOrWithWaitZeroHasNoWait() throws Exception {
        append("Account-1", 1);
        // Once it holds a poll, the feed looks for a single event.
        AtomicInteger holds = new AtomicInteger();
        EventReader reader = new ReadAllWatchingReader(store, (maxCount, read) -> {
            if (maxCount == 1) {
                holds.incrementAndGet();
            }
        });
        FeedServer feed = feed(FeedServer.builder(reader));

        JsonNode plain = getJson(URI.create(feed.uri() + "?include=data"));
        JsonNode zero = getJson(URI.create(feed.uri() + "?after=1&wait=0"));

        assertEquals(feed.uri() + "?after=1&limit=100&include=data", plain.get("next").asText());
        assertEquals(feed.uri() + "?after=1&limit=100", zero.get("next").asText());
        assertEquals(0, getJson(URI.create(zero.get("next").asText())).get("events").size());
        assertEquals(0, holds.get(), "a plain poll is answered at once, never held");
    }

    @Test
    void closeAnswersAHeldLongPollWithAnEmptyPage() throws Exception {
        // Once it holds a poll, the feed looks for a single event.
        CountDownLatch holding = new CountDownLatch(1);
        EventReader reader = new ReadAllWatchingReader(store, (maxCount, read) -> {
            if (maxCount == 1) {
                holding.countDown();
            }
        });
        FeedServer feed = feed(FeedServer.builder(reader));
        CompletableFuture<HttpResponse<String>> poll = http.sendAsync(
                HttpRequest.newBuilder(URI.create(feed.uri() + "?wait=20")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(holding.await(10, TimeUnit.SECONDS), "the feed never held the poll");

        feed.close();

        HttpResponse<String> response = poll.get(5, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode(), response.body());
        assertEquals(0, JSON.readTree(response.body()).get("events").size());
    }

    @Test
    void heldLongPollsDoNotUseUpTheRequestThreads() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store).threads(2));
        List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            polls.add(http.sendAsync(HttpRequest.newBuilder(URI.create(feed.uri() + "?wait=30")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        Thread.sleep(300);

        HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create(feed.uri() + "/head"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());

        append("Account-1", 1);
        for (CompletableFuture<HttpResponse<String>> poll : polls) {
            assertEquals(1, JSON.readTree(poll.get(10, TimeUnit.SECONDS).body()).get("events").size());
        }
    }

    @Test
    void badRequestsGetJsonErrorsNamingTheProblem() throws Exception {
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store));
        String base = feed.uri().toString();
        Map<String, String> badRequests = Map.of(
                "?after=abc", "'after' must be a whole number",
                "?after=-1", "'after' must be >= 0",
                "?limit=0", "'limit' must be >= 1",
                "?limit=ten", "'limit' must be a whole number",
                "?wait=-5", "'wait' must be >= 0",
                "?wait=1.5", "'wait' must be a whole number",
                "?include=everything", "'include' can only be 'data'",
                "?after=1&offset=2", "disagree",
                "?after=1&after=2", "more than once");
        for (Map.Entry<String, String> bad : badRequests.entrySet()) {
            HttpResponse<String> response = get(URI.create(base + bad.getKey()));
            assertEquals(400, response.statusCode(), bad.getKey() + " -> " + response.body());
            JsonNode error = JSON.readTree(response.body());
            assertEquals("bad_request", error.get("error").asText());
            assertTrue(error.get("message").asText().contains(bad.getValue()), bad.getKey() + " -> " + response.body());
            assertFalse(response.body().contains("at dev.flux"), "no stack trace");
        }

        for (String missing : List.of(base + "/" + UUID.randomUUID(), base + "/not-a-uuid", base + "/a/b", base + "xyz",
                base.replace("/events", "/nothing-here"))) {
            HttpResponse<String> response = get(URI.create(missing));
            assertEquals(404, response.statusCode(), missing + " -> " + response.body());
            assertEquals("not_found", JSON.readTree(response.body()).get("error").asText());
        }

        HttpResponse<String> post = http.send(HttpRequest.newBuilder(feed.uri())
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
        assertEquals("method_not_allowed", JSON.readTree(post.body()).get("error").asText());
    }

    @Test
    void headIsAnsweredAsGetWithTheSameStatusAndHeadersAndNoBody() throws Exception {
        append("Account-1", 1);
        append("Account-2", 2);
        FeedServer feed = feed(FeedServer.builder(store));
        UUID id = store.readAll(0, 1).get(0).eventId();

        for (String target : List.of(feed.uri() + "?after=0", feed.uri() + "?category=Account&limit=1",
                feed.uri() + "/head", feed.uri() + "/" + id, feed.uri() + "/" + UUID.randomUUID(),
                feed.uri() + "?limit=many", feed.uri() + "/a/b")) {
            HttpResponse<byte[]> get = http.send(HttpRequest.newBuilder(URI.create(target)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            HttpResponse<byte[]> head = http.send(HttpRequest.newBuilder(URI.create(target))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray());

            assertEquals(get.statusCode(), head.statusCode(), target);
            assertEquals(0, head.body().length, target);
            assertEquals(String.valueOf(get.body().length), head.headers().firstValue("Content-Length").orElse(""), target);
            assertEquals(get.headers().firstValue("Content-Type"), head.headers().firstValue("Content-Type"), target);
        }

        HttpResponse<String> put = http.send(HttpRequest.newBuilder(feed.uri())
                .PUT(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, put.statusCode());
        assertEquals("GET, HEAD", put.headers().firstValue("Allow").orElse(""));

        assumeTrue(Curl.installed(), "curl is not installed");
        // The refusals made before the feed handler runs (the Host check here) answer a HEAD without a body too.
        Curl.Answer refused = Curl.run("-I", "-H", "Host: rebound.example", feed.uri() + "?after=0");
        assertEquals(421, refused.status(), refused.body());
        assertTrue(refused.body().toLowerCase(java.util.Locale.ROOT).contains("content-length:"), refused.body());
        Curl.Answer head = Curl.run("-I", feed.uri() + "/head");
        assertEquals(200, head.status(), head.body());
    }

    @Test
    void aCorruptStoredBodyIsA500NamingTheEventNotAStackTrace() throws Exception {
        store.append("Account-7", ExpectedVersion.ANY, List.of(EventData.of("Credited",
                "{broken".getBytes(StandardCharsets.UTF_8), Map.of())));
        UUID id = store.readAll(0, 1).get(0).eventId();
        FeedServer feed = feed(FeedServer.builder(store));

        HttpResponse<String> response = get(URI.create(feed.uri() + "/" + id));

        assertEquals(500, response.statusCode());
        String message = JSON.readTree(response.body()).get("message").asText();
        assertTrue(message.contains("Account-7@0") && message.contains("Credited"), message);
    }

    @Test
    void theHandlerMountsUnderAPrefixInAServerOfYourOwn() throws Exception {
        append("Account-1", 5);
        FeedHandler handler = FeedServer.builder(store).handler();
        toClose.add(handler);
        String base = serve("/api/v1/events", handler) + "/api/v1/events";

        JsonNode page = getJson(URI.create(base));

        assertEquals(base + "?after=1&limit=100", page.get("next").asText());
        JsonNode one = getJson(URI.create(page.get("events").get(0).get("url").asText()));
        assertEquals(5, one.get("data").get("amount").asLong());
    }

    @Test
    void curlCanReadTheFeed() throws Exception {
        assumeTrue(Curl.installed(), "curl is not installed");
        append("Account-1", 9);
        FeedServer feed = feed(FeedServer.builder(store));

        Curl.Answer page = Curl.run(feed.uri() + "?after=0&limit=5");
        assertEquals(200, page.status(), page.body());
        assertEquals("Credited", JSON.readTree(page.body()).get("events").get(0).get("event_type").asText());

        Curl.Answer bad = Curl.run(feed.uri() + "?limit=x");
        assertEquals(400, bad.status(), bad.body());

        // A broken escape that HttpClient refuses to send: the JDK server answers 400 before the feed sees it.
        Curl.Answer malformed = Curl.run("-g", feed.uri() + "?after=%zz");
        assertEquals(400, malformed.status(), malformed.body());
        assertEquals(200, get(feed.uri()).statusCode(), "the feed serves on after a malformed request");
    }

    @Test
    void linksStartWithThePublicUriWhenOneIsGiven() throws Exception {
        append("Account-1", 5);
        FeedServer proxied = feed(FeedServer.builder(store).publicUri(URI.create("https://feed.example.com/accounts/events/")));

        JsonNode page = getJson(URI.create(proxied.uri() + "?after=0"));

        assertEquals("https://feed.example.com/accounts/events?after=1&limit=100", page.get("next").asText());
        String id = page.get("events").get(0).get("event_id").asText();
        assertEquals("https://feed.example.com/accounts/events/" + id, page.get("events").get(0).get("url").asText());
        assertEquals("https://feed.example.com/accounts/events/" + id,
                getJson(URI.create(proxied.uri() + "/" + id)).get("url").asText());
        // A Compose service name, which URI.getHost() cannot parse, and a path that needs escaping.
        FeedServer composed = feed(FeedServer.builder(store).publicUri(new URI("http", "feed_svc:8080", "/konten/événements",
                null, null)));
        assertEquals("http://feed_svc:8080/konten/%C3%A9v%C3%A9nements?after=1&limit=100",
                getJson(URI.create(composed.uri() + "?after=0")).get("next").asText());
    }

    @Test
    void linksFollowTheHostHeaderUnlessAPublicUriIsGiven() throws Exception {
        assumeTrue(Curl.installed(), "curl is not installed");
        append("Account-1", 5);
        FeedServer plain = feed(FeedServer.builder(store).allowedHosts("elsewhere.example"));
        FeedServer proxied = feed(FeedServer.builder(store).publicUri(URI.create("https://feed.example.com/events"))
                .allowedHosts("elsewhere.example"));

        JsonNode echoed = JSON.readTree(curl("-H", "Host: elsewhere.example:81", plain.uri() + "?after=0"));
        JsonNode fixed = JSON.readTree(curl("-H", "Host: elsewhere.example:81", proxied.uri() + "?after=0"));

        assertEquals("http://elsewhere.example:81/events?after=1&limit=100", echoed.get("next").asText());
        assertEquals("https://feed.example.com/events?after=1&limit=100", fixed.get("next").asText());
    }

    /** The body of a 200 answer to curl with {@code arguments}. */
    private static String curl(String... arguments) throws Exception {
        Curl.Answer answer = Curl.run(arguments);
        assertEquals(200, answer.status(), answer.body());
        return answer.body();
    }

    @Test
    void aSubscriptionInAnotherProcessStyleFollowsTheFeedOverHttp() throws Exception {
        for (int i = 1; i <= 250; i++) {
            append("Account-" + (i % 5), i);
        }
        FeedServer feed = feed(FeedServer.builder(store));
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        List<Long> amounts = new CopyOnWriteArrayList<>();
        List<String> correlations = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(feed.uri(), Duration.ofSeconds(2)))
                .name("remote", offsets).batchSize(100)
                .onRecorded(Credited.class, (e, recorded) -> {
                    amounts.add(e.amount());
                    correlations.add(recorded.metadata().get(Metadata.CORRELATION_ID));
                })
                .start();
        try {
            assertTrue(subscription.awaitPosition(250, Duration.ofSeconds(20)), String.valueOf(subscription.lastError()));
            append("Account-1", 251);
            assertTrue(subscription.awaitPosition(251, Duration.ofSeconds(20)), "a new event arrives through the long poll");
        } finally {
            assertTrue(subscription.stop(Duration.ofSeconds(20)));
        }

        List<Long> expected = new ArrayList<>();
        for (long i = 1; i <= 251; i++) {
            expected.add(i);
        }
        assertEquals(expected, amounts);
        assertEquals("c-251", correlations.get(250));
        assertEquals(251, offsets.load("remote"));
    }

    @Test
    void theHttpSourceReadsBytesThatDecodeAsTheStoredOnesDo() throws Exception {
        append("Account-1", 77);
        FeedServer feed = feed(FeedServer.builder(store));

        RecordedEvent remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).get(0);
        RecordedEvent local = store.readAll(0, 1).get(0);

        assertEquals(local.eventId(), remote.eventId());
        assertEquals(local.streamId(), remote.streamId());
        assertEquals(local.version(), remote.version());
        assertEquals(local.position(), remote.position());
        assertEquals(local.metadata(), remote.metadata());
        assertEquals(local.recordedAt(), remote.recordedAt());
        assertEquals(serializer.deserialize(local), serializer.deserialize(remote));
        assertArrayEquals(JSON.writeValueAsBytes(JSON.readTree(local.data())), remote.data());
        assertEquals(1, HttpEventSource.of(feed.uri()).end());
    }

    @Test
    void theHttpSourceReportsADownServerAndMalformedAnswersClearly() throws Exception {
        String base = serve("/events", exchange -> answer(exchange,
                exchange.getRequestURI().getPath().endsWith("/head") ? "[1,2" : "{\"events\": [{\"position\": 1}]}"));
        String broken = serve("/broken", exchange -> {
            exchange.sendResponseHeaders(503, -1);
            exchange.close();
        });

        FluxException noEntry = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).read(0, 10));
        assertTrue(noEntry.getMessage().contains("malformed feed response from " + base + "/events"), noEntry.getMessage());
        FluxException notJson = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).end());
        assertTrue(notJson.getMessage().contains("not JSON"), notJson.getMessage());
        FluxException unavailable = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(broken + "/broken"), Duration.ZERO).read(0, 10));
        assertTrue(unavailable.getMessage().contains("answered 503"), unavailable.getMessage());

        int freePort;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            freePort = socket.getLocalPort();
        }
        URI nobody = URI.create("http://127.0.0.1:" + freePort + "/events");
        FluxException down = assertThrows(FluxException.class, () -> HttpEventSource.of(nobody, Duration.ZERO).read(0, 10));
        assertTrue(down.getMessage().contains("cannot read the feed at " + nobody), down.getMessage());

        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(URI.create("ftp://x/events")));
        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(URI.create("/events")));
        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(URI.create("http://x/events?after=3")));
        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(URI.create("http://x/events#feed")),
                "a fragment would swallow the query the source adds");
        IllegalArgumentException forever = assertThrows(IllegalArgumentException.class,
                () -> HttpEventSource.of(URI.create("http://x/events"), Duration.ofSeconds(Long.MAX_VALUE)));
        assertTrue(forever.getMessage().startsWith("wait must be from zero to 1 day"), forever.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HttpEventSource.of(URI.create("http://x/events"), Duration.ofSeconds(-1)));
        assertEquals(Duration.ofDays(1).plusSeconds(10), HttpEventSource.of(URI.create("http://x/events"), Duration.ofDays(1))
                .longestWait(), "a read blocks its wait, plus 10 s for the answer");
        assertEquals(Duration.ofSeconds(12), HttpEventSource.of(URI.create("http://x/events"), Duration.ofMillis(1_001))
                .longestWait(), "the wait is asked for in whole seconds, rounded up");
        assertEquals(Duration.ofSeconds(10), HttpEventSource.of(URI.create("http://x/events"), Duration.ZERO).longestWait(),
                "a plain poll still waits up to 10 s for its answer");
    }

    @Test
    void aSubscriptionToAUrlAnsweringARedirectOrAnHtmlPageTellsWhereItWasSentAndWhatCame() throws Exception {
        String base = serve("/events", exchange -> {
            if (exchange.getRequestURI().getPath().startsWith("/events/moved")) {
                exchange.getResponseHeaders().set("Location", "https://accounts.example/events");
                exchange.sendResponseHeaders(301, -1);
                exchange.close();
                return;
            }
            byte[] page = "<html>\n<title>Sign in</title><body>Please sign in</body></html>".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/html");
            exchange.sendResponseHeaders(200, page.length);
            exchange.getResponseBody().write(page);
            exchange.close();
        });
        List<String> errors = new ArrayList<>();
        for (String path : List.of("/events/moved", "/events/login")) {
            Subscription subscription = Subscription.builder(HttpEventSource.of(URI.create(base + path), Duration.ZERO))
                    .errorDelay(Duration.ofMillis(20), Duration.ofMillis(100)).onRecorded(e -> { }).start();
            try {
                assertTrue(waitFor(() -> subscription.lastError() != null));
                errors.add(subscription.lastError().getMessage());
                assertEquals(Subscription.State.RUNNING, subscription.state(), "it goes on trying");
            } finally {
                assertTrue(subscription.stop(Duration.ofSeconds(10)));
            }
        }

        assertTrue(errors.get(0).contains("answered 301, redirecting to https://accounts.example/events, which the source"
                + " does not follow: give it the feed's own URL"), errors.get(0));
        assertTrue(errors.get(1).contains("the body is not JSON: "), errors.get(1));
        assertTrue(errors.get(1).contains("it starts: '<html> <title>Sign in</title><body>Please sign in</body></html>'"
                + " (is this the feed's URL?)"), errors.get(1));
    }

    @Test
    void theHttpSourceRefusesAPositionALongCannotHoldTextAfterThePageAndMetadataThatIsNotText() throws Exception {
        String base = serve("/events", exchange -> answer(exchange, exchange.getRequestURI().getPath().endsWith("/huge")
                ? "{\"events\": [" + feedEntry("18446744073709551621") + "]}"      // 2^64 + 5
                : exchange.getRequestURI().getPath().endsWith("/meta")
                        ? "{\"events\": [" + feedEntry("5").replace("\"metadata\":{}", "\"metadata\":{\"retries\":2}") + "]}"
                        : exchange.getRequestURI().getPath().endsWith("/cut")
                                ? "{\"events\": [" + feedEntry("5").substring(0, 40)
                                : "{\"events\": [" + feedEntry("5") + "]} <html>oops</html>"));

        FluxException cut = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events/cut"), Duration.ZERO).read(0, 10));
        assertTrue(cut.getMessage().contains("the body is not JSON: ") && cut.getMessage().contains("it starts: '{\"events\""),
                cut.getMessage());
        assertFalse(cut.getMessage().contains("is this the feed's URL?"), "a cut-off page is the feed's: " + cut.getMessage());

        FluxException meta = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events/meta"), Duration.ZERO).read(0, 10));
        assertTrue(meta.getMessage().contains("malformed feed response") && meta.getMessage().contains("the metadata"
                + " 'retries' of an entry is number, not text"), meta.getMessage());

        FluxException huge = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events/huge"), Duration.ZERO).read(0, 10));
        assertTrue(huge.getMessage().contains("'position'"), huge.getMessage());
        FluxException trailing = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).read(0, 10));
        assertTrue(trailing.getMessage().contains("malformed feed response"), trailing.getMessage());
    }

    @Test
    void aFeedWhoseBodyStallsAfterTheHeadersFailsTheReadInsteadOfHangingIt() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpServer stalling = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        stalling.setExecutor(Executors.newCachedThreadPool());
        stalling.createContext("/events", exchange -> {
            exchange.sendResponseHeaders(200, 1000);
            exchange.getResponseBody().write("{\"events\": [".getBytes(StandardCharsets.UTF_8));
            exchange.getResponseBody().flush();
            try {
                release.await(60, TimeUnit.SECONDS);     // a partition, or a server stuck mid-page
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.close();
        });
        stalling.start();
        toClose.add(() -> stalling.stop(0));
        toClose.add(release::countDown);
        HttpEventSource source = HttpEventSource.of(URI.create("http://127.0.0.1:" + stalling.getAddress().getPort()
                + "/events"), Duration.ZERO);     // its time limit: 10 s

        long started = System.nanoTime();
        FluxException stalled = assertThrows(FluxException.class, () -> source.read(0, 10));

        long took = System.nanoTime() - started;
        assertTrue(stalled.getMessage().contains("did not answer in full within 10 s"), stalled.getMessage());
        assertTrue(took < source.longestWait().plusSeconds(3).toNanos(), "a read blocks at most about longestWait(), "
                + source.longestWait() + "; this one " + took / 1_000_000 + " ms");
    }

    /** One entry of a feed page, as {@code include=data} serves it, at {@code position}. */
    private static String feedEntry(String position) {
        return "{\"event_id\":\"" + UUID.randomUUID() + "\",\"stream_id\":\"Account-1\",\"aggregate_version\":0,"
                + "\"event_type\":\"Credited\",\"created\":\"2026-01-01T00:00:00Z\",\"position\":" + position
                + ",\"metadata\":{},\"data\":{\"amount\":1}}";
    }

    @Test
    void aSubscriptionRidesOutTheFeedGoingAwayAndComingBack() throws Exception {
        append("Account-1", 1);
        FeedServer first = FeedServer.builder(store).start();
        int port = first.port();
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        List<Long> amounts = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(first.uri(), Duration.ofSeconds(1)))
                .name("resilient", offsets).errorDelay(Duration.ofMillis(20), Duration.ofMillis(200))
                .on(Credited.class, e -> amounts.add(e.amount())).start();
        try {
            assertTrue(subscription.awaitPosition(1, Duration.ofSeconds(20)));
            first.close();
            append("Account-1", 2);
            assertTrue(waitFor(() -> subscription.lastError() != null), "the subscription noticed the feed is gone");

            FeedServer second = feed(FeedServer.builder(store).port(port));
            assertTrue(subscription.awaitPosition(2, Duration.ofSeconds(20)), second.uri() + " " + subscription.lastError());
        } finally {
            assertTrue(subscription.stop(Duration.ofSeconds(20)));
        }
        assertEquals(List.of(1L, 2L), amounts);
    }

    @Test
    void stoppingASubscriptionCancelsItsLongPoll() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store));
        Subscription subscription = Subscription.builder(HttpEventSource.of(feed.uri(), Duration.ofSeconds(30)))
                .onRecorded(e -> { }).start();
        Thread.sleep(300); // it is now held in a 30 s long poll on the empty feed

        long started = System.nanoTime();
        assertTrue(subscription.stop(Duration.ofSeconds(20)));
        long tookMillis = (System.nanoTime() - started) / 1_000_000;

        assertTrue(tookMillis < 10_000, "stop waited for the long poll to end: " + tookMillis + " ms");
        assertEquals(Subscription.State.STOPPED, subscription.state());
    }

    @Test
    void aStopThatCancelsTheFeedsEndOnStartOrAfterAStoredOffsetIsAStopNotAnError() throws Exception {
        CountDownLatch headAsked = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        HttpServer slowHead = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        slowHead.setExecutor(Executors.newCachedThreadPool());
        slowHead.createContext("/events", exchange -> {
            if (exchange.getRequestURI().getPath().endsWith("/head")) {
                headAsked.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);     // a feed slow to tell its end
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                answer(exchange, "{\"position\": 5}");
            } else {
                answer(exchange, "{\"events\": []}");
            }
        });
        slowHead.start();
        toClose.add(() -> slowHead.stop(0));
        toClose.add(release::countDown);
        URI uri = URI.create("http://127.0.0.1:" + slowHead.getAddress().getPort() + "/events");
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        offsets.save("resumed", 5);
        List<Subscription> subscriptions = List.of(
                Subscription.builder(HttpEventSource.of(uri, Duration.ofSeconds(1))).name("resumed", offsets)
                        .onRecorded(e -> { }).start(),          // checks its stored offset against the end
                Subscription.builder(HttpEventSource.of(uri, Duration.ofSeconds(1))).name("new", offsets).startAtEnd()
                        .onRecorded(e -> { }).start());         // starts at the end
        assertTrue(headAsked.await(20, TimeUnit.SECONDS), "both asked for the feed's end");

        for (Subscription subscription : subscriptions) {
            assertTrue(subscription.stop(Duration.ofSeconds(5)));

            assertEquals(Subscription.State.STOPPED, subscription.state());
            assertEquals(null, subscription.lastError(), "the request the stop cancelled is no error to report");
        }
        assertEquals(5, offsets.load("resumed"));
        assertFalse(offsets.find("new").isPresent(), "no start stored: the end was never known");
    }

    @Test
    void numbersInTheDataKeepEveryDigitThroughTheFeedAndTheHttpSource() throws Exception {
        String body = "{\"amount\":12345678901234567.89,\"rate\":0.10000000000000000001,\"price\":1.10,"
                + "\"huge\":1e400,\"count\":123456789012345678901234567890}";
        EventData stored = EventData.of("Priced", body.getBytes(StandardCharsets.UTF_8), Map.of());
        store.append("Price-1", ExpectedVersion.NO_STREAM, List.of(stored));
        FeedServer feed = feed(FeedServer.builder(store));

        String one = get(URI.create(feed.uri() + "/" + stored.eventId())).body();
        String page = get(URI.create(feed.uri() + "?include=data")).body();
        for (String served : List.of(one, page)) {
            assertTrue(served.contains(body), "the data as stored, digit for digit: " + served);
        }
        if (Curl.installed()) {
            String out = Curl.run(feed.uri() + "/" + stored.eventId()).body();
            assertTrue(out.contains(body), out);
        }

        RecordedEvent remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).get(0);
        ObjectMapper exact = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
        JsonNode received = exact.readTree(remote.data());
        assertEquals(0, new BigDecimal("12345678901234567.89").compareTo(received.get("amount").decimalValue()));
        assertEquals(0, new BigDecimal("0.10000000000000000001").compareTo(received.get("rate").decimalValue()));
        assertEquals(0, new BigDecimal("1e400").compareTo(received.get("huge").decimalValue()));
        assertEquals(new java.math.BigInteger("123456789012345678901234567890"), received.get("count").bigIntegerValue());
        assertTrue(new String(remote.data(), StandardCharsets.UTF_8).contains("\"price\":1.10"), "the scale is kept too");
    }

    record Reading(double delta) { }

    @Test
    void aNegativeZeroInTheDataReachesTheHttpSourceAsItDecodesFromTheStore() throws Exception {
        JacksonEventSerializer readings = new JacksonEventSerializer(EventTypes.of(Reading.class));
        store.append("Meter-1", ExpectedVersion.NO_STREAM, List.of(readings.serialize(new Reading(-0.0), Map.of())));
        FeedServer feed = feed(FeedServer.builder(store));

        RecordedEvent remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).get(0);

        assertEquals(new Reading(-0.0), readings.deserialize(store.readAll(0, 1).get(0)));
        assertEquals(new Reading(-0.0), readings.deserialize(remote), new String(remote.data(), StandardCharsets.UTF_8));
    }

    @Test
    void dataNestedAsDeepAsTheStoreReadsItComesThroughTheFeedAndTheHttpSource() throws Exception {
        String nested = "[".repeat(1000) + "]".repeat(1000);
        assertEquals(1000, depth(JSON.readTree(nested)), "the in-process reader takes it");
        store.append("Deep-1", ExpectedVersion.NO_STREAM, List.of(EventData.of("Deep", nested.getBytes(StandardCharsets.UTF_8),
                Map.of())));
        FeedServer feed = feed(FeedServer.builder(store));

        HttpResponse<String> page = get(URI.create(feed.uri() + "?include=data"));
        assertEquals(200, page.statusCode(), page.body());
        RecordedEvent remote = HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).get(0);

        assertEquals(nested, new String(remote.data(), StandardCharsets.UTF_8));
    }

    private static int depth(JsonNode node) {
        int depth = 0;
        for (JsonNode at = node; at != null && at.isArray(); at = at.get(0)) {
            depth++;
        }
        return depth;
    }

    @Test
    void aFeedOnAPathThatNeedsEscapingServesItsListEventsAndHeadAtItsUri() throws Exception {
        append("Account-1", 5);
        for (String path : List.of("/konten/événements", "/my events")) {
            FeedServer feed = feed(FeedServer.builder(store).path(path));

            JsonNode page = getJson(feed.uri());
            JsonNode entry = page.get("events").get(0);
            assertEquals(1, entry.get("position").asLong(), path);
            assertEquals(feed.uri() + "?after=1&limit=100", page.get("next").asText());
            assertEquals(0, getJson(URI.create(page.get("next").asText())).get("events").size());
            assertEquals(5, getJson(URI.create(entry.get("url").asText())).get("data").get("amount").asLong());
            assertEquals(1, getJson(URI.create(feed.uri() + "/head")).get("position").asLong());
            assertEquals(1, HttpEventSource.of(feed.uri(), Duration.ZERO).read(0, 10).size());
        }
        FeedServer plain = feed(FeedServer.builder(store));
        // The same path with a letter escaped: the JDK's server takes it for the feed's, and so must the feed.
        assertEquals(1, getJson(URI.create(plain.uri().toString().replace("/events", "/%65vents"))).get("events").size());
    }

    @Test
    void aConsumerThatStopsReadingDelaysNoOtherLongPoll() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store));
        try (Socket stalled = new Socket()) {
            stalled.setReceiveBufferSize(4096);
            stalled.connect(new InetSocketAddress("127.0.0.1", feed.port()));
            OutputStream request = stalled.getOutputStream();
            request.write(("GET /events?after=0&wait=30&limit=1000&include=data HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            request.flush();
            Thread.sleep(500);      // its poll is now held, to be answered by the append below
            appendPadded(300);      // its answer (12 MB) now fills the socket

            long started = System.nanoTime();
            HttpResponse<String> timedOut = http.sendAsync(HttpRequest.newBuilder(URI.create(feed.uri() + "?after=300&wait=1"))
                    .build(), HttpResponse.BodyHandlers.ofString()).get(10, TimeUnit.SECONDS);
            assertEquals(200, timedOut.statusCode());
            CompletableFuture<HttpResponse<String>> woken = http.sendAsync(HttpRequest.newBuilder(
                    URI.create(feed.uri() + "?after=300&wait=20")).build(), HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            append("Account-1", 1);
            JsonNode answer = JSON.readTree(woken.get(10, TimeUnit.SECONDS).body());
            assertEquals(301, answer.get("events").get(0).get("position").asLong());
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10));
        }
    }

    @Test
    void aConsumerThatStopsReadingABigPageIsDroppedAtTheAnswerTimeoutAndItsThreadServesOthersUninterrupted() throws Exception {
        appendPadded(150);      // a page of them with data is 6 MB, more than the sockets' buffers hold
        StoreWatchingReader reader = new StoreWatchingReader(store);
        Duration timeout = Duration.ofSeconds(1);
        FeedServer feed = feed(FeedServer.builder(reader).threads(1).answerTimeout(timeout));
        try (Socket stalled = ask(feed.port(), "/events?after=0&limit=1000&include=data", 4096)) {
            assertTrue(reader.pageRead.await(10, TimeUnit.SECONDS), "the feed never read the page");
            // The one thread now writes the page until the socket is full, then waits.

            HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create(feed.uri() + "/head"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            Duration waited = elapsed(reader.pageReadNanos);
            JsonNode page = getJson(URI.create(feed.uri() + "?after=149"));

            assertEquals(200, head.statusCode(), head.body());
            assertEquals(150, JSON.readTree(head.body()).get("position").asLong());
            assertEquals(150, page.get("events").get(0).get("position").asLong());
            assertTrue(waited.compareTo(timeout) >= 0, "answered " + waited.toMillis() + " ms after the stalled page was"
                    + " read, before its answer could have been dropped");     // exact: the read comes before the write
            stalled.setSoTimeout(10_000);
            RawAnswer cut = readAnswer(stalled.getInputStream(), Duration.ZERO);
            assertTrue(cut.head().startsWith("HTTP/1.1 200"), cut.head());
            assertTrue(cut.body().length < cut.contentLength(), "the server closes the connection mid-answer, after "
                    + cut.body().length + " of " + cut.contentLength() + " bytes");
        }
        assertEquals(List.of(), reader.interruptedReads, "the thread read the store with its interrupt flag set");
    }

    @Test
    void aConsumerThatReadsABigPageSlowlyButSteadilyGetsAllOfItThoughThatTakesLongerThanTheAnswerTimeout() throws Exception {
        appendPadded(150);      // 6 MB with data
        // Each 64 KiB the server writes drains in about 70 ms at this pace; a loaded machine may stall the reader
        // for a while (1.5 s seen on a starved core), so the limit is well above that, and still below the time the
        // whole page takes (6.3 s).
        Duration timeout = Duration.ofSeconds(3);
        FeedServer feed = feed(FeedServer.builder(store).answerTimeout(timeout));
        long asked = System.nanoTime();

        RawAnswer answer;
        try (Socket slow = ask(feed.port(), "/events?after=0&limit=1000&include=data", 16 * 1024)) {
            slow.setSoTimeout(10_000);
            answer = readAnswer(slow.getInputStream(), Duration.ofMillis(17));    // 16 KiB per 17 ms: 0.96 MB/s
        }
        Duration took = elapsed(asked);

        assertTrue(answer.head().startsWith("HTTP/1.1 200"), answer.head());
        assertEquals(answer.contentLength(), answer.body().length, "the whole answer came");
        JsonNode page = JSON.readTree(answer.body());
        assertEquals(150, page.get("events").size());
        assertEquals(150, page.get("events").get(149).get("position").asLong());
        assertTrue(took.compareTo(timeout.multipliedBy(2)) > 0, "read in " + took.toMillis() + " ms: not slowly enough"
                + " to outlast the answer timeout while the server still had to write");
    }

    @Test
    void aServerOfYourOwnOnARequestTimeoutDropsAnAnswerWhoseHeadersStallAndLeavesItsHandlerUninterrupted() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        Duration timeout = Duration.ofSeconds(1);
        RequestTimeout requests = new RequestTimeout("own-server", 1, Duration.ofSeconds(10), timeout);
        CompletableFuture<Long> answering = new CompletableFuture<>();
        CompletableFuture<String> dropped = new CompletableFuture<>();
        server.setExecutor(requests);
        requests.guard(server.createContext("/padded", exchange -> {
            exchange.getResponseHeaders().set("X-Pad", "x".repeat(6_000_000));     // more than the sockets' buffers hold
            answering.complete(System.nanoTime());
            try {
                exchange.sendResponseHeaders(200, -1);
                dropped.complete("sent");
            } catch (IOException e) {
                dropped.complete(e.getClass().getSimpleName() + ": " + e.getMessage() + ", the thread "
                        + (Thread.currentThread().isInterrupted() ? "interrupted" : "not interrupted"));
            }
            exchange.close();
        }));
        requests.guard(server.createContext("/plain", exchange -> answer(exchange, "plain")));
        server.start();
        toClose.add(() -> {
            server.stop(0);
            requests.close();
        });
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        try (Socket stalled = ask(server.getAddress().getPort(), "/padded", 4096)) {
            long writing = answering.get(10, TimeUnit.SECONDS);

            HttpResponse<String> plain = http.send(HttpRequest.newBuilder(URI.create(base + "/plain"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            Duration waited = elapsed(writing);

            assertEquals("plain", plain.body());
            assertTrue(waited.compareTo(timeout) >= 0, "answered after " + waited.toMillis() + " ms, before the stalled"
                    + " headers could have been dropped");
            stalled.setSoTimeout(10_000);
            byte[] cut = stalled.getInputStream().readAllBytes();
            assertTrue(new String(cut, 0, 15, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
            assertTrue(cut.length < 6_000_000, "the server closes the connection mid-headers, after " + cut.length + " bytes");
        }
        assertEquals("InterruptedIOException: the answer did not go out within PT1S (the client stopped reading): the"
                + " connection is closed, the thread not interrupted", dropped.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aFeedBehindAnAuthenticatorInAServerOfYourOwnOnARequestTimeoutStillAuthenticates() throws Exception {
        append("Account-1", 1);
        HttpServer server = ownServerWithAFeed(Duration.ofSeconds(10), events -> events.setAuthenticator(
                new BasicAuthenticator("feed") {
                    @Override
                    public boolean checkCredentials(String user, String password) {
                        return user.equals("reader") && password.equals("secret");
                    }
                }));
        URI events = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events");
        String credentials = Base64.getEncoder().encodeToString("reader:secret".getBytes(StandardCharsets.UTF_8));

        HttpResponse<String> refused = get(events);
        HttpResponse<String> let = http.send(HttpRequest.newBuilder(events).header("Authorization", "Basic " + credentials)
                .build(), HttpResponse.BodyHandlers.ofString());

        assertEquals(401, refused.statusCode(), refused.body());
        assertEquals(200, let.statusCode(), let.body());
        assertEquals(1, JSON.readTree(let.body()).get("events").size());
    }

    @Test
    void consumersThatDropTheirConnectionMidAnswerLeaveNoConnectionsInTheServer() throws Exception {
        appendPadded(150);      // a page of them with data is 6 MB, more than the sockets' buffers hold
        FeedServer feed = feed(FeedServer.builder(store));
        long before = liveServerConnections();

        for (int i = 0; i < 30; i++) {
            try (Socket gone = ask(feed.port(), "/events?after=0&limit=1000&include=data", 4096)) {
                gone.setSoTimeout(10_000);
                assertTrue(gone.getInputStream().read() >= 0, "the answer never began");
                gone.setSoLinger(true, 0);      // the consumer dies mid-answer: its connection is reset
            }
        }

        try (Socket kept = ask(feed.port(), "/events/head", 4096)) {
            kept.setSoTimeout(10_000);
            assertTrue(readAnswer(kept.getInputStream(), Duration.ZERO).head().startsWith("HTTP/1.1 200"));
            long connections = liveServerConnections() - before;
            // The kept-alive one, and the last few cut off if the server is still on them.
            assertTrue(connections >= 1 && connections <= 5, "the server holds " + connections + " connections after"
                    + " 30 answers cut off and one kept alive");
        }
    }

    @Test
    void answersDroppedAtTheAnswerTimeoutLeaveNoConnectionsInTheServer() throws Exception {
        appendPadded(150);      // 6 MB a page with data
        // Long enough for a starved server thread to write the headers (at 100 ms a stall dropped answers before
        // their first byte); four drops are enough to tell from the count below whether each leaves a connection.
        FeedServer feed = feed(FeedServer.builder(store).threads(1).answerTimeout(Duration.ofSeconds(1)));
        long before = liveServerConnections();

        for (int i = 0; i < 4; i++) {
            try (Socket stalled = ask(feed.port(), "/events?after=0&limit=1000&include=data", 4096)) {
                stalled.setSoTimeout(10_000);
                assertTrue(stalled.getInputStream().read() >= 0, "the answer never began");
                getJson(URI.create(feed.uri() + "/head"));     // the one thread is free again: the answer was dropped
            }
        }

        try (Socket kept = ask(feed.port(), "/events/head", 4096)) {
            kept.setSoTimeout(10_000);
            assertTrue(readAnswer(kept.getInputStream(), Duration.ZERO).head().startsWith("HTTP/1.1 200"));
            long connections = liveServerConnections() - before;
            // The kept-alive one, the HTTP client's, and the last stalled one if the server is still on it.
            assertTrue(connections >= 1 && connections <= 3, "the server holds " + connections + " connections after"
                    + " 4 answers dropped and two kept alive");
        }
    }

    /**
     * How many connections the JDK's servers in this JVM hold: the live instances of its connection class,
     * counted after a full collection (HotSpot's {@code GC.class_histogram}).
     */
    private static long liveServerConnections() throws Exception {
        String histogram = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                new Object[] {new String[0]}, new String[] {String[].class.getName()});
        Matcher line = Pattern.compile("(?m)^\\s*\\d+:\\s+(\\d+)\\s+\\d+\\s+sun\\.net\\.httpserver\\.HttpConnection\\s")
                .matcher(histogram);
        return line.find() ? Long.parseLong(line.group(1)) : 0;
    }

    /** Appends {@code count} events of 40 KB each to one stream: a page of them with data is {@code count} * 40 KB. */
    private void appendPadded(int count) {
        byte[] big = ("{\"pad\":\"" + "x".repeat(40_000) + "\"}").getBytes(StandardCharsets.UTF_8);
        List<EventData> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(EventData.of("Padded", big, Map.of()));
        }
        store.append("Pad-1", ExpectedVersion.NO_STREAM, events);
    }

    /** A connection with a receive buffer of about {@code receiveBuffer} bytes that asks the loopback server on {@code port} for {@code target}. */
    private static Socket ask(int port, String target, int receiveBuffer) throws IOException {
        Socket socket = new Socket();
        socket.setReceiveBufferSize(receiveBuffer);
        socket.connect(new InetSocketAddress("127.0.0.1", port));
        socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    /** An answer as read off the socket: its status line and headers, its Content-length, and as much body as came. */
    private record RawAnswer(String head, int contentLength, byte[] body) { }

    /**
     * Reads one answer until its whole body is in or the connection ends, at no more than 16 KiB per {@code pause}:
     * after each read it sleeps until the bytes read so far are due. The pace is kept by the bytes, so the whole
     * answer takes at least its size over that rate, and a reader the machine stalled catches up after.
     */
    private static RawAnswer readAnswer(InputStream in, Duration pause) throws IOException, InterruptedException {
        long started = System.nanoTime();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[16 * 1024];
        String head = null;
        int contentLength = -1;
        int bodyStart = -1;
        for (int n; (n = in.read(buffer)) >= 0; ) {
            received.write(buffer, 0, n);
            if (head == null) {
                String text = received.toString(StandardCharsets.ISO_8859_1);
                int end = text.indexOf("\r\n\r\n");
                if (end >= 0) {
                    head = text.substring(0, end);
                    bodyStart = end + 4;
                    Matcher length = Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(head);
                    assertTrue(length.find(), head);
                    contentLength = Integer.parseInt(length.group(1));
                }
            }
            if (head != null && received.size() - bodyStart >= contentLength) {
                break;
            }
            long due = started + pause.toNanos() * received.size() / buffer.length;
            long early = due - System.nanoTime();
            if (early > 0) {
                TimeUnit.NANOSECONDS.sleep(early);
            }
        }
        assertTrue(head != null, "the connection ended within the headers: " + received);
        byte[] all = received.toByteArray();
        return new RawAnswer(head, contentLength, Arrays.copyOfRange(all, bodyStart, all.length));
    }

    @Test
    void moreClientsStallingHalfWayThanThreadsAreDroppedAtTheRequestTimeoutWhileOthersAreAnswered() throws Exception {
        append("Account-1", 1);
        Duration timeout = Duration.ofSeconds(1);
        FeedServer feed = feed(FeedServer.builder(store).threads(2).requestTimeout(timeout));
        long started = System.nanoTime();
        List<Socket> stalled = List.of(
                stall(feed, "GET /events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc"),
                stall(feed, "GET /events/head HTTP/1.1\r\nHo"),
                // whole headers, then not the body they promise, which the JDK would read after the answer
                stall(feed, "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n"));
        List<CompletableFuture<Drop>> drops = watchForDrops(stalled, started, timeout.multipliedBy(2).plusSeconds(5));
        Thread.sleep(200);      // the server hands the three stalled requests to its two threads

        CompletableFuture<HttpResponse<String>> fromHttpClient = http.sendAsync(HttpRequest.newBuilder(feed.uri())
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        Process curl = Curl.installed()
                ? new ProcessBuilder("curl", "-s", "-m", "5", "-w", "\n%{http_code}", feed.uri() + "/head").start() : null;
        HttpResponse<String> answered = fromHttpClient.get(10, TimeUnit.SECONDS);
        String curled = curl == null ? null : new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Duration served = elapsed(started);

        assertEquals(200, answered.statusCode(), answered.body());
        assertEquals(1, JSON.readTree(answered.body()).get("events").size());
        if (curl != null) {
            assertTrue(curl.waitFor(10, TimeUnit.SECONDS));
            assertTrue(curled.endsWith("\n200"), curled);
            assertEquals(1, JSON.readTree(curled.substring(0, curled.lastIndexOf('\n'))).get("position").asLong());
        }
        List<Duration> dropped = new ArrayList<>();
        for (CompletableFuture<Drop> drop : drops) {
            Drop seen = drop.get(10, TimeUnit.SECONDS);
            assertEquals(-1, seen.firstByte(), "a stalled request is dropped unanswered");
            assertTrue(seen.after() != null, "a stalled request was still held " + elapsed(started).toMillis() + " ms on");
            dropped.add(seen.after());
        }
        dropped.sort(null);
        // The lower bounds are exact (nothing is dropped before its time); above them a loaded machine gets 3 s.
        assertTrue(dropped.get(0).compareTo(timeout) >= 0 && dropped.get(1).compareTo(timeout.plusSeconds(3)) <= 0,
                "the two stalled requests that took the threads first were dropped after " + dropped);
        assertTrue(dropped.get(2).compareTo(timeout.multipliedBy(2)) >= 0
                        && dropped.get(2).compareTo(timeout.multipliedBy(2).plusSeconds(3)) <= 0,
                "the third, which waited for a thread, was dropped after " + dropped.get(2).toMillis() + " ms");
        assertTrue(served.compareTo(dropped.get(2)) < 0, "answered " + served.toMillis() + " ms after the stalls began,"
                + " not before the third stalled request was dropped (" + dropped.get(2).toMillis() + " ms)");
    }

    @Test
    void aRequestThatComesInSlowlyButWithinTheTimeoutIsAnswered() throws Exception {
        append("Account-1", 1);
        Duration timeout = Duration.ofSeconds(2);
        FeedServer feed = feed(FeedServer.builder(store).requestTimeout(timeout));

        String answer;
        try (Socket slow = stall(feed, "GET /events/head HTTP/1.1\r\nHo")) {
            Thread.sleep(timeout.toMillis() / 4);   // a quarter of its time: 1.5 s slack for a loaded machine
            slow.getOutputStream().write("st: 127.0.0.1\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            slow.setSoTimeout(10_000);
            answer = new String(slow.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }

        assertTrue(answer.startsWith("HTTP/1.1 200 OK"), answer);
        assertTrue(answer.endsWith("{\"position\":1}"), answer);
    }

    @Test
    void aLongPollHeldLongerThanTheRequestAndAnswerTimeoutsIsAnsweredNormally() throws Exception {
        Duration timeout = Duration.ofSeconds(1);      // well under the 3 s wait, which the check below must not reach
        FeedServer feed = feed(FeedServer.builder(store).requestTimeout(timeout).answerTimeout(timeout)
                .maxWait(Duration.ofSeconds(5)));
        long polled = System.nanoTime();
        CompletableFuture<HttpResponse<String>> woken = http.sendAsync(
                HttpRequest.newBuilder(URI.create(feed.uri() + "?after=0&wait=5")).build(), HttpResponse.BodyHandlers.ofString());
        CompletableFuture<HttpResponse<String>> waitedOut = http.sendAsync(
                HttpRequest.newBuilder(URI.create(feed.uri() + "?after=1&wait=3")).build(), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(timeout.toMillis() + 300);
        assertFalse(woken.isDone() || waitedOut.isDone(), "both polls are held past the request and answer timeouts");

        append("Account-1", 1);
        HttpResponse<String> answered = woken.get(10, TimeUnit.SECONDS);
        HttpResponse<String> empty = waitedOut.get(10, TimeUnit.SECONDS);

        assertEquals(200, answered.statusCode(), answered.body());
        assertEquals(1, JSON.readTree(answered.body()).get("events").get(0).get("position").asLong());
        assertEquals(200, empty.statusCode(), empty.body());
        assertEquals(0, JSON.readTree(empty.body()).get("events").size());
        assertTrue(elapsed(polled).compareTo(Duration.ofSeconds(3)) >= 0, "the second poll ran its whole wait");
    }

    @Test
    void closeDropsStalledRequestsWithoutWaitingForTheirTimeout() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store).threads(1));     // the default request timeout: 10 s
        try (Socket stalled = stall(feed, "GET /events HTTP/1.1\r\nHo")) {
            Thread.sleep(200);

            long closing = System.nanoTime();
            feed.close();
            Duration took = elapsed(closing);

            stalled.setSoTimeout(5_000);
            assertEquals(-1, stalled.getInputStream().read(), "dropped unanswered");
            assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "close took " + took.toMillis() + " ms");
        }
    }

    @Test
    void aRequestOrAnswerTimeoutThatIsNotPositiveIsRefusedNamingTheOption() {
        for (Duration bad : Arrays.asList(Duration.ZERO, Duration.ofMillis(-1), null)) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> FeedServer.builder(store).requestTimeout(bad));
            assertEquals("requestTimeout must be positive, was " + bad, refused.getMessage());
            IllegalArgumentException refusedAnswer = assertThrows(IllegalArgumentException.class,
                    () -> FeedServer.builder(store).answerTimeout(bad));
            assertEquals("answerTimeout must be positive, was " + bad, refusedAnswer.getMessage());
        }
    }

    @Test
    void anHttpSourceSendsItsRequestsWithTheClientItIsGiven() throws Exception {
        append("Account-1", 5);
        append("Account-1", 7);
        FeedServer feed = feed(FeedServer.builder(store));
        List<URI> asked = new CopyOnWriteArrayList<>();
        ProxySelector recording = new ProxySelector() {
            @Override
            public List<Proxy> select(URI uri) {
                asked.add(uri);
                return List.of(Proxy.NO_PROXY);
            }

            @Override
            public void connectFailed(URI uri, SocketAddress address, IOException e) {
            }
        };
        HttpClient client = HttpClient.newBuilder().proxy(recording).build();
        HttpEventSource source = HttpEventSource.of(feed.uri(), Duration.ZERO, client);

        assertEquals(2, source.read(0, 10).size());
        assertEquals(2, source.end());
        assertFalse(asked.isEmpty(), "the given client made the connection");    // asked once per connection, kept alive
        assertTrue(asked.get(0).toString().startsWith(feed.uri() + "?after=0"), asked.toString());
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> HttpEventSource.of(feed.uri(), Duration.ZERO, null));
        assertEquals("client must not be null", refused.getMessage());
    }

    @Test
    void aRequestTimeoutNeedsANameThreadsAndPositiveLimits() {
        Duration second = Duration.ofSeconds(1);
        Map<String, Executable> refusals = Map.of(
                "name must not be null or blank, was null", () -> new RequestTimeout(null, 1, second),
                "name must not be null or blank, was ' '", () -> new RequestTimeout(" ", 1, second),
                "threadCount must be >= 1, was 0", () -> new RequestTimeout("api", 0, second),
                "limit must be positive, was null", () -> new RequestTimeout("api", 1, null),
                "limit must be positive, was PT0S", () -> new RequestTimeout("api", 1, Duration.ZERO, second),
                "answerLimit must be positive, was null", () -> new RequestTimeout("api", 1, second, null),
                "answerLimit must be positive, was PT-0.001S",
                () -> new RequestTimeout("api", 1, second, Duration.ofMillis(-1)));
        refusals.forEach((message, bad) -> assertEquals(message,
                assertThrows(IllegalArgumentException.class, bad).getMessage()));
    }

    @Test
    void aFeedMountedInAServerOfYourOwnOnARequestTimeoutDropsStalledRequestsAndRefusesLargeBodies() throws Exception {
        append("Account-1", 1);
        HttpServer server = ownServerWithAFeed(Duration.ofSeconds(1), events -> { });
        URI events = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/events");
        long started = System.nanoTime();
        try (Socket stalled = stall(server.getAddress().getPort(), "GET /events HTTP/1.1\r\nHo")) {
            Thread.sleep(200);      // the one thread takes the stalled request

            HttpResponse<String> answered = http.send(HttpRequest.newBuilder(events).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, answered.statusCode(), answered.body());
            assertEquals(1, JSON.readTree(answered.body()).get("events").size());
            stalled.setSoTimeout(5_000);
            assertEquals(-1, stalled.getInputStream().read(), "the stalled request is dropped unanswered");
            assertTrue(elapsed(started).compareTo(Duration.ofSeconds(1)) >= 0, "dropped only when its time was up");
        }

        HttpResponse<String> huge = http.send(HttpRequest.newBuilder(events).timeout(Duration.ofSeconds(5))
                .method("GET", HttpRequest.BodyPublishers.ofString("x".repeat(RequestTimeout.MAX_BODY_BYTES + 1))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(413, huge.statusCode(), huge.body());
        assertEquals("too_large", JSON.readTree(huge.body()).get("error").asText());
    }

    /** A connection that sends {@code part} of a request to {@code feed} and then nothing more. */
    private static Socket stall(FeedServer feed, String part) throws IOException {
        return stall(feed.port(), part);
    }

    /** A connection that sends {@code part} of a request to the loopback server on {@code port} and then nothing more. */
    private static Socket stall(int port, String part) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.getOutputStream().write(part.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    /** How a stalled connection ended: its first byte from the server (-1: closed) and when; {@code after} null if it had not. */
    private record Drop(int firstByte, Duration after) { }

    /** Watches each socket, on a thread of its own, until the server sends or closes, or {@code within} of {@code started} passes. */
    private List<CompletableFuture<Drop>> watchForDrops(List<Socket> sockets, long started, Duration within) {
        var watchers = Executors.newFixedThreadPool(sockets.size());
        toClose.add(watchers::shutdownNow);
        List<CompletableFuture<Drop>> drops = new ArrayList<>();
        for (Socket socket : sockets) {
            toClose.add(socket);
            drops.add(CompletableFuture.supplyAsync(() -> {
                try {
                    socket.setSoTimeout((int) Math.max(1, within.minus(elapsed(started)).toMillis()));
                    int first = socket.getInputStream().read();
                    return new Drop(first, elapsed(started));
                } catch (java.net.SocketTimeoutException stillHeld) {
                    return new Drop(-1, null);
                } catch (IOException reset) {
                    return new Drop(-1, elapsed(started));
                }
            }, watchers));
        }
        return drops;
    }

    private static Duration elapsed(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos);
    }

    @Test
    void anHttpSubscriptionDoesNotAskInALoopWhenTheFeedHoldsNoPoll() throws Exception {
        List<String> requests = new CopyOnWriteArrayList<>();
        URI uri = serveRecordingQueries(FeedServer.builder(store).maxHeld(0).handler(), requests);  // answers polls at once
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(uri, Duration.ofSeconds(5)))
                .pollInterval(Duration.ofMillis(200)).onRecorded(e -> seen.add(e.position())).start();
        try {
            Thread.sleep(2_000);
            int asked = requests.size();
            append("Account-1", 1);
            assertTrue(subscription.awaitPosition(1, Duration.ofSeconds(10)), "events still arrive, by polling");
            assertTrue(asked <= 20, "asked " + asked + " times in 2 s: every empty answer came at once");
        } finally {
            assertTrue(subscription.stop(Duration.ofSeconds(10)));
        }
        assertEquals(List.of(1L), seen);
    }

    @Test
    void aWaitUnderASecondStillLongPollsForAWholeSecond() throws Exception {
        List<String> queries = new CopyOnWriteArrayList<>();
        URI uri = serveRecordingQueries(FeedHandler.of(store), queries);
        append("Account-1", 1);

        assertEquals(1, HttpEventSource.of(uri, Duration.ofMillis(500)).read(0, 10).size());
        assertEquals(0, HttpEventSource.of(uri, Duration.ZERO).read(1, 10).size());

        assertTrue(queries.get(0).endsWith("&wait=1"), queries.toString());
        assertFalse(queries.get(1).contains("wait="), queries.toString());
    }

    /** Mounts {@code handler} at /events in a server of the test's own that records each request's query. */
    private URI serveRecordingQueries(FeedHandler handler, List<String> queries) throws IOException {
        toClose.add(handler);
        return URI.create(serve("/events", exchange -> {
            queries.add(exchange.getRequestURI().getRawQuery());
            handler.handle(exchange);
        }) + "/events");
    }

    /** Serves {@code handler} at {@code path} on a loopback server the test stops; its base, {@code http://127.0.0.1:port}. */
    /**
     * A server of the test's own on one thread of a {@link RequestTimeout} with {@code limit}, and the
     * store's feed mounted at {@code /events}, guarded, then {@code configure}d; started, and closed after.
     */
    private HttpServer ownServerWithAFeed(Duration limit, Consumer<HttpContext> configure) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        RequestTimeout requests = new RequestTimeout("own-server", 1, limit);
        FeedHandler handler = FeedHandler.of(store);
        server.setExecutor(requests);
        configure.accept(requests.guard(server.createContext("/events", handler)));
        server.start();
        toClose.add(() -> {
            handler.close();
            server.stop(0);
            requests.close();
        });
        return server;
    }

    private String serve(String path, HttpHandler handler) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext(path, handler);
        server.start();
        toClose.add(() -> server.stop(0));
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Answers 200 with {@code body} and ends the exchange. */
    private static void answer(HttpExchange exchange, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Test
    void aFeedOfAClosedStoreRefusesToStartSayingSoAndBindsNothing() throws Exception {
        int port;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        store.close();

        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> FeedServer.builder(store).port(port).start());
        IllegalStateException handlerRefused = assertThrows(IllegalStateException.class, () -> FeedServer.builder(store).handler());

        assertTrue(refused.getMessage().contains("InMemoryEventStore is closed")
                && refused.getMessage().contains("start the feed while its store is open"), refused.getMessage());
        assertEquals(refused.getMessage(), handlerRefused.getMessage());
        try (java.net.ServerSocket again = new java.net.ServerSocket(port, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            assertEquals(port, again.getLocalPort(), "the refused feed left its port free");
        }
    }

    @Test
    void aMaxWaitWithAFractionOfASecondHoldsPollsItsWholeSecondsAsItsJavadocSays() throws Exception {
        append("Account-1", 1);
        FeedServer feed = feed(FeedServer.builder(store).maxWait(Duration.ofMillis(1500)));

        JsonNode page = getJson(URI.create(feed.uri() + "?limit=5&wait=20"));

        assertEquals(feed.uri() + "?after=1&limit=5&wait=1", page.get("next").asText());
    }

    @Test
    void aBlankHostIsRefusedNamingTheOptionAndTheValue() {
        IllegalArgumentException blank = assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).host(" "));
        assertEquals("host must not be null or blank, was ' '", blank.getMessage());
    }

    @Test
    void aFeedUriWhoseHostJavaCannotParseIsRefusedSayingSoNotThatItIsNotAbsolute() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> HttpEventSource.of(URI.create("http://feed_svc:8080/events")));

        assertTrue(refused.getMessage().startsWith("feed must name a host"), refused.getMessage());
        assertTrue(refused.getMessage().contains("'feed_svc:8080' is not one"), refused.getMessage());
        IllegalArgumentException relative = assertThrows(IllegalArgumentException.class,
                () -> HttpEventSource.of(URI.create("/events")));
        assertEquals("feed must be an absolute http(s) URI, was /events", relative.getMessage());
    }

    @Test
    void badServerOptionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(null));
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).port(70000));
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).path("events"));
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).limits(0, 10));
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).limits(20, 10));
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).maxWait(Duration.ZERO));
        for (String bad : List.of("/events", "ftp://feed.example.com/events", "https:///events",
                "https://feed.example.com/events?x=1", "https://feed.example.com/events#top",
                "https://user:secret@feed.example.com/events")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> FeedServer.builder(store).publicUri(URI.create(bad)));
            assertTrue(refused.getMessage().contains(bad), refused.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> FeedServer.builder(store).publicUri(null));
        FeedServer taken = feed(FeedServer.builder(store));
        FluxException busy = assertThrows(FluxException.class, () -> FeedServer.builder(store).port(taken.port()).start());
        assertTrue(busy.getMessage().contains(String.valueOf(taken.port())), busy.getMessage());
    }

    /** The store as a feed reads it, each {@code readAll}'s {@code maxCount} and answer told to {@code watch}. */
    private static final class ReadAllWatchingReader implements EventReader {
        private final EventReader store;
        private final ReadAllWatch watch;

        ReadAllWatchingReader(EventReader store, ReadAllWatch watch) {
            this.store = store;
            this.watch = watch;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            List<RecordedEvent> read = store.readAll(afterPosition, maxCount);
            watch.read(maxCount, read);
            return read;
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            return store.readStream(streamId, fromVersion, maxCount);
        }

        @Override
        public long streamVersion(String streamId) {
            return store.streamVersion(streamId);
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            return store.readEvent(eventId);
        }

        @Override
        public Runnable onAppend(Runnable listener) {
            return store.onAppend(listener);
        }
    }

    /** What a {@link ReadAllWatchingReader} tells of each read. */
    private interface ReadAllWatch {
        void read(int maxCount, List<RecordedEvent> read);
    }

    /** The store as a feed reads it, telling when a page of more than one event is read and which reads ran on an interrupted thread. */
    private static final class StoreWatchingReader implements EventReader {
        final CountDownLatch pageRead = new CountDownLatch(1);
        /** When the first page was read (System.nanoTime). */
        volatile long pageReadNanos;
        final List<String> interruptedReads = new CopyOnWriteArrayList<>();
        private final EventReader store;

        StoreWatchingReader(EventReader store) {
            this.store = store;
        }

        private void watch(String read) {
            if (Thread.currentThread().isInterrupted()) {
                interruptedReads.add(read + " on " + Thread.currentThread().getName());
            }
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            watch("readAll(" + afterPosition + ", " + maxCount + ")");
            List<RecordedEvent> page = store.readAll(afterPosition, maxCount);
            if (maxCount > 1 && pageRead.getCount() > 0) {
                pageReadNanos = System.nanoTime();
                pageRead.countDown();
            }
            return page;
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            watch("readStream(" + streamId + ")");
            return store.readStream(streamId, fromVersion, maxCount);
        }

        @Override
        public long streamVersion(String streamId) {
            watch("streamVersion(" + streamId + ")");
            return store.streamVersion(streamId);
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            watch("readEvent(" + eventId + ")");
            return store.readEvent(eventId);
        }
    }
}
