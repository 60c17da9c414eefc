package dev.flux.memory;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

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
        // The port stays bound, not listening, for the whole test: connections to it are refused, and no server of
        // another test or build on this machine can take it meanwhile, as it could a port found free and let go.
        try (Socket reserved = new Socket()) {
            reserved.bind(new InetSocketAddress("127.0.0.1", 0));
            int port = reserved.getLocalPort();
            URI nobody = URI.create("http://127.0.0.1:" + port + "/events");
            Subscription subscription = Subscription.builder(HttpEventSource.of(nobody, Duration.ZERO))
                    .errorDelay(Duration.ofMillis(20), Duration.ofMillis(100)).onRecorded(e -> { }).start();
            try {
                assertTrue(waitFor(() -> subscription.lastError() != null));

                String error = subscription.lastError().getMessage();
                assertTrue(error.startsWith("cannot read the feed at " + nobody), error);
                assertTrue(error.contains("could not connect to 127.0.0.1:" + port + " (refused or unreachable: is the"
                        + " feed's service up, on that port, and reachable from here?)"), error);
                assertEquals(Subscription.State.RUNNING, subscription.state(), "it goes on trying");
            } finally {
                assertTrue(subscription.stop(Duration.ofSeconds(10)));
            }
        }
    }

    @Test
    void aFeedWhoseHostDoesNotResolveIsNamedAsSuch() {
        URI unknown = URI.create("http://feed.flux-test.invalid:8080/events");  // .invalid never resolves (RFC 6761)

        FluxException error = assertThrows(FluxException.class, () -> HttpEventSource.of(unknown, Duration.ZERO).read(0, 10));

        assertTrue(error.getMessage().contains("the host 'feed.flux-test.invalid' does not resolve (check the feed's host"
                + " name and the DNS)"), error.getMessage());
    }

    @Test
    void aHeadPositionNoLongHoldsIsRefusedNotWrappedAround() throws Exception {
        String base = serve(exchange -> answer(exchange, 200, "{\"position\": 18446744073709551621}"));   // 2^64 + 5

        FluxException wrapped = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).end());

        assertTrue(wrapped.getMessage().contains("malformed feed response from " + base + "/events/head: no 'position'"
                + " number (a whole number from 0 that a long holds)"), wrapped.getMessage());
    }

    @Test
    void anEventIdThatIsNotAStandardUuidFailsTheReadNamingItAndItsPosition() throws Exception {
        String base = serve(exchange -> answer(exchange, 200, "{\"events\": ["
                + entry(exchange.getRequestURI().getPath().endsWith("/short") ? "1-2-3-4-5" : "order-17", 7) + "]}"));

        FluxException shortGroups = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/short"), Duration.ZERO).read(0, 10));
        FluxException notUuid = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/other"), Duration.ZERO).read(0, 10));

        assertTrue(shortGroups.getMessage().contains("the entry at position 7 has the event_id '1-2-3-4-5', not a UUID"
                + " (8-4-4-4-12 hex digits)"), shortGroups.getMessage());
        assertTrue(notUuid.getMessage().startsWith("malformed feed response from " + base + "/other?after=0")
                && notUuid.getMessage().contains("the entry at position 7 has the event_id 'order-17', not a UUID"),
                notUuid.getMessage());
    }

    @Test
    void anEventIdInCapitalsIsTheSameUuid() throws Exception {
        UUID id = UUID.randomUUID();
        String base = serve(exchange -> answer(exchange, 200, "{\"events\": ["
                + entry(id.toString().toUpperCase(Locale.ROOT), 7) + "]}"));

        List<RecordedEvent> read = HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).read(0, 10);

        assertEquals(id, read.get(0).eventId());
    }

    @Test
    void anEntryThatDoesNotFitNamesItsPosition() throws Exception {
        String base = serve(exchange -> answer(exchange, 200, "{\"events\": ["
                + entry(UUID.randomUUID().toString(), 7).replace("2026-01-01T00:00:00Z", "yesterday") + "]}"));

        FluxException error = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/events"), Duration.ZERO).read(0, 10));

        assertTrue(error.getMessage().contains("the entry at position 7 does not fit: Text 'yesterday'"), error.getMessage());
    }

    @Test
    void anOverloadedFeedsErrorPageShowsOnOneLineWithItsRetryAfter() throws Exception {
        String base = serve(exchange -> {
            if (exchange.getRequestURI().getPath().startsWith("/busy")) {
                exchange.getResponseHeaders().set("Retry-After", "120");
                answer(exchange, 503, "<html>\r\n<body>\u0000Down for maintenance</body>\n</html>\n");
            } else {
                answer(exchange, 429, "slow\ndown");
            }
        });
        // The first read's message: the reads after it, within the Retry-After, fail without asking (see
        // HttpEventSourceRetryAfterTest).
        FluxException busy = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/busy"), Duration.ZERO).read(0, 256));
        FluxException tooMany = assertThrows(FluxException.class,
                () -> HttpEventSource.of(URI.create(base + "/many"), Duration.ZERO).read(0, 10));

        assertEquals("the feed at " + base + "/busy?after=0&limit=256&include=data answered 503 (Retry-After: 120; this"
                + " source sends the feed nothing for 120 s): <html> <body>?Down for maintenance</body> </html> ",
                busy.getMessage());
        assertEquals("the feed at " + base + "/many?after=0&limit=10&include=data answered 429: slow down",
                tooMany.getMessage());
    }

    /** One entry of a feed page, as {@code include=data} serves it. */
    private static String entry(String eventId, long position) {
        return "{\"event_id\":\"" + eventId + "\",\"stream_id\":\"Account-1\",\"aggregate_version\":0,"
                + "\"event_type\":\"Credited\",\"created\":\"2026-01-01T00:00:00Z\",\"position\":" + position
                + ",\"metadata\":{},\"data\":{\"amount\":1}}";
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
}
