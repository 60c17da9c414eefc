package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.EventReader;
import dev.flux.feed.AllowedHosts;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.feed.RequestTimeout;
import dev.flux.test.ArgumentSweep;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every public constructor and method of the feed package refuses a null, a blank string, a negative
 * number and the like at once, with an {@link IllegalArgumentException} naming the parameter; see
 * {@link ArgumentSweep} and {@link PublicApiArgumentsTest}, which sweeps the rest of the API. No server
 * is started: every call has one bad argument, which must be refused before anything binds a port.
 */
@Timeout(60)
class FeedPublicApiArgumentsTest {
    private static final URI FEED = URI.create("http://127.0.0.1:1/events");
    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    @Test
    void everyPublicMemberOfTheFeedRefusesBadArgumentsAtOnceNamingTheParameter() {
        List<Class<?>> api = ArgumentSweep.publicClassesBeside(Aggregate.class, "dev.flux.feed.");
        assertEquals(List.of(AllowedHosts.class, FeedHandler.class, FeedServer.class, FeedServer.Builder.class, HttpEventSource.class,
                RequestTimeout.class), api);

        ArgumentSweep sweep = ArgumentSweep.of(api)
                .sample(EventReader.class, InMemoryEventStore::new)
                .sample("name", String.class, () -> "sweep")
                .sample(Duration.class, () -> Duration.ofSeconds(1))
                .sample(URI.class, () -> FEED)
                .sample(HttpClient.class, () -> CLIENT)
                .sample("maxAnswerBytes", long.class, () -> 1L << 20)
                .sample("category", String.class, () -> "Account")
                .receiver(AllowedHosts.class, AllowedHosts::loopback)
                .allow("blank:AllowedHosts.allows(host)", "a blank Host header is one a request may bring: not served")
                .receiver(FeedServer.Builder.class, () -> FeedServer.builder(new InMemoryEventStore()))
                .receiver(FeedHandler.class, FeedPublicApiArgumentsTest::closedHandler)
                .receiver(HttpEventSource.class, () -> HttpEventSource.of(FEED, Duration.ofSeconds(1), CLIENT))
                .receiver(RequestTimeout.class, () -> new RequestTimeout("sweep", 1, Duration.ofSeconds(1)));
        sweep.assertNoProblems(60);
    }

    /** A handler already closed: it has stopped its timer, and still checks what it is given. */
    private static FeedHandler closedHandler() {
        FeedHandler handler = FeedHandler.of(new InMemoryEventStore());
        handler.close();
        return handler;
    }
}
