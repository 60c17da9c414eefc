package dev.flux.example.account;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventStore;
import dev.flux.Repository;
import dev.flux.feed.AllowedHosts;
import dev.flux.feed.FeedHandler;
import dev.flux.feed.FeedServer;
import dev.flux.feed.RequestTimeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The command side: accounts behind a small JSON API, and the event feed beside it.
 *
 * <pre>
 * POST /accounts                {"owner": "Ada"}  -> 201 {"id": ..., "owner": "Ada", "balance": 0, "version": 0}
 * POST /accounts/{id}/credit    {"amount": 100}   -> 200 the account
 * POST /accounts/{id}/debit     {"amount": 30}    -> 200 the account, or 409 insufficient_funds
 * GET  /accounts/{id}                             -> 200 the account, or 404 (HEAD: the same, without the body)
 * GET  /accounts/{id}?version=N                   -> 200 the account as it was at version N, or 404
 * GET  /events ...                                -> the flux feed
 * </pre>
 *
 * A body with a field besides those shown is refused (400 naming it), so that a typo such as
 * {@code {"amout": 5}} is not taken for a body that left the field out.
 * Credits and debits go through {@link Repository#update}, which reloads and retries when another
 * request saved the same account first. A POST must send its body as {@code Content-Type:
 * application/json} (else 415), so that a web page cannot make a browser post to it. Every request,
 * to the API and the feed, must name in its Host header a host the server answers to (else 421): the
 * host it is bound to, {@code localhost}, {@code 127.0.0.1} and {@code [::1]} when that is a loopback
 * or wildcard address, and the allowed hosts given, with any port; so that a web page whose DNS name is
 * rebound to this machine cannot read or write accounts. A request that has not come in whole within
 * the request timeout is dropped (its connection closed unanswered), and so is an answer that stops
 * going out for as long (its client stopped reading), so that clients which stall half-way cannot hold
 * the API's threads.
 */
public final class CommandSide implements AutoCloseable {
    /** How long a request may take to come in whole, headers and body, unless told otherwise. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(10);

    private final Repository<Account> accounts;
    private final HttpServer server;
    private final FeedHandler feed;
    private final RequestTimeout requests;

    /**
     * Serves {@code store}'s accounts and feed on {@code host}:{@code port} (0 picks a free port), with the
     * {@linkplain #DEFAULT_REQUEST_TIMEOUT default request timeout}.
     *
     * @throws IllegalArgumentException naming the argument and its value, when one is null or out of range
     * @throws java.net.BindException    when the port is taken, naming it
     */
    public CommandSide(EventStore store, String host, int port) throws IOException {
        this(store, host, port, DEFAULT_REQUEST_TIMEOUT);
    }

    /**
     * @param requestTimeout how long a request may take to come in whole, headers and body, counted from
     *                       its first bytes, and each write of an answer to go out; positive. A long poll on
     *                       the feed may wait longer.
     */
    public CommandSide(EventStore store, String host, int port, Duration requestTimeout) throws IOException {
        this(store, host, port, requestTimeout, List.of());
    }

    /**
     * @param requestTimeout how long a request may take to come in whole, headers and body, counted from
     *                       its first bytes; positive. A long poll on the feed may wait longer.
     * @param allowedHosts   the names, besides its own, that the server answers to in a request's Host
     *                       header: host names or IP addresses (IPv6 in brackets), without a port
     * @throws IllegalArgumentException naming the argument and its value, when one is null, out of range (a port
     *                                  past 65535, a host that does not resolve) or an allowed host is not a
     *                                  host name or IP address without a port
     */
    public CommandSide(EventStore store, String host, int port, Duration requestTimeout, List<String> allowedHosts)
            throws IOException {
        if (store == null) {
            throw new IllegalArgumentException("store must be an open event store, was null");
        }
        Http.requireOptions(requestTimeout, allowedHosts);
        InetSocketAddress address = Http.address(host, port);
        AllowedHosts hosts = Http.hosts(address, allowedHosts);
        this.requests = new RequestTimeout("command-side", 8, requestTimeout);
        this.accounts = Repository.of(Account.class, store);
        this.server = Http.listen(address, 128, requests, "command side", "--port");
        this.feed = FeedServer.builder(store).handler();    // after listen: a port in use leaves no feed polling the store
        Http.serve(server, "/accounts", Http.json(this::route), hosts, requests);
        Http.serve(server, "/events", feed, hosts, requests);
        Http.serveNotFound(server, "/accounts and /events", hosts, requests);
        server.start();
    }

    /** The repository, for the demo's direct use. */
    public Repository<Account> accounts() {
        return accounts;
    }

    /** Where the API listens, e.g. {@code http://127.0.0.1:8080}. */
    public URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** The feed's event list. */
    public URI feedUri() {
        return URI.create(uri() + "/events");
    }

    private Object route(HttpExchange exchange) throws IOException {
        String[] parts = exchange.getRequestURI().getPath().split("/");
        // "", "accounts", id?, action? (the context also takes /accountsX, and an id may be blank)
        if (parts.length < 2 || !parts[1].equals("accounts") || parts.length > 2 && parts[2].isBlank()) {
            throw new Http.Problem(404, "not_found", "no such resource: " + exchange.getRequestURI().getPath());
        }
        if (parts.length == 2) {
            Http.requireMethod(exchange, "POST");
            return new Http.Created(open(Http.body(exchange, "owner")));
        }
        if (parts.length == 3) {
            Http.requireMethod(exchange, "GET");
            Long version = version(exchange.getRequestURI().getRawQuery());
            Account account = version == null ? accounts.load(parts[2]) : accountAt(parts[2], version);
            if (!account.isOpen()) {
                throw new Http.Problem(404, "not_found", "no account " + parts[2]);
            }
            return view(account);
        }
        if (parts.length == 4 && (parts[3].equals("credit") || parts[3].equals("debit"))) {
            Http.requireMethod(exchange, "POST");
            long amount = Http.positiveAmount(Http.body(exchange, "amount"));
            String id = parts[2];
            if (!accounts.load(id).isOpen()) {
                throw new Http.Problem(404, "not_found", "no account " + id);
            }
            try {
                return view(accounts.update(id, account -> {
                    if (parts[3].equals("credit")) {
                        account.credit(amount);
                    } else {
                        account.debit(amount);
                    }
                }));
            } catch (InsufficientFundsException e) {
                throw new Http.Problem(409, "insufficient_funds", e.getMessage());
            } catch (ArithmeticException e) {
                throw new Http.Problem(409, "balance_limit", e.getMessage());
            }
        }
        throw new Http.Problem(404, "not_found", "no such resource: " + exchange.getRequestURI().getPath());
    }

    /** The {@code version} a GET's query asks for, null without a query; 400 for anything else in it. */
    private static Long version(String query) {
        if (query == null || query.isEmpty()) {
            return null;
        }
        if (!query.startsWith("version=") || query.indexOf('&') >= 0) {
            throw new Http.Problem(400, "bad_request", "the only query an account takes is version=N, was '" + query + "'");
        }
        String text = query.substring("version=".length());
        try {
            long version = Long.parseLong(text);
            if (version >= 0) {
                return version;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new Http.Problem(400, "bad_request", "'version' must be a whole number from 0 to " + Long.MAX_VALUE
                + ", was '" + text + "'");
    }

    private Account accountAt(String id, long version) {
        long last = accounts.store().streamVersion(accounts.streamId(id));
        if (last < 0) {
            throw new Http.Problem(404, "not_found", "no account " + id);
        }
        if (version > last) {
            throw new Http.Problem(404, "not_found", "account " + id + " has no version " + version + ": its last is " + last);
        }
        return accounts.load(id, version);
    }

    private Map<String, Object> open(JsonNode body) {
        JsonNode owner = body.get("owner");
        if (owner == null || !owner.isTextual() || owner.asText().isBlank()) {
            throw new Http.Problem(400, "bad_request", "'owner' must be a non-blank string");
        }
        String id = UUID.randomUUID().toString();
        Account account = accounts.load(id);
        account.open(owner.asText());
        account.save();
        return view(account);
    }

    static Map<String, Object> view(Account account) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", account.id());
        view.put("owner", account.owner());
        view.put("balance", account.balance());
        view.put("version", account.version());
        return view;
    }

    @Override
    public void close() {
        feed.close();
        server.stop(0);
        requests.close();
    }
}
