package dev.flux.memory;

import dev.flux.ExpectedVersion;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

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
            assertTrue(message.contains("its position 6") && message.contains("end of its source (2)"), message);

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
}
