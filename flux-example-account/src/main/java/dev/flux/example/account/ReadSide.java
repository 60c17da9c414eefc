package dev.flux.example.account;

import com.sun.net.httpserver.HttpServer;
import dev.flux.StreamName;
import dev.flux.feed.AllowedHosts;
import dev.flux.feed.HttpEventSource;
import dev.flux.feed.RequestTimeout;
import dev.flux.subscription.Subscription;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The read side: follows the command side's feed over HTTP with a durable offset and keeps every
 * account's balance, served at {@code GET /balances} as
 * {@code {"accounts": {id: balance, ...}, "total": ..., "position": ...}}: one snapshot, whose total is the
 * sum of the balances shown and whose position is that of the last event they hold. Once the subscription has
 * stopped on a failure ({@link Subscription.State#FAILED}: the feed went back, say), it answers 503
 * {@code read_side_failed} naming the failure instead of balances that no longer move. A request must name in its
 * Host header a host the server answers to (else 421), and one that has not come in whole within the
 * request timeout is dropped, as on the {@link CommandSide}.
 */
public final class ReadSide implements AutoCloseable {
    private final Balances balances;
    private final Subscription subscription;
    private final HttpServer server;
    private final RequestTimeout requests;

    /**
     * @param feed      the command side's feed, e.g. {@code http://127.0.0.1:8080/events}
     * @param modelFile where the balances and their offset live; null keeps them in memory
     */
    public ReadSide(URI feed, Path modelFile, String host, int port) throws IOException {
        this(feed, modelFile, host, port, CommandSide.DEFAULT_REQUEST_TIMEOUT);
    }

    /**
     * @param requestTimeout how long a request may take to come in whole, counted from its first bytes; positive
     */
    public ReadSide(URI feed, Path modelFile, String host, int port, Duration requestTimeout) throws IOException {
        this(feed, modelFile, host, port, requestTimeout, List.of());
    }

    /**
     * @param requestTimeout how long a request may take to come in whole, counted from its first bytes; positive
     * @param allowedHosts   the names, besides its own, that the server answers to in a request's Host
     *                       header, as on the {@link CommandSide}
     * @throws IllegalArgumentException naming the argument and its value, when one is null, out of range (a port
     *                                  past 65535, a host that does not resolve) or an allowed host is not a
     *                                  host name or IP address without a port
     * @throws dev.flux.FluxException   when {@code modelFile} holds no balances the example wrote, or its
     *                                  directory cannot be made or written (a file in its place, say)
     */
    public ReadSide(URI feed, Path modelFile, String host, int port, Duration requestTimeout, List<String> allowedHosts)
            throws IOException {
        if (feed == null || !feed.isAbsolute() || !List.of("http", "https").contains(feed.getScheme()) || feed.getHost() == null) {
            throw new IllegalArgumentException("feed must be the command side's feed URL, e.g. http://127.0.0.1:8080/events,"
                    + " was " + feed);
        }
        Http.requireOptions(requestTimeout, allowedHosts);
        InetSocketAddress address = Http.address(host, port);
        AllowedHosts hosts = Http.hosts(address, allowedHosts);
        this.balances = new Balances(modelFile);    // first: a model it cannot store leaves nothing to close
        this.requests = new RequestTimeout("read-side", 4, requestTimeout);
        this.subscription = Subscription.builder(HttpEventSource.of(feed, Duration.ofSeconds(5)))
                .name("balances", balances)
                .batchSize(500)
                .errorDelay(Duration.ofMillis(100), Duration.ofSeconds(5))
                .onRecorded(AccountOpened.class, (e, recorded) -> balances.opened(StreamName.id(recorded.streamId()), recorded.position()))
                .onRecorded(AccountCredited.class, (e, recorded) -> balances.add(StreamName.id(recorded.streamId()), e.amount(), recorded.position()))
                .onRecorded(AccountDebited.class, (e, recorded) -> balances.add(StreamName.id(recorded.streamId()), -e.amount(), recorded.position()))
                .build();
        this.server = Http.listen(address, 64, requests, "read side", "--read-port");
        Http.serve(server, "/balances", Http.json(exchange -> {
            Http.requireMethod(exchange, "GET");
            if (!exchange.getRequestURI().getPath().equals("/balances")) {
                throw new Http.Problem(404, "not_found", "no such resource: " + exchange.getRequestURI().getPath());
            }
            // A subscription that stopped leaves balances that no longer move: never serve them as current.
            if (subscription.state() == Subscription.State.FAILED) {
                throw new Http.Problem(503, "read_side_failed", "the balances stopped at position "
                        + subscription.position() + " and no longer follow the feed " + feed + ": "
                        + (subscription.failure() == null ? "see the log" : subscription.failure().getMessage()) + "; restart the read side once that is mended"
                        + (modelFile == null ? "" : " (when the feed went back, delete " + modelFile
                        + " first, and it rebuilds the balances from the feed)"));
            }
            return balances.view();
        }), hosts, requests);
        Http.serveNotFound(server, "/balances", hosts, requests);
        server.start();
        subscription.start();
    }

    /** Where {@code /balances} is served. */
    public URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/balances");
    }

    /** Waits until the read model has taken in every event up to {@code position}. */
    public boolean awaitPosition(long position, Duration timeout) throws InterruptedException {
        return subscription.awaitPosition(position, timeout);
    }

    /**
     * The sum of every account's balance, as {@code /balances} shows it.
     *
     * @throws ArithmeticException when the sum passes the {@code long} range, as the balances of two accounts
     *                             near {@link Long#MAX_VALUE} do ({@code /balances} gives it whole)
     */
    public long total() {
        BigInteger total = balances.total();
        if (total.bitLength() >= Long.SIZE) {
            throw new ArithmeticException("the total of the balances, " + total + ", passes the long range;"
                    + " GET /balances gives it whole");
        }
        return total.longValue();
    }

    /** Every account's balance by account id: a copy, taken at once. */
    public Map<String, Long> balances() {
        return balances.snapshot();
    }

    /** The subscription that follows the feed: its position, state, and {@link Subscription#failure()} once it failed. */
    public Subscription subscription() {
        return subscription;
    }

    @Override
    public void close() {
        subscription.stop(Duration.ofSeconds(30));
        server.stop(0);
        requests.close();
    }
}
