package dev.flux.memory;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flux.ExpectedVersion;
import dev.flux.Metadata;
import dev.flux.feed.FeedServer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import org.junit.jupiter.api.AfterEach;

import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the feed's socket tests share: a memory store, an HTTP client, and what each test started,
 * closed after it newest first, the store last; the event they append, and a reader of the JSON pages.
 */
abstract class FeedTestBase {
    record Credited(long amount) { }

    static final ObjectMapper JSON = new ObjectMapper();

    final InMemoryEventStore store = new InMemoryEventStore();
    final HttpClient http = HttpClient.newHttpClient();
    final List<AutoCloseable> toClose = new ArrayList<>();
    final JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Credited.class));

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        store.close();
    }

    /** Starts the feed {@code builder} describes, closed after the test. */
    FeedServer feed(FeedServer.Builder builder) {
        FeedServer feed = builder.start();
        toClose.add(feed);
        return feed;
    }

    /** Appends a {@link Credited} of {@code amount}, correlated to {@code c-<amount>}, to {@code streamId}; returns its position. */
    long append(String streamId, long amount) {
        store.append(streamId, ExpectedVersion.ANY, List.of(serializer.serialize(new Credited(amount),
                Map.of(Metadata.CORRELATION_ID, "c-" + amount))));
        return store.lastPosition();
    }

    /** Polls {@code condition} every 10 ms for up to 20 s; whether it came true. */
    static boolean waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }
}
