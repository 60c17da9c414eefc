package dev.flux.memory;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventData;
import dev.flux.EventReader;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.feed.AllowedHosts;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.FeedServer;
import dev.flux.feed.RequestTimeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Host check against DNS rebinding: a feed on 127.0.0.1 answers only to this machine's names and
 * those it is given, and refuses a page's rebound name with 421 before it reads the store.
 */
@Timeout(60)
class AllowedHostsTest extends FeedTestBase {
    private final ReadCounter reads = new ReadCounter(store);

    private UUID append() {
        EventData event = EventData.of("Credited", "{\"amount\": 5}".getBytes(StandardCharsets.UTF_8), Map.of());
        store.append("Account-1", ExpectedVersion.ANY, List.of(event));
        return event.eventId();
    }

    /** An answer read off a socket of the test's own: its status and body. */
    private record Answer(int status, String body) {
        JsonNode json() throws IOException {
            return JSON.readTree(body);
        }
    }

    /**
     * Sends {@code request} as it is to 127.0.0.1:{@code port} over a socket of its own, and reads one
     * answer: its head, then as much body as its Content-Length says (not to the connection's end, which
     * the server may hold open to read a request body that never comes).
     */
    private static Answer send(int port, String request) throws IOException {
        return send("127.0.0.1", port, request);
    }

    /** Whether a socket can listen on ::1: asked of the JDK, so that a feed failing there still fails its test. */
    private static boolean hasIpv6Loopback() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("::1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** As {@link #send(int, String)}, to {@code address}. */
    private static Answer send(String address, int port, String request) throws IOException {
        try (Socket socket = new Socket(address, port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                assertTrue(b >= 0, "the connection ended after " + head);
                head.append((char) b);
            }
            assertTrue(head.toString().startsWith("HTTP/1.1 "), head.toString());
            Matcher length = Pattern.compile("(?i)\r\ncontent-length: *([0-9]+)").matcher(head);
            assertTrue(length.find(), head.toString());
            String body = new String(in.readNBytes(Integer.parseInt(length.group(1))), StandardCharsets.UTF_8);
            return new Answer(Integer.parseInt(head.substring(9, 12)), body);
        }
    }

    /** A GET of {@code target} naming {@code host} in its Host header, as a browser sends it. */
    private static Answer get(int port, String target, String host) throws IOException {
        return send(port, "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    }

    @Test
    void aLoopbackFeedAnswersToThisMachinesNamesWithAnyPortOrNoneInAnyCase() throws Exception {
        append();
        FeedServer feed = feed(FeedServer.builder(store));
        int port = feed.port();

        // Another port is what a tunnel (ssh -L 9000:127.0.0.1:8080) or a proxy sends.
        for (String host : List.of("localhost", "localhost:" + port, "127.0.0.1", "127.0.0.1:" + port, "[::1]",
                "[::1]:" + port, "LocalHost:" + port, "LOCALHOST", "localhost:9000", "[0:0:0:0:0:0:0:1]:" + port,
                " localhost:" + port + " ")) {
            Answer served = get(port, "/events?after=0", host);
            assertEquals(200, served.status(), "'" + host + "' -> " + served.body());
            assertEquals(1, served.json().get("events").size());
        }
        HttpResponse<String> byName = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/events"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, byName.statusCode(), byName.body());
        assertEquals("http://localhost:" + port + "/events?after=1&limit=100", JSON.readTree(byName.body()).get("next").asText());
        assertEquals(200, http.send(HttpRequest.newBuilder(feed.uri()).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void aLoopbackFeedRefusesAnyOtherHostWith421NamingItAndTheOptionWithoutReadingTheStore() throws Exception {
        UUID id = append();
        FeedServer feed = feed(FeedServer.builder(reads));
        int port = feed.port();
        int before = reads.count.get();

        for (String target : List.of("/events?after=0", "/events/" + id, "/events/head", "/elsewhere")) {
            // What a browser sends once a page's DNS name points at 127.0.0.1: the page's own name, with the port.
            Answer refused = get(port, target, "Attacker.Example:" + port);

            assertEquals(421, refused.status(), target + " -> " + refused.body());
            assertEquals("misdirected_request", refused.json().get("error").asText());
            assertEquals("this server does not answer to Host 'Attacker.Example:" + port + "' (a guard against DNS"
                    + " rebinding); to serve that name, add it with FeedServer.Builder.allowedHosts(\"attacker.example\")",
                    refused.json().get("message").asText());
        }
        for (String host : List.of("localhost.attacker.example", "127.0.0.1.attacker.example:" + port, "127.0.0.1.nip.io",
                "attacker-localhost", "localhost:" + port + ":" + port, "localhost, attacker.example", "[::1].attacker.example",
                "[::2]", "127.0.0.2", "", "[::1", "local_host")) {
            Answer refused = get(port, "/events?after=0", host);
            assertEquals(421, refused.status(), "'" + host + "' -> " + refused.body());
            assertTrue(refused.json().get("message").asText().startsWith("this server does not answer to Host '" + host.strip()
                    + "'"), refused.body());
        }
        assertEquals(before, reads.count.get(), "no refused request read the store");
    }

    @Test
    void aHostOfThousandsOfLabelsIsRefusedWith421AsAnyOtherName() throws Exception {
        FeedServer feed = feed(FeedServer.builder(reads));
        // 32 KiB, which the JDK's server takes: a check that recursed once per label overflowed the request
        // thread's stack, which died unanswered and left the connection open in the server for good.
        String host = "a.".repeat(16_000) + "example";

        Answer refused = get(feed.port(), "/events", host);

        assertEquals(421, refused.status(), refused.body());
        assertEquals("misdirected_request", refused.json().get("error").asText());
        assertEquals(0, reads.count.get());
    }

    @Test
    void allowedHostsAndThePublicUrisHostAreServedBesideThisMachinesNamesAndNothingElse() throws Exception {
        append();
        FeedServer feed = feed(FeedServer.builder(store).allowedHosts("Accounts.Internal", "10.1.2.3", "[FD00::5]")
                .publicUri(URI.create("https://feed.example.com/events")));
        int port = feed.port();

        for (String host : List.of("accounts.internal:" + port, "ACCOUNTS.internal", "10.1.2.3:80", "[fd00:0:0::5]:443",
                "feed.example.com", "Feed.Example.Com:443", "localhost:" + port, "127.0.0.1")) {
            Answer served = get(port, "/events?after=0", host);
            assertEquals(200, served.status(), host + " -> " + served.body());
            assertEquals("https://feed.example.com/events?after=1&limit=100", served.json().get("next").asText());
        }
        for (String host : List.of("other.internal", "accounts.internal.attacker.example", "feed.example.com.attacker.example",
                "example.com", "10.1.2.4", "[fd00::6]")) {
            assertEquals(421, get(port, "/events?after=0", host).status(), host);
        }
        // Compose service names have underscores (java.net.URI finds no host in them): still served.
        FeedServer composed = feed(FeedServer.builder(store).publicUri(new URI("http", "feed_svc:8080", "/events", null, null)));
        assertEquals(200, get(composed.port(), "/events", "feed_svc:8080").status());
        assertEquals(421, get(composed.port(), "/events", "feed_svc.attacker.example").status());
    }

    @Test
    void allowedHostsReplacesTheNamesGivenBefore() throws Exception {
        FeedServer feed = feed(FeedServer.builder(store).allowedHosts("first.internal").allowedHosts("second.internal"));

        assertEquals(421, get(feed.port(), "/events", "first.internal").status());
        assertEquals(200, get(feed.port(), "/events", "second.internal").status());
    }

    @Test
    void aFeedBoundToEveryInterfaceAnswersAnyHostUntilAllowedHostsIsGiven() throws Exception {
        append();
        FeedServer open = feed(FeedServer.builder(store).host("0.0.0.0"));
        FeedServer listed = feed(FeedServer.builder(store).host("0.0.0.0").allowedHosts("accounts.internal"));

        // Behind a load balancer the Host is whatever name clients use: served as before.
        assertEquals(200, get(open.port(), "/events", "feed.behind.a.balancer.example").status());
        assertEquals(200, get(open.port(), "/events", "localhost").status());
        Answer refused = get(listed.port(), "/events", "feed.behind.a.balancer.example");
        assertEquals(421, refused.status(), refused.body());
        assertTrue(refused.json().get("message").asText().endsWith("FeedServer.Builder.allowedHosts(\"feed.behind.a.balancer.example\")"),
                refused.body());
        for (String host : List.of("accounts.internal", "localhost:" + listed.port(), "127.0.0.1", "[::1]", "0.0.0.0")) {
            assertEquals(200, get(listed.port(), "/events", host).status(), host);
        }
    }

    @Test
    void curlWithAnotherHostGets421AsJsonAndWithAnAllowedOneTheFeed() throws Exception {
        assumeTrue(Curl.installed(), "curl is not installed");
        append();
        FeedServer feed = feed(FeedServer.builder(store).allowedHosts("accounts.internal"));

        Curl.Answer rebound = Curl.run("-H", "Host: attacker.example", feed.uri() + "?after=0");
        Curl.Answer internal = Curl.run("-H", "Host: Accounts.Internal:8080", feed.uri() + "?after=0");
        Curl.Answer plain = Curl.run(feed.uri() + "?after=0");

        assertEquals(421, rebound.status(), rebound.body());
        JsonNode error = JSON.readTree(rebound.body());
        assertEquals("misdirected_request", error.get("error").asText());
        assertTrue(error.get("message").asText().contains("'attacker.example'")
                && error.get("message").asText().endsWith("allowedHosts(\"attacker.example\")"), rebound.body());
        assertEquals(200, internal.status(), internal.body());
        assertEquals("http://Accounts.Internal:8080/events?after=1&limit=100", JSON.readTree(internal.body()).get("next").asText());
        assertEquals(200, plain.status(), plain.body());
    }

    @Test
    void aRequestWithoutAHostIsServedOverHttp10AndRefusedOverHttp11AsAreTwoHosts() throws Exception {
        append();
        FeedServer feed = feed(FeedServer.builder(store));

        Answer http10 = send(feed.port(), "GET /events?after=0 HTTP/1.0\r\n\r\n");
        Answer http11 = send(feed.port(), "GET /events HTTP/1.1\r\nConnection: close\r\n\r\n");
        Answer twoHosts = send(feed.port(), "GET /events HTTP/1.1\r\nHost: localhost\r\nHost: attacker.example\r\n"
                + "Connection: close\r\n\r\n");

        assertEquals(200, http10.status(), "no browser leaves Host out: " + http10.body());
        assertEquals("http://127.0.0.1:" + feed.port() + "/events?after=1&limit=100", http10.json().get("next").asText());
        assertEquals(400, http11.status(), http11.body());
        assertEquals("an HTTP/1.1 request must have a Host header", http11.json().get("message").asText());
        assertEquals(400, twoHosts.status(), twoHosts.body());
        assertEquals("a request must have one Host header, this one has 2", twoHosts.json().get("message").asText());
    }

    @Test
    void linksInTheAnswerToAnHttp10RequestWithoutAHostOnAnIpv6AddressBracketTheAddress() throws Exception {
        assumeTrue(hasIpv6Loopback(), "this machine has no IPv6 loopback to bind");
        UUID id = append();
        FeedServer feed = feed(FeedServer.builder(store).host("::1"));   // a failure here is the feed's own

        Answer http10 = send("::1", feed.port(), "GET /events?after=0 HTTP/1.0\r\n\r\n");

        assertEquals(200, http10.status(), http10.body());
        assertEquals("http://[0:0:0:0:0:0:0:1]:" + feed.port() + "/events?after=1&limit=100", http10.json().get("next").asText());
        assertEquals(feed.uri() + "/" + id, http10.json().get("events").get(0).get("url").asText());
    }

    @Test
    void aServerOfYourOwnGuardsTheMountedHandlerWhicheverFilterCameFirst() throws Exception {
        append();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        RequestTimeout requests = new RequestTimeout("own", 2, Duration.ofSeconds(5));
        server.setExecutor(requests);
        FeedHandler handler = FeedServer.builder(reads).handler();
        HttpContext context = requests.guard(server.createContext("/api/events", handler));
        AllowedHosts hosts = AllowedHosts.boundTo(server.getAddress()).and("accounts.internal")
                .advising("start it with --allowed-hosts %s");
        assertEquals(context, hosts.guard(context));
        server.start();
        toClose.add(requests);
        toClose.add(() -> server.stop(0));
        toClose.add(handler);
        int port = server.getAddress().getPort();
        int before = reads.count.get();

        // A body that the RequestTimeout would wait for: refused on the Host alone, before it is read.
        Answer refused = send(port, "GET /api/events HTTP/1.1\r\nHost: attacker.example\r\nContent-Length: 100\r\n"
                + "Connection: close\r\n\r\n");
        int readsAfterRefusal = reads.count.get();
        Answer internal = get(port, "/api/events?after=0", "accounts.internal");
        Answer local = get(port, "/api/events?after=0", "localhost:" + port);

        assertEquals(421, refused.status(), refused.body());
        assertTrue(refused.json().get("message").asText().endsWith("; to serve that name, start it with --allowed-hosts"
                + " attacker.example"), refused.body());
        assertEquals(before, readsAfterRefusal, "the refused request read nothing");
        assertEquals(200, internal.status(), internal.body());
        assertEquals(200, local.status(), local.body());
    }

    @Test
    void theLoopbackNamesAreServedOnlyWhenBoundToALoopbackOrWildcardAddress() {
        AllowedHosts wildcard = AllowedHosts.boundTo(new InetSocketAddress("0.0.0.0", 8080));
        AllowedHosts lan = AllowedHosts.boundTo(new InetSocketAddress("10.1.2.3", 8080));
        AllowedHosts ipv6 = AllowedHosts.boundTo(new InetSocketAddress("fd00::5", 8080)).and("accounts.internal");
        AllowedHosts otherLoopback = AllowedHosts.boundTo(new InetSocketAddress("127.0.0.2", 8080));

        assertTrue(wildcard.allows("localhost:8080") && wildcard.allows("127.0.0.1") && wildcard.allows("[::1]:8080"));
        assertTrue(lan.allows("10.1.2.3:8080"));
        assertFalse(lan.allows("localhost:8080") || lan.allows("127.0.0.1") || lan.allows("[::1]"));
        assertTrue(ipv6.allows("[fd00::5]:8080") && ipv6.allows("[FD00:0:0:0:0:0:0:5]") && ipv6.allows("accounts.internal"));
        assertFalse(ipv6.allows("localhost") || ipv6.allows("fd00::5"));
        assertTrue(otherLoopback.allows("127.0.0.2:8080") && otherLoopback.allows("localhost"));
        assertTrue(AllowedHosts.boundTo(new InetSocketAddress("localhost", 8080)).allows("LOCALHOST:8080"));
    }

    @Test
    void onlyWholeNamesMatchAndNotLookalikes() {
        AllowedHosts hosts = AllowedHosts.loopback().and("accounts.internal", "[::ffff:10.0.0.1]");

        for (String host : List.of("localhost", "LOCALHOST:1", "localhost:", "127.0.0.1:65535", "[::1]", "[0::1]:8080",
                "accounts.internal", "10.0.0.1")) {
            assertTrue(hosts.allows(host), host);
        }
        for (String host : List.of("localhost.evil.com", "127.0.0.1.evil.com", "evil.com:80@localhost", "localhost:80:80",
                "localhost/", "localhost evil.com", "accounts.internal.evil.com", "internal", "evil-accounts.internal",
                "", " ", "[::1", "::1", "[::1]x", "[::g]", "127.0.0.1:123456", "[localhost]")) {
            assertFalse(hosts.allows(host), host);
        }
        assertEquals("AllowedHosts[localhost, 127.0.0.1, [0:0:0:0:0:0:0:1]]", AllowedHosts.loopback().toString());
    }

    @Test
    void aNameThatIsNotAHostNameOrAddressWithoutAPortIsRefusedNamingIt() {
        for (String bad : List.of("", "accounts.internal:8080", "http://accounts.internal", "accounts internal", "fd00::5",
                "[::1", "[1:2:3]", "[fe80::1%eth0]", "*", ".internal", "accounts.internal.", "-accounts.internal")) {
            IllegalArgumentException byHosts = assertThrows(IllegalArgumentException.class,
                    () -> AllowedHosts.loopback().and("fine.internal", bad));
            IllegalArgumentException byFeed = assertThrows(IllegalArgumentException.class,
                    () -> FeedServer.builder(store).allowedHosts(bad));
            for (IllegalArgumentException refused : List.of(byHosts, byFeed)) {
                assertEquals("allowed host '" + bad + "' is not a host name or IP address without a port (an IPv6 address"
                        + " goes in brackets), e.g. accounts.internal, 192.168.1.5 or [fd00::5]", refused.getMessage());
            }
        }
        assertEquals("names[1] must not be null", assertThrows(IllegalArgumentException.class,
                () -> FeedServer.builder(store).allowedHosts("fine.internal", null)).getMessage());
        IllegalArgumentException publicUri = assertThrows(IllegalArgumentException.class,
                () -> FeedServer.builder(store).publicUri(URI.create("http://b%C3%BCcher.example/events")));
        assertTrue(publicUri.getMessage().contains("host name or IP address"), publicUri.getMessage());
    }

    /** The store as a feed reads it, counting the reads. */
    private static final class ReadCounter implements EventReader {
        final AtomicInteger count = new AtomicInteger();
        private final EventReader store;

        ReadCounter(EventReader store) {
            this.store = store;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            count.incrementAndGet();
            return store.readAll(afterPosition, maxCount);
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            count.incrementAndGet();
            return store.readStream(streamId, fromVersion, maxCount);
        }

        @Override
        public long streamVersion(String streamId) {
            count.incrementAndGet();
            return store.streamVersion(streamId);
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            count.incrementAndGet();
            return store.readEvent(eventId);
        }
    }
}
