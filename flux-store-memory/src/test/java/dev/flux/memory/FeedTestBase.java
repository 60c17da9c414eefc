package dev.flux.memory;

import dev.flux.feed.FeedServer;
import org.junit.jupiter.api.AfterEach;

import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.List;

/**
 * What the feed's socket tests share: a memory store, an HTTP client, and what each test started,
 * closed after it newest first, the store last.
 */
abstract class FeedTestBase {
    final InMemoryEventStore store = new InMemoryEventStore();
    final HttpClient http = HttpClient.newHttpClient();
    final List<AutoCloseable> toClose = new ArrayList<>();

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
}
