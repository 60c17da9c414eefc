package dev.flux.feed;

import com.sun.net.httpserver.HttpContext;
import com.sun.management.UnixOperatingSystemMXBean;
import com.sun.net.httpserver.HttpServer;
import dev.flux.EventReader;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.serialization.EventDecodingException;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Serves a store's events as the flux JSON feed ({@link FeedHandler} describes the paths) on the
 * JDK's {@link HttpServer}, so that consumers in other processes can follow it with
 * {@link HttpEventSource}.
 *
 * <pre>{@code
 * try (FeedServer feed = FeedServer.builder(store).port(8080).start()) {
 *     System.out.println("feed at " + feed.uri());      // http://127.0.0.1:8080/events
 *     ...
 * }
 * }</pre>
 *
 * <p>It binds 127.0.0.1 unless told otherwise; port 0 (the default) picks a free port that
 * {@link #uri()} reports. Bound to a loopback address, it answers only requests whose {@code Host}
 * header names this machine ({@code localhost}, {@code 127.0.0.1}, {@code [::1]}, the address bound),
 * the host of {@link Builder#publicUri} or one of {@link Builder#allowedHosts}, and refuses others with
 * 421, so that a web page whose DNS name is rebound to 127.0.0.1 cannot read the feed
 * ({@link AllowedHosts} tells how). Requests are answered by a small fixed pool of threads; held long polls
 * take no thread, so many waiting consumers do not exhaust it. A request that has not come in whole
 * within {@link Builder#requestTimeout} is dropped, so clients that send part of a request and stall
 * hold a thread no longer than that; an answer that stops going out for {@link Builder#answerTimeout}
 * (its consumer stopped reading) is dropped too, so consumers that ask for big pages and hang hold a
 * thread no longer than that either. Loading this class sets the system properties the JDK's server
 * runs by (TCP_NODELAY, a connection limit; see {@link #configureJdkHttpServer()}) unless they are set
 * already; they take effect only if no {@code HttpServer} was created in the JVM before.
 *
 * <p>Its own threads are daemons ({@code flux-feed-N}, {@code flux-feed-request-timeout-N},
 * {@code flux-feed-timer}, {@code flux-feed-answer}); the JDK's {@code HTTP-Dispatcher} thread is not, so
 * a feed not closed keeps the JVM running after {@code main} returns. {@link #close()} ends them all.
 */
public final class FeedServer implements AutoCloseable {
    /**
     * The JDK's server accepts connections without limit by default. A client that opens connections until
     * the process runs out of file descriptors (20,000 idle sockets on 127.0.0.1 took under a minute) wedged
     * it for good on JDK 17: its dispatcher thread spun on the failing accept at 100% of a core, answered
     * nobody and never closed the dead connections, so the feed stayed down after the client left. With
     * this limit the server closes connections past it at once, and recovers when the flood stops.
     */
    static final String MAX_CONNECTIONS = "jdk.httpserver.maxConnections";

    static {
        configureJdkHttpServer();
    }

    /**
     * Sets the system properties the JDK's {@code HttpServer} runs by, each unless it is set already:
     * {@code sun.net.httpserver.nodelay=true}, without which every answer waits about 40 ms (the server
     * writes headers and body in two TCP segments, and Nagle's algorithm holds the second for the client's
     * delayed ACK), and {@code jdk.httpserver.maxConnections}, half the file descriptors the process may
     * open (10,000 where that is not known), without which a client that opens connections until none is
     * left stops the server for good. The JDK reads them once, when the first {@code HttpServer} of the JVM
     * is created. Loading this class calls this method; when you mount a {@link FeedHandler} in a server of
     * your own, call it before that server is created (or set the properties at start-up).
     */
    public static void configureJdkHttpServer() {
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        if (System.getProperty(MAX_CONNECTIONS) == null) {
            System.setProperty(MAX_CONNECTIONS, Long.toString(connectionLimit()));
        }
    }

    /** Half the file descriptors the process may open, leaving the rest to the store, the JVM and other servers. */
    static long connectionLimit() {
        try {
            if (ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean unix
                    && unix.getMaxFileDescriptorCount() > 0) {
                return Math.max(1, Math.min(Integer.MAX_VALUE, unix.getMaxFileDescriptorCount() / 2));
            }
        } catch (LinkageError | RuntimeException e) {
            // A runtime without the jdk.management module (a jlink image, say): no count to halve.
        }
        return 10_000;
    }

    private final HttpServer server;
    private final FeedHandler handler;
    private final RequestTimeout requests;
    private final URI uri;

    private FeedServer(Builder builder) {
        InetSocketAddress address = new InetSocketAddress(builder.host, builder.port);
        AllowedHosts hosts = builder.allowedHosts(address);
        this.handler = builder.handler();
        try {
            this.server = HttpServer.create(address, builder.backlog);
        } catch (IOException e) {
            handler.close();
            throw new FluxException("cannot start the feed on " + builder.host + ":" + builder.port + ": " + e.getMessage(), e);
        }
        this.requests = new RequestTimeout("flux-feed", builder.threads, builder.requestTimeout, builder.answerTimeout);
        server.setExecutor(requests);
        guard(server.createContext(builder.path, handler), hosts);
        if (!builder.path.equals("/")) {
            guard(server.createContext("/", FeedHandler::notFound), hosts);
        }
        server.start();
        InetSocketAddress bound = server.getAddress();
        String host = bound.getAddress().isAnyLocalAddress() ? "127.0.0.1" : bound.getAddress().getHostAddress();
        if (host.indexOf(':') >= 0) {
            host = "[" + host + "]";
        }
        this.uri = URI.create("http://" + host + ":" + bound.getPort() + FeedHandler.escapedPath(builder.path));
    }

    /** Checks the Host header of the context's requests, when {@code hosts} is not null, before the body is read. */
    private void guard(HttpContext context, AllowedHosts hosts) {
        requests.guard(context);
        if (hosts != null) {
            hosts.guard(context);
        }
    }

    /** Starts configuring a feed over {@code reader}. */
    public static Builder builder(EventReader reader) {
        return new Builder(reader);
    }

    /**
     * A feed over {@code reader} with the defaults: 127.0.0.1, a free port, path {@code /events}, answering
     * to {@code localhost}, {@code 127.0.0.1} and {@code [::1]} in the Host header.
     *
     * @throws FluxException         when the address cannot be bound
     * @throws IllegalStateException when {@code reader} is a closed store
     */
    public static FeedServer start(EventReader reader) {
        return builder(reader).start();
    }

    /** The URI of the event list, e.g. {@code http://127.0.0.1:43121/events}. */
    public URI uri() {
        return uri;
    }

    /** The port it listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    /**
     * Answers held long polls (waiting up to 5 s for the answers to be written), stops accepting requests,
     * drops the connections of requests still coming in, waits up to 5 s for answers being written on the
     * request threads, and releases the port.
     */
    @Override
    public void close() {
        handler.close();
        server.stop(0);
        requests.close();
    }

    /** Options of a {@link FeedServer} (and of a {@link FeedHandler} to mount elsewhere). */
    public static final class Builder {
        private final EventReader reader;
        private String host = "127.0.0.1";
        private int port;
        private String path = "/events";
        private int defaultLimit = 100;
        private int maxLimit = 1000;
        private Duration maxWait = Duration.ofSeconds(30);
        private int maxHeld = 10_000;
        private Duration recheck = Duration.ofMillis(250);
        private int threads = 4;
        private Duration requestTimeout = Duration.ofSeconds(10);
        private Duration answerTimeout = Duration.ofSeconds(10);
        private int backlog = 128;
        private UnaryOperator<RecordedEvent> upcast = UnaryOperator.identity();
        private String publicBase;
        /** The host of {@link #publicUri}, as a Host header names it. */
        private String publicHost;
        /** Null until {@link #allowedHosts} is called. */
        private List<String> allowedHosts;

        private Builder(EventReader reader) {
            if (reader == null) {
                throw new IllegalArgumentException("reader must not be null");
            }
            this.reader = reader;
        }

        /** The address to bind; default 127.0.0.1 (this machine only). {@code 0.0.0.0} serves every interface. */
        public Builder host(String host) {
            if (host == null || host.isBlank()) {
                throw new IllegalArgumentException("host must not be null or blank, was "
                        + (host == null ? "null" : "'" + host + "'"));
            }
            this.host = host;
            return this;
        }

        /** The port; default 0, a free one ({@link FeedServer#uri()} tells which). */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be in [0, 65535], was " + port);
            }
            this.port = port;
            return this;
        }

        /**
         * The path of the event list, as it reads unescaped; default {@code /events}. One with a space or a
         * non-ASCII character ({@code /konten/événements}) is served under its escaped form too, which
         * {@link FeedServer#uri()} and the links in answers use.
         */
        public Builder path(String path) {
            if (path == null || !path.startsWith("/") || (path.length() > 1 && path.endsWith("/"))) {
                throw new IllegalArgumentException("path must start with '/' and not end with one, was " + path);
            }
            this.path = path;
            return this;
        }

        /**
         * Events per page when a request gives no {@code limit} (default 100), and the most it may ask for
         * (default 1000).
         *
         * @throws IllegalArgumentException unless {@code 1 <= defaultLimit <= maxLimit}
         */
        public Builder limits(int defaultLimit, int maxLimit) {
            if (defaultLimit < 1) {
                throw new IllegalArgumentException("defaultLimit must be >= 1, was " + defaultLimit);
            }
            if (maxLimit < defaultLimit) {
                throw new IllegalArgumentException("maxLimit must be >= defaultLimit (" + defaultLimit + "), was " + maxLimit);
            }
            this.defaultLimit = defaultLimit;
            this.maxLimit = maxLimit;
            return this;
        }

        /**
         * The longest a long poll is held, whatever {@code wait} asks; default 30 s. The feed's {@code wait} is
         * in whole seconds, so a fraction of a second is cut ({@code 1.5 s} holds polls 1 s, and the
         * {@code next} links say {@code wait=1}).
         *
         * @throws IllegalArgumentException when null or under 1 second
         */
        public Builder maxWait(Duration maxWait) {
            if (maxWait == null || maxWait.isNegative() || maxWait.toSeconds() < 1) {
                throw new IllegalArgumentException("maxWait must be at least 1 second, was " + maxWait);
            }
            this.maxWait = maxWait;
            return this;
        }

        /** How many long polls may be held at once (more are answered at once); default 10,000. */
        public Builder maxHeld(int maxHeld) {
            if (maxHeld < 0) {
                throw new IllegalArgumentException("maxHeld must be >= 0, was " + maxHeld);
            }
            this.maxHeld = maxHeld;
            return this;
        }

        /**
         * How often held long polls look for new events besides the store's append signal: what finds
         * events that other processes appended to a shared store. Default 250 ms; a duration too long for
         * a {@code long} of milliseconds (say {@code ChronoUnit.FOREVER.getDuration()}) means never.
         */
        public Builder recheck(Duration recheck) {
            if (recheck == null || recheck.compareTo(Duration.ofMillis(1)) < 0) {
                throw new IllegalArgumentException("recheck must be at least 1 ms, was " + recheck);
            }
            this.recheck = recheck;
            return this;
        }

        /** Threads answering requests; default 4. */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, was " + threads);
            }
            this.threads = threads;
            return this;
        }

        /**
         * How long a request may take to come in whole, counted from when one of the {@link #threads}
         * takes it up (once its first bytes have come); default 10 s. One that has not is dropped (its
         * connection closed, unanswered), so a client that sends part of a request and stalls (a consumer
         * that crashed mid-request behind a half-open connection, or a hostile one) holds a thread no
         * longer than that. A feed request has no body; one that brings more than 64 KiB is refused (413).
         * Once a request is in, this limit is over: a long poll is held up to {@link #maxWait}, and its
         * answer, like every other, is written under {@link #answerTimeout}. It applies to this server
         * alone, unlike the JDK's {@code sun.net.httpserver.maxReqTime}, which is read once and applies to
         * every server in the JVM. A {@link #handler()} mounted in a server of your own gets the limit when
         * that server runs on a {@link RequestTimeout} too.
         *
         * @throws IllegalArgumentException unless it is positive
         */
        public Builder requestTimeout(Duration requestTimeout) {
            if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("requestTimeout must be positive, was " + requestTimeout);
            }
            this.requestTimeout = requestTimeout;
            return this;
        }

        /**
         * How long an answer may go without progress; default 10 s. Each write of an answer to its socket
         * (the headers, each 64 KiB of the body) must be done within it; one that is not, because the
         * consumer stopped reading (a hung process behind a half-open connection, or a hostile client
         * that asked for a big page) and the socket's buffers are full, is dropped: the connection is
         * closed mid-answer, and the thread goes back to serving others. It bounds a stall, not the whole
         * answer: a consumer that reads slowly but steadily, at least 64 KiB per {@code answerTimeout},
         * gets a page of any size, however long that takes (and so does a hostile one that trickles its
         * reads, holding the thread as long). Only the writes are limited: never a store read, nor a long
         * poll's wait. {@link HttpEventSource} itself gives up on an answer that has not come in full
         * within its wait plus 10 s.
         *
         * @throws IllegalArgumentException unless it is positive
         */
        public Builder answerTimeout(Duration answerTimeout) {
            if (answerTimeout == null || answerTimeout.isNegative() || answerTimeout.isZero()) {
                throw new IllegalArgumentException("answerTimeout must be positive, was " + answerTimeout);
            }
            this.answerTimeout = answerTimeout;
            return this;
        }

        /**
         * Where consumers reach the event list when that is not the address bound: behind a reverse
         * proxy or a TLS terminator, say {@code https://api.example.com/accounts/events}. The links in
         * answers ({@code url}, {@code next}) then start with it, whatever the request's {@code Host}
         * header says. Default: {@code http://}, the request's {@code Host} header and the path. Its host
         * is one the server answers to ({@link #allowedHosts}).
         *
         * @throws IllegalArgumentException unless it is an absolute http or https URI with a host name or
         *                                  IP address and no user info, query or fragment
         */
        public Builder publicUri(URI publicUri) {
            // The raw authority, not getHost(): a host such as a Compose service name "feed_svc" has none.
            String authority = publicUri == null ? null : publicUri.getRawAuthority();
            if (publicUri == null || !("http".equalsIgnoreCase(publicUri.getScheme())
                    || "https".equalsIgnoreCase(publicUri.getScheme())) || authority == null || authority.contains("@")
                    || publicUri.getRawQuery() != null || publicUri.getRawFragment() != null) {
                throw new IllegalArgumentException("publicUri must be an absolute http or https URI with a host and no"
                        + " user info, query or fragment, was " + publicUri);
            }
            String host = AllowedHosts.hostOf(authority);
            try {
                AllowedHosts.loopback().and(host == null ? "" : host);
            } catch (IllegalArgumentException notAName) {
                throw new IllegalArgumentException("publicUri must have a host name or IP address (an IPv6 one in"
                        + " brackets) as its host, was " + publicUri);
            }
            String base = publicUri.toASCIIString();
            this.publicBase = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
            this.publicHost = host;
            return this;
        }

        /**
         * The names, besides those of this machine, that the server answers to in a request's {@code Host}
         * header: host names or IP addresses (an IPv6 one in brackets), each without a port (any port is
         * served), e.g. {@code accounts.internal}; these replace names given before. A request under any
         * other name gets 421 {@code misdirected_request}, naming the Host and this option, and nothing is
         * read from the store for it: the defence against DNS rebinding ({@link AllowedHosts}).
         *
         * <p>Bound to a loopback address (the default, 127.0.0.1), the server answers to {@code localhost},
         * {@code 127.0.0.1}, {@code [::1]}, the {@link #host} it was given and the host of the
         * {@link #publicUri}, and to these names. Bound to any other address ({@code 0.0.0.0}, a LAN
         * address), it answers to every Host until this is called (so that a feed behind a load balancer
         * keeps working); then to the host it was given and its address, the loopback names when it is
         * {@code 0.0.0.0}, the host of the {@link #publicUri}, and these names. Host names compare without
         * regard to case; {@code localhost} does not let {@code localhost.attacker.example} in.
         *
         * @throws IllegalArgumentException when {@code names} is null, or one is not a host name or IP address
         *                                  without a port, naming it
         */
        public Builder allowedHosts(String... names) {
            AllowedHosts.loopback().and(names);
            this.allowedHosts = List.of(names);
            return this;
        }

        /** What a server bound to {@code address} answers to; null for every Host. */
        private AllowedHosts allowedHosts(InetSocketAddress address) {
            boolean loopback = address.getAddress() != null && address.getAddress().isLoopbackAddress();
            if (allowedHosts == null && !loopback) {
                return null;
            }
            AllowedHosts hosts = AllowedHosts.boundTo(address).and(allowedHosts == null ? new String[0]
                    : allowedHosts.toArray(String[]::new));
            if (publicHost != null) {
                hosts = hosts.and(publicHost);
            }
            return hosts.advising("add it with FeedServer.Builder.allowedHosts(\"%s\")");
        }

        /**
         * Serve every event as the current code sees it: upcast through {@code serializer}'s
         * {@link dev.flux.serialization.EventTypes} to the current schema version and type name, so that
         * consumers need only the current classes. Default: events as stored.
         *
         * <p>Events of a type the serializer neither registers nor upcasts, and events stored at a schema version
         * newer than it knows ({@link dev.flux.serialization.EventTypes#isNewerThanKnown}: written by a newer
         * release while this one still serves, in a rolling deploy), are served as stored, with their
         * {@code schema_version}: a consumer that knows that version reads them, one that does not fails to decode
         * them, naming the version, as it would reading the store. An event that cannot be upcast for another
         * reason (an upcaster that throws, a gap in the chain, a class whose version was lowered below its
         * upcasters') is answered with 500 {@code corrupt_event}.
         */
        public Builder upcastWith(JacksonEventSerializer serializer) {
            if (serializer == null) {
                throw new IllegalArgumentException("serializer must not be null");
            }
            EventTypes types = serializer.eventTypes();
            this.upcast = stored -> {
                try {
                    return serializer.upcast(stored);
                } catch (EventDecodingException e) {
                    if (types.isNewerThanKnown(stored)) {
                        return stored;
                    }
                    throw e;
                }
            };
            return this;
        }

        /**
         * A handler with these options (host, port, threads, the request and answer timeouts and the allowed
         * hosts aside) to mount in a server of your own; run that server on a {@link RequestTimeout} for the
         * timeouts, and guard its context with {@link AllowedHosts} for the Host check.
         *
         * @throws IllegalStateException when the reader is a closed store
         */
        public FeedHandler handler() {
            long recheckMillis = recheck.compareTo(Duration.ofMillis(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : recheck.toMillis();
            return new FeedHandler(reader, defaultLimit, maxLimit, maxWait.toSeconds(), maxHeld, recheckMillis, upcast,
                    publicBase);
        }

        /**
         * Binds and starts the server.
         *
         * @throws FluxException         when the address cannot be bound (say, the port is taken)
         * @throws IllegalStateException when the reader is a closed store (nothing is bound then)
         */
        public FeedServer start() {
            return new FeedServer(this);
        }
    }
}
