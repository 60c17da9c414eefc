package dev.flux.memory;

import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an HTTP source holds of the process once its subscription stops. */
class HttpEventSourceResourcesTest extends FeedTestBase {
    private static final int SOURCES = 30;

    @Test
    void sourcesMadeWithoutAClientLeaveNoSelectorThreadOrDescriptorBehindOnceTheirSubscriptionsStop() throws Exception {
        // The JDK's client cannot be closed: one made per source kept its selector thread, descriptors and
        // connections until a GC found the source unreachable, one set per subscription a service restarted.
        FeedServer feed = feed(FeedServer.builder(store));
        append("Account-1", 1);
        warmUp(feed);
        long selectorsBefore = selectorThreads();
        long pollersBefore = pollers();
        long workersBefore = jdkWorkerThreads();
        List<HttpEventSource> kept = new ArrayList<>();    // a service keeps what it built, as a field

        for (int i = 0; i < SOURCES; i++) {
            HttpEventSource source = HttpEventSource.of(feed.uri(), Duration.ofSeconds(1));
            kept.add(source);
            try (Subscription subscription = Subscription.builder(source).onRecorded(recorded -> { }).build().start()) {
                assertTrue(subscription.awaitPosition(1, Duration.ofSeconds(10)), () -> "subscription read the feed: "
                        + subscription.lastError());
            }
        }

        long selectorsAdded = selectorThreads() - selectorsBefore;
        long pollersAdded = pollers() - pollersBefore;
        assertTrue(selectorsAdded <= 0, () -> SOURCES + " sources started " + selectorsAdded + " more HttpClient"
                + " selector threads, one client each; threads " + threadNames());
        assertTrue(pollersAdded <= 0, () -> SOURCES + " stopped sources hold " + pollersAdded
                + " more epoll file descriptors (a client's selector holds one, besides its eventfd and its connections)");
        // Clients of tests that ran before may still have idle workers (kept 60 s): compare, do not expect none.
        long workersAdded = jdkWorkerThreads() - workersBefore;
        assertTrue(workersAdded <= 0, () -> "the shared client's threads are named after flux, yet " + workersAdded
                + " more HttpClient-N-Worker threads run: " + threadNames());
        Reference.reachabilityFence(kept);
    }

    /** One source read first, so the shared client (and its selector thread) exists before counting. */
    private static void warmUp(FeedServer feed) throws InterruptedException {
        try (Subscription subscription = Subscription.builder(HttpEventSource.of(feed.uri(), Duration.ofSeconds(1)))
                .onRecorded(recorded -> { }).build().start()) {
            assertTrue(subscription.awaitPosition(1, Duration.ofSeconds(10)), "the first source read the feed");
        }
    }

    private static long selectorThreads() {
        return threadNames().stream().filter(name -> name.endsWith("-SelectorManager")).count();
    }

    private static long jdkWorkerThreads() {
        return threadNames().stream().filter(name -> name.matches("HttpClient-\\d+-Worker-\\d+")).count();
    }

    private static List<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(Objects::nonNull).sorted().toList();
    }

    /** The process's epoll descriptors: each selector (an HttpClient's, an HttpServer's) holds one. */
    private static long pollers() throws IOException {
        if (!Files.isDirectory(Path.of("/proc/self/fd"))) {
            return 0;   // not Linux: the thread count above still tells
        }
        try (Stream<Path> descriptors = Files.list(Path.of("/proc/self/fd"))) {
            return descriptors.filter(descriptor -> {
                try {
                    return Files.readSymbolicLink(descriptor).toString().equals("anon_inode:[eventpoll]");
                } catch (IOException closedMeanwhile) {
                    return false;
                }
            }).count();
        }
    }
}
