package dev.flux.memory;

import com.sun.net.httpserver.HttpServer;
import dev.flux.ExpectedVersion;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A consumer following the feed of a service that starts again on an empty memory store, over real
 * sockets: its subscription must stop instead of skipping the new store's first events.
 */
@Timeout(60)
class FeedRestartTest {
    record Credited(long amount) { }

    private final JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Credited.class));
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private void credit(InMemoryEventStore store, int times) {
        for (int i = 0; i < times; i++) {
            store.append("Account-1", ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(i), Map.of())));
        }
    }

    @Test
    void aConsumerWhoseFeedStartsAgainEmptyStopsInsteadOfSkippingItsFirstEvents() throws Exception {
        InMemoryEventStore first = new InMemoryEventStore();
        InMemoryEventStore second = new InMemoryEventStore();
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        credit(first, 6);
        FeedServer feed = FeedServer.builder(first).port(0).start();
        URI uri = feed.uri();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(uri, Duration.ofSeconds(1)))
                .name("balances", offsets).pollInterval(Duration.ofMillis(50))
                .onRecorded(Credited.class, (e, recorded) -> seen.add(recorded.position()))
                .start();
        FeedServer restarted = null;
        try {
            assertTrue(subscription.awaitPosition(6, Duration.ofSeconds(20)), String.valueOf(subscription.lastError()));
            feed.close();
            credit(second, 2);
            restarted = FeedServer.builder(second).port(uri.getPort()).start();

            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (subscription.state() != Subscription.State.FAILED && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(Subscription.State.FAILED, subscription.state(), String.valueOf(subscription.lastError()));
            String message = subscription.failure().getMessage();
            assertTrue(message.contains("its position 6") && message.contains("went back"), message);

            credit(second, 6);     // the new store passes 6: a subscription still reading would now skip 1 to 6
            Thread.sleep(300);
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), seen);
            assertEquals(6, offsets.load("balances"));
        } finally {
            subscription.stop(Duration.ofSeconds(5));
            feed.close();
            if (restarted != null) {
                restarted.close();
            }
        }
    }

    @Test
    void aConsumerWhoseFeedComesBackEmptyStopsBeforeItsFirstLongPollThere() throws Exception {
        InMemoryEventStore first = new InMemoryEventStore();
        InMemoryEventStore second = new InMemoryEventStore();
        InMemoryOffsetStore offsets = new InMemoryOffsetStore();
        credit(first, 6);
        HttpServer firstServer = serve(0, first, new AtomicInteger());
        int port = firstServer.getAddress().getPort();
        List<Long> seen = new CopyOnWriteArrayList<>();
        Subscription subscription = Subscription.builder(HttpEventSource.of(
                        URI.create("http://127.0.0.1:" + port + "/events"), Duration.ofSeconds(5)))
                .name("balances", offsets).pollInterval(Duration.ofMillis(50))
                .errorDelay(Duration.ofMillis(50), Duration.ofMillis(200))
                .onRecorded(Credited.class, (e, recorded) -> seen.add(recorded.position()))
                .start();
        toClose.add(() -> subscription.stop(Duration.ofSeconds(5)));
        assertTrue(subscription.awaitPosition(6, Duration.ofSeconds(20)), String.valueOf(subscription.lastError()));
        firstServer.stop(0);
        assertTrue(waitUntil(() -> subscription.lastError() != null && subscription.lastError().getMessage()
                .contains("cannot read the feed at http://127.0.0.1:" + port + "/events?after=6&")),
                "the consumer found its feed away: " + subscription.lastError());

        // The service is back with another log, still below the consumer's position: a first long poll there
        // would wait for an event after 6, and the new log gets there within that wait.
        credit(second, 2);
        AtomicInteger pagesAskedOfSecond = new AtomicInteger();
        serve(port, second, pagesAskedOfSecond);
        assertTrue(waitUntil(() -> pagesAskedOfSecond.get() > 0 || subscription.state() == Subscription.State.FAILED),
                subscription::toString);
        credit(second, 6);
        waitUntil(() -> subscription.position() > 6 || subscription.state() == Subscription.State.FAILED);

        assertEquals(Subscription.State.FAILED, subscription.state(), subscription.toString());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), seen, "nothing of the new log handled, so nothing skipped");
        String message = subscription.failure().getMessage();
        assertTrue(message.contains("its position 6") && message.contains("went back"), message);
        assertEquals(6, offsets.load("balances"));
    }

    /** The feed of {@code store} at {@code /events} on 127.0.0.1:{@code port}, counting the pages asked for (not its head). */
    private HttpServer serve(int port, InMemoryEventStore store, AtomicInteger pagesAsked) throws Exception {
        FeedHandler feed = FeedHandler.of(store);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        ExecutorService threads = Executors.newCachedThreadPool();
        server.setExecutor(threads);
        server.createContext("/events", exchange -> {
            if (!exchange.getRequestURI().getPath().endsWith("/head")) {
                pagesAsked.incrementAndGet();
            }
            feed.handle(exchange);
        });
        server.start();
        toClose.add(threads::shutdownNow);
        toClose.add(feed);
        toClose.add(() -> server.stop(0));
        return server;
    }

    private static boolean waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }
}
