package dev.flux.memory;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.flux.FluxException;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a consumer sees of a feed that is not there or misbehaves, over real sockets on 127.0.0.1: small
 * hand-written servers (the JDK's {@link HttpServer}) play a producer gone away, a foreign or broken feed.
 */
@Timeout(60)
class HttpEventSourceMisbehavingFeedTest extends FeedTestBase {

    @Test
    void aSubscriptionToAFeedWhosePortIsClosedSaysNoConnectionWasTakenThere() throws Exception {
        int port = freePort();
        URI nobody = URI.create("http://127.0.0.1:" + port + "/events");
        Subscription subscription = Subscription.builder(HttpEventSource.of(nobody, Duration.ZERO))
                .errorDelay(Duration.ofMillis(20), Duration.ofMillis(100)).onRecorded(e -> { }).start();
        try {
            assertTrue(waitFor(() -> subscription.lastError() != null));

            String error = subscription.lastError().getMessage();
            assertTrue(error.startsWith("cannot read the feed at " + nobody), error);
            assertTrue(error.contains("no connection to 127.0.0.1:" + port + " (refused: is the feed's service up, and on"
                    + " that port?)"), error);
            assertEquals(Subscription.State.RUNNING, subscription.state(), "it goes on trying");
        } finally {
            assertTrue(subscription.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void aFeedWhoseHostDoesNotResolveIsNamedAsSuch() {
        URI unknown = URI.create("http://feed.flux-test.invalid:8080/events");  // .invalid never resolves (RFC 6761)

        FluxException error = assertThrows(FluxException.class, () -> HttpEventSource.of(unknown, Duration.ZERO).read(0, 10));

        assertTrue(error.getMessage().contains("the host 'feed.flux-test.invalid' does not resolve (check the feed's host"
                + " name and the DNS)"), error.getMessage());
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** Serves {@code handler} on a port of 127.0.0.1, stopped after the test; returns {@code http://127.0.0.1:<port>}. */
    private String serve(HttpHandler handler) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", handler);
        server.start();
        toClose.add(() -> server.stop(0));
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Answers {@code status} with {@code body} and ends the exchange. */
    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    private static boolean waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }
}
