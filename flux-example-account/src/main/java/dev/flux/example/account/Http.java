package dev.flux.example.account;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import dev.flux.feed.AllowedHosts;
import dev.flux.feed.FeedServer;
import dev.flux.feed.RequestTimeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/** The little JSON-over-HTTP plumbing the example's two APIs share. */
final class Http {
    /**
     * Strict where a lenient read would act on what the client did not mean: text after the JSON, and a
     * field given twice ({@code {"amount": 1, "amount": 1000}} would otherwise move the last one silently).
     */
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    /**
     * The largest request body read: a command is a few bytes, and a client must not fill the heap. The
     * servers' {@link RequestTimeout} refuses a larger one before a handler runs.
     */
    static final int MAX_BODY_BYTES = RequestTimeout.MAX_BODY_BYTES;
    private static final System.Logger LOG = System.getLogger(Http.class.getName());

    /*
     * The JDK reads its server's TCP_NODELAY and connection limit once, at the first HttpServer made in the
     * JVM, which is the example's own (listen() runs before the feed handler, whose FeedServer would set them):
     * so they are set here, before listen() makes one, unless the one who started the JVM chose.
     */
    static {
        FeedServer.configureJdkHttpServer();
    }

    private Http() {
    }

    /** An HTTP error answer: status, code and a message for the client. */
    static final class Problem extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final String code;

        Problem(int status, String code, String message) {
            super(message, null, false, false);
            this.status = status;
            this.code = code;
        }
    }

    interface Route {
        Object handle(HttpExchange exchange) throws IOException;
    }

    /** Wraps a route: its result becomes a 200 JSON body, a {@link Problem} its JSON error, anything else a 500. */
    static HttpHandler json(Route route) {
        return exchange -> {
            try {
                Object result = route.handle(exchange);
                send(exchange, exchange.getRequestMethod().equals("POST") && result instanceof Created ? 201 : 200,
                        result instanceof Created created ? created.body() : result);
            } catch (Problem problem) {
                send(exchange, problem);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "request " + exchange.getRequestURI() + " failed: " + e, e);
                send(exchange, 500, error("internal_error", String.valueOf(e.getMessage())));
            } finally {
                exchange.close();
            }
        };
    }

    /**
     * The address a side listens on, its arguments checked before anything opens.
     *
     * @throws IllegalArgumentException naming {@code host} or {@code port} and the bad value
     */
    static InetSocketAddress address(String host, int port) {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host must be a host name or IP address to listen on, e.g. 127.0.0.1, was "
                    + (host == null ? "null" : "'" + host + "'"));
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be from 0 to 65535 (0 picks a free one), was " + port);
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("host must be a host name or IP address of this machine, was '" + host
                    + "', which does not resolve");
        }
        return address;
    }

    /**
     * Checks the arguments the two sides' constructors share besides the address.
     *
     * @throws IllegalArgumentException naming {@code requestTimeout} or {@code allowedHosts} and the bad value
     */
    static void requireOptions(Duration requestTimeout, List<String> allowedHosts) {
        if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeout must be a positive duration, was " + requestTimeout);
        }
        if (allowedHosts == null || allowedHosts.stream().anyMatch(java.util.Objects::isNull)) {
            throw new IllegalArgumentException("allowedHosts must be a list of host names or IP addresses (List.of() for"
                    + " none), without nulls, was " + allowedHosts);
        }
    }

    /**
     * A server bound to {@code address}, on {@code requests}' threads; when it cannot bind (the port is
     * taken), closes {@code requests} and says which side and which option picks another port.
     *
     * @throws BindException naming the address and {@code option}
     * @throws IOException   when the server cannot be made otherwise
     */
    static HttpServer listen(InetSocketAddress address, int backlog, RequestTimeout requests, String side, String option)
            throws IOException {
        try {
            HttpServer server = HttpServer.create(address, backlog);
            server.setExecutor(requests);
            return server;
        } catch (IOException e) {
            requests.close();
            if (e instanceof BindException) {
                BindException named = new BindException("the " + side + " cannot listen on " + address.getHostString() + ":"
                        + address.getPort() + ": " + e.getMessage() + "; pick another port with " + option);
                named.initCause(e);
                throw named;
            }
            throw e;
        }
    }

    /**
     * The names a server of the example bound to {@code address} answers to in the Host header: its own
     * ({@link AllowedHosts#boundTo}) and {@code allowedHosts}; a refused one is told to start it with
     * {@value Main#ALLOWED_HOSTS}.
     *
     * @throws IllegalArgumentException when an allowed host is not a host name or IP address without a port
     */
    static AllowedHosts hosts(InetSocketAddress address, List<String> allowedHosts) {
        return AllowedHosts.boundTo(address).and(allowedHosts.toArray(String[]::new))
                .advising("start it with " + Main.ALLOWED_HOSTS + " %s");
    }

    /**
     * Serves {@code handler} at {@code path} of {@code server}, which runs on {@code requests}: only requests
     * whose Host header names one of {@code hosts} (else 421, before the body is read), and only once each
     * is in whole within the request timeout. Every context of the example is made here.
     */
    static HttpContext serve(HttpServer server, String path, HttpHandler handler, AllowedHosts hosts, RequestTimeout requests) {
        HttpContext context = requests.guard(server.createContext(path, handler));
        return hosts.guard(context);
    }

    /**
     * Serves a JSON 404 for every path none of the server's other contexts takes (the JDK's own answer is
     * an HTML page), naming the paths it does serve.
     */
    static void serveNotFound(HttpServer server, String served, AllowedHosts hosts, RequestTimeout requests) {
        serve(server, "/", json(exchange -> {
            throw new Problem(404, "not_found", "no such resource: " + exchange.getRequestURI().getPath()
                    + "; this server serves " + served);
        }), hosts, requests);
    }

    /** A result that answers 201 Created. */
    record Created(Object body) {
    }

    /**
     * The request's body as a JSON object, refused unless it says it is one: a web page can make a
     * browser post a body of type {@code text/plain}, a form or multipart to any site, this one on
     * localhost too, without asking it first (a cross-site request forgery); only a body of type
     * {@code application/json} needs the site's consent (a CORS preflight, which this API never gives).
     * A field not among {@code fields} is refused (400 naming it).
     */
    static JsonNode body(HttpExchange exchange, String... fields) throws IOException {
        requireJson(exchange);
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readNBytes(MAX_BODY_BYTES + 1);
            if (bytes.length > MAX_BODY_BYTES) {
                throw new Problem(413, "too_large", "the body must be at most " + MAX_BODY_BYTES + " bytes");
            }
            JsonNode node = bytes.length == 0 ? null : JSON.readTree(bytes);
            if (node == null || !node.isObject()) {
                throw new Problem(400, "bad_request", "the body must be a JSON object");
            }
            // A typo ({"amout": 5}) must not pass for a body that left the field out, nor a field this API
            // does not take ({"owner": "Ada", "balance": 100}) for one it acts on.
            List<String> known = List.of(fields);
            for (java.util.Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!known.contains(name)) {
                    throw new Problem(400, "bad_request", "the body has an unknown field '" + name + "'; "
                            + exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " takes only '"
                            + String.join("', '", known) + "'");
                }
            }
            return node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new Problem(400, "bad_request", "the body is not JSON: " + e.getOriginalMessage());
        }
    }

    static long positiveAmount(JsonNode body) {
        JsonNode amount = body.get("amount");
        if (amount == null || !amount.isIntegralNumber() || !amount.canConvertToLong() || amount.asLong() <= 0) {
            throw new Problem(400, "bad_request", "'amount' must be a positive whole number, was " + amount);
        }
        return amount.asLong();
    }

    /** Refuses with 415 a request whose Content-Type is not {@code application/json} (parameters such as a charset aside). */
    static void requireJson(HttpExchange exchange) {
        List<String> types = exchange.getRequestHeaders().get("Content-Type");
        String type = types == null || types.size() != 1 ? "" : types.get(0);
        if (!type.split(";", 2)[0].strip().equalsIgnoreCase("application/json")) {
            exchange.getResponseHeaders().set("Accept-Post", "application/json");
            throw new Problem(415, "unsupported_media_type", exchange.getRequestMethod() + " "
                    + exchange.getRequestURI().getPath() + " takes Content-Type application/json, not "
                    + (types == null ? "none" : "'" + String.join("', '", types) + "'"));
        }
    }

    /**
     * Refuses (405) a request whose method is not {@code method}; a GET resource also takes HEAD, answered
     * as GET without the body (see {@link #send}), as HTTP says every GET resource should.
     */
    static void requireMethod(HttpExchange exchange, String method) {
        String asked = exchange.getRequestMethod();
        if (!asked.equals(method) && !(method.equals("GET") && asked.equals("HEAD"))) {
            String allowed = method.equals("GET") ? "GET, HEAD" : method;
            exchange.getResponseHeaders().set("Allow", allowed);
            throw new Problem(405, "method_not_allowed", exchange.getRequestURI().getPath() + " takes " + allowed
                    + ", not " + asked);
        }
    }

    static void send(HttpExchange exchange, Problem problem) throws IOException {
        send(exchange, problem.status, error(problem.code, problem.getMessage()));
    }

    /** An error body, {@code error} before {@code message} as the feed writes them (a {@code Map.of} has no fixed order). */
    private static ObjectNode error(String code, String message) {
        return JSON.createObjectNode().put("error", code).put("message", message);
    }

    /**
     * Answers {@code body} as JSON; to a HEAD, the same status and headers, Content-Length included, and no
     * body (the JDK's server takes no length for a HEAD: given one, it logs a warning and its body stream
     * refuses the write).
     */
    private static void send(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseHeaders().set("Content-Length", String.valueOf(bytes.length));
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
