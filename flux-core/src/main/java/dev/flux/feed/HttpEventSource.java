package dev.flux.feed;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.RetryAfterException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * An {@link EventSource} that follows another process's flux feed (a {@link FeedServer} or a mounted
 * {@link FeedHandler}) over HTTP, so a {@link dev.flux.subscription.Subscription} there works as it
 * does in-process: durable offset in any {@code OffsetStore}, typed handlers, retries.
 *
 * <pre>{@code
 * Subscription balances = Subscription.builder(HttpEventSource.of(URI.create("http://accounts:8080/events")))
 *         .name("balances", offsets)
 *         .onRecorded(AccountCredited.class, (e, recorded) -> ...)
 *         .start();
 * }</pre>
 *
 * <p>{@link #withCategory} reads one category alone (say {@code Account}): the feed filters it, so a
 * consumer of one category no longer reads and skips the events of every other; its offsets are global
 * positions still, the same as on the whole feed.
 *
 * <p>Each read asks for the page after the subscription's position with the events' data
 * ({@code include=data}) and long-polls ({@code wait}, default 5 s) when there is nothing new, so new
 * events arrive within milliseconds without hammering the server. A connection error (a host that
 * does not resolve says so; a connection refused and a host or network unreachable, which the JDK
 * reports alike, say that), an answer other than 200 (its body quoted from its start on one line, with
 * its {@code Retry-After} if any, see below), a read not answered in full within the wait plus 10 s (a
 * dead or stalled feed; so one read blocks at most that long, see {@link #longestWait()}), or a body
 * that is not the feed's JSON (an {@code event_id} not a UUID in its 8-4-4-4-12 form, say) throws a
 * {@link FluxException} naming the URL; the subscription backs off and tries again. Stopping the
 * subscription cancels a long poll in flight. A feed that answers a long poll at once
 * with nothing (it holds as many as it may, or is closing) is not asked again at once: the
 * subscription waits its poll interval first. The events' data arrive as the feed wrote them, numbers
 * copied as text (every digit, the scale and the sign of {@code -0.0} kept; never a {@code double}),
 * strings and names as long as the answer bound lets through; a number of over 1,000 digits fails the
 * read as a malformed answer.
 *
 * <p>An answer other than 200 with a {@code Retry-After} (a number of seconds or an HTTP date in any of
 * the three forms RFC 9110 has recipients accept: {@code Sun, 06 Nov 1994 08:49:37 GMT}, the obsolete
 * {@code Sunday, 06-Nov-94 08:49:37 GMT} and asctime's {@code Sun Nov  6 08:49:37 1994}; a value that is
 * none of these is ignored) is honoured, up to 5 minutes, so that a wrong header cannot hold a consumer
 * back for hours: this source sends the feed nothing until it has passed. The read that got that answer
 * fails with a {@link RetryAfterException} giving the time, so a subscription waits until then and reads
 * again instead of backing off. A read (or {@link #end()}) made before then waits out the rest when that
 * is at most 5 s, half the time a read gives its answer, so that the read still blocks no longer than
 * {@link #longestWait()} (a claim's lease is never outlasted); otherwise it throws at once, sending
 * nothing, a {@link RetryAfterException} saying how long is left. {@link #stopWaiting()} ends such a
 * wait as it does a long poll (the read returns empty); an interrupt ends it with a
 * {@link FluxException}, the interrupt kept.
 *
 * <p>One answer's body is held in memory, up to {@link #DEFAULT_MAX_ANSWER_BYTES} (64 MiB; see
 * {@link #withMaxAnswerBytes}): an answer that declares a longer body is refused before its body is
 * read, and one that grows past the bound while arriving (a chunked body, which declares none) is cut
 * off there, its connection dropped, so a broken or hostile feed, or a proxy in front of it, cannot
 * fill the heap. A page too big for the bound is asked for again with half the events, down to one,
 * and later reads ask for twice as many each time an answer comes in under half the bound: a run of
 * big events passes in smaller pages, with at most log2({@code maxCount}) + 1 requests a read. Only a
 * single event bigger than the bound fails the read, with a {@link FluxException} naming it, the URL
 * and the bound; the subscription then backs off and tries again (see its {@code lastError()}) and
 * skips nothing.
 *
 * <p>Read from one thread at a time (a subscription's); {@link #stopWaiting()} may be called from any.
 * Give each subscription its own source (consumer-group members in one process too): stopping one
 * cancels the long poll in flight of every subscription reading the same source, which then returns
 * empty and is polled again after the poll interval.
 */
public final class HttpEventSource implements EventSource {
    /**
     * A page nests its entries' data three deep (the page, its events, the entry): it may be three deeper
     * than Jackson's default limit, which the feed reads the stored data with. Its strings and names may be
     * as long as the answer bound lets them: with Jackson's defaults (20,000,000 and 50,000 characters), an
     * event the feed serves with a longer one failed every read, for good. Numbers keep Jackson's bound
     * (1,000 digits), since a page's own fields are parsed, which takes time that grows with the square of
     * their length.
     */
    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxNestingDepth(StreamReadConstraints.DEFAULT_MAX_DEPTH + 3)
                            .maxStringLength(Integer.MAX_VALUE).maxNameLength(Integer.MAX_VALUE).build())
                    .build())
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Reads one field's value of a page, which the rest of the page follows. */
    private static final ObjectReader FIELD = JSON.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** An empty answer to a long poll sooner than this was not held (see {@link #waitsForEvents}). */
    private static final long HELD_AT_LEAST_NANOS = 500_000_000L;
    /** The longest wait {@link #of(URI, Duration)} takes. */
    private static final Duration MAX_WAIT = Duration.ofDays(1);
    /** How long a read may take beyond its long-poll wait for the answer to come in whole. */
    private static final Duration ANSWER_MARGIN = Duration.ofSeconds(10);
    /** The most of a {@code Retry-After} one read waits out before it asks: the rest of {@link #ANSWER_MARGIN} is the answer's. */
    private static final Duration RETRY_AFTER_WAITED = Duration.ofSeconds(5);
    /** The HTTP date of C's {@code asctime()}, which has a space before a day of one digit (see {@link #httpDate}). */
    private static final DateTimeFormatter ASCTIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss uuuu", Locale.ENGLISH);
    /** The longest a {@code Retry-After} holds a source back, whatever it asks. */
    private static final Duration MAX_RETRY_AFTER = Duration.ofMinutes(5);
    /** The largest byte array the JVM makes. */
    private static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

    /**
     * The bound on one answer's body unless {@link #withMaxAnswerBytes} sets another: 64 MiB, so a full
     * page of 1,000 events of up to 64 KiB each, or one event as large as a Mongo document (16 MiB)
     * or a Xodus record can be, comes in one answer; bigger pages come in smaller ones.
     */
    public static final long DEFAULT_MAX_ANSWER_BYTES = 64L << 20;

    private final URI feed;
    private final HttpClient client;
    private final long waitSeconds;
    /** The longest one read may take, all its requests together: the wait plus {@link #ANSWER_MARGIN}. */
    private final Duration timeout;
    private final long maxAnswerBytes;
    /** The category read, null for every one. */
    private final String category;
    /** What the category adds to a page's query: {@code &category=} and its name, encoded; empty for every category. */
    private final String categoryQuery;
    private volatile CompletableFuture<?> inFlight;
    /** Whether the last read was an empty page the feed answered without holding the poll. */
    private volatile boolean answeredAtOnce;
    /** The most events a read asks for: lowered when a page was over the bound, raised again as answers fit easily. */
    private volatile int pageCap = Integer.MAX_VALUE;
    /** Until when the feed's last {@code Retry-After} holds this source back; null when none does. */
    private volatile Quiet quiet;

    /**
     * A {@code Retry-After} being honoured: the {@link System#nanoTime()} it ends at, the same as a time of day (for
     * {@link RetryAfterException#retryAt()}), and the answer that gave it.
     */
    private record Quiet(long until, Instant at, String answer) {
    }

    private HttpEventSource(URI feed, HttpClient client, long waitSeconds, Duration timeout, long maxAnswerBytes,
                            String category) {
        this.feed = feed;
        this.client = client;
        this.waitSeconds = waitSeconds;
        this.timeout = timeout;
        this.maxAnswerBytes = maxAnswerBytes;
        this.category = category;
        this.categoryQuery = category == null ? "" : "&category=" + URLEncoder.encode(category, StandardCharsets.UTF_8);
    }

    /**
     * Follows the feed whose event list is at {@code feed} (e.g. {@code http://host:8080/events}),
     * long-polling 5 s at a time, holding at most {@link #DEFAULT_MAX_ANSWER_BYTES} of one answer. The
     * sources made without a client of yours send with one {@code HttpClient} they all share (5 s connect
     * timeout, daemon threads named {@code flux-http-source-N}), so a source leaves no thread, connection
     * or file descriptor behind once its subscription stops, however many are made.
     *
     * @throws IllegalArgumentException as {@link #of(URI, Duration)}
     * @throws FluxException            when the shared client cannot be made (a process out of file
     *                                  descriptors, say); the next source made tries again
     */
    public static HttpEventSource of(URI feed) {
        return of(feed, Duration.ofSeconds(5));
    }

    /**
     * As {@link #of(URI)}, long-polling {@code wait} at a time, in whole seconds rounded up
     * ({@link Duration#ZERO} for plain polls, paced by the subscription's poll interval). A durable
     * subscription with a claim needs a lease of at least three times the wait plus 10 s, the longest
     * a read may block (see {@link #longestWait()}): 45 s for the default 5 s wait, which is the
     * subscription's default lease on such a source.
     *
     * @throws IllegalArgumentException when the URI is not an absolute http(s) URI without query or
     *                                  fragment, or its host is not one {@link URI#getHost()} finds (a name
     *                                  with {@code _}, such as a Compose service {@code feed_svc}, is not),
     *                                  or the wait is null, negative or over 1 day
     * @throws FluxException            when the shared client cannot be made (see {@link #of(URI)})
     */
    public static HttpEventSource of(URI feed, Duration wait) {
        return create(feed, wait, null);
    }

    /**
     * As {@link #of(URI, Duration)}, sending its requests with {@code client}: one configured for TLS
     * (an {@link javax.net.ssl.SSLContext} trusting the feed's certificate), a proxy, an
     * {@link java.net.Authenticator}, or shared by many sources, whose connections and threads they then
     * share. The client's own settings apply (give it a connect timeout: the default client's is 5 s);
     * the source still limits each read to the wait plus 10 s. The source does not close the client.
     */
    public static HttpEventSource of(URI feed, Duration wait, HttpClient client) {
        if (client == null) {
            throw new IllegalArgumentException("client must not be null");
        }
        return create(feed, wait, client);
    }

    /**
     * The client of the sources made without one. One for all: the JDK's client (17) cannot be closed, and
     * each holds a selector thread, its file descriptors and idle connections until the garbage collector
     * finds it unreachable, so a client per source left those of every stopped subscription behind
     * (200 subscriptions started and stopped in turn: 108 selector threads, 257 worker threads and 217 file
     * descriptors still there after a GC). Its threads are daemons, named {@code flux-http-source-N} (the
     * JDK names its selector thread {@code HttpClient-N-SelectorManager}), and end when idle.
     *
     * <p>Made on first use and kept once made, under this object's lock. A client that cannot be made (a
     * process out of file descriptors cannot open its selector) fails that source alone and the next one
     * tries again: made in a class initializer, one failure would fail every later source of the process
     * with a bare {@link NoClassDefFoundError}.
     */
    static final class SharedClient {
        private final Supplier<HttpClient> make;
        /** Guarded by {@code this}. */
        private HttpClient client;

        SharedClient(Supplier<HttpClient> make) {
            this.make = make;
        }

        synchronized HttpClient get() {
            if (client == null) {
                try {
                    client = make.get();
                } catch (RuntimeException e) {
                    throw new FluxException("cannot make the HttpClient that HttpEventSources made without one share: "
                            + e + ". Make the source again once that is fixed (the next one tries again), or give it a"
                            + " client of your own with HttpEventSource.of(uri, wait, client)", e);
                }
            }
            return client;
        }
    }

    private static final SharedClient SHARED_CLIENT = new SharedClient(() -> HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .executor(Executors.newCachedThreadPool(RequestTimeout.named("flux-http-source-")))
            .build());

    /** Checks the arguments, then makes the source; with the {@link SharedClient}'s when {@code client} is null. */
    private static HttpEventSource create(URI feed, Duration wait, HttpClient client) {
        if (feed == null || feed.getScheme() == null
                || !(feed.getScheme().equals("http") || feed.getScheme().equals("https"))) {
            throw new IllegalArgumentException("feed must be an absolute http(s) URI, was " + feed);
        }
        if (feed.getHost() == null) {
            // java.net.URI takes "feed_svc" (a Compose service name, say) for no host at all, and HttpClient refuses it.
            throw new IllegalArgumentException("feed must name a host that java.net.URI parses (letters, digits, '-' and"
                    + " '.', or an IP address; an IPv6 one in brackets), was " + feed + (feed.getRawAuthority() == null ? ""
                    : ": '" + feed.getRawAuthority() + "' is not one; reach the feed under an alias or address without '_'"));
        }
        if (feed.getRawQuery() != null || feed.getRawFragment() != null) {
            throw new IllegalArgumentException("feed URI must not carry a query or a fragment (the source adds after/limit): "
                    + feed);
        }
        if (wait == null || wait.isNegative() || wait.compareTo(MAX_WAIT) > 0) {
            throw new IllegalArgumentException("wait must be from zero to 1 day (a feed holds a poll at most its own"
                    + " maxWait, 30 s by default), was " + wait);
        }
        if (client == null) {
            client = SHARED_CLIENT.get();
        }
        String text = feed.toString();
        URI base = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
        // The feed's wait is in whole seconds: round up, so a short wait still long-polls.
        long waitSeconds = wait.isZero() ? 0 : wait.plusNanos(999_999_999).toSeconds();
        return new HttpEventSource(base, client, waitSeconds, Duration.ofSeconds(waitSeconds).plus(ANSWER_MARGIN),
                DEFAULT_MAX_ANSWER_BYTES, null);
    }

    /**
     * A source like this one (same feed, wait, client and category) that holds at most {@code maxAnswerBytes} of
     * one answer's body instead of {@link #DEFAULT_MAX_ANSWER_BYTES}. Raise it when single events are
     * larger than the bound (the read fails naming the event's position); lower it to bound the memory
     * a source may take. This source is left as it was.
     *
     * @throws IllegalArgumentException when {@code maxAnswerBytes} is below 1 or above 2,147,483,639
     *                                  (the largest byte array)
     */
    public HttpEventSource withMaxAnswerBytes(long maxAnswerBytes) {
        if (maxAnswerBytes < 1 || maxAnswerBytes > MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException("maxAnswerBytes must be between 1 and " + MAX_ARRAY_BYTES
                    + " (the largest byte array), was " + maxAnswerBytes);
        }
        return new HttpEventSource(feed, client, waitSeconds, timeout, maxAnswerBytes, category);
    }

    /**
     * A source like this one (same feed, wait, client and answer bound) that reads the events of
     * {@code category} alone (those of streams {@code category-...}, compared exactly, case included),
     * asking the feed for them ({@code category=}), instead of every event. Cursors stay the events'
     * global positions, so an offset means the same as on the whole feed; {@link #end()} is the feed's
     * last position, as for a category of a store in process. A category no event has yet (or a
     * misspelled one) reads empty. A feed that ignores the parameter (one older than it) fails the read
     * with a {@link FluxException} at the first event of another category, handing none over. This
     * source is left as it was; the two send with the same client, and {@link #stopWaiting()} on one
     * leaves the other's long poll alone.
     *
     * @throws IllegalArgumentException when {@code category} is null or blank, contains {@code -} or holds
     *                                  a lone surrogate
     */
    public HttpEventSource withCategory(String category) {
        return new HttpEventSource(feed, client, waitSeconds, timeout, maxAnswerBytes, StreamName.requireCategory(category));
    }

    @Override
    public List<RecordedEvent> read(long after, int maxCount) {
        if (after < 0 || maxCount < 1) {
            throw new IllegalArgumentException("after must be >= 0 and maxCount >= 1, were " + after + " and " + maxCount);
        }
        int cap = pageCap;
        int limit = Math.min(maxCount, cap);
        URI uri;
        long asked;
        byte[] body;
        long deadline = System.nanoTime() + timeout.toNanos();     // for all the requests of a page halved below
        while (true) {
            uri = URI.create(feed + "?after=" + after + "&limit=" + limit + categoryQuery + "&include=data"
                    + (waitSeconds > 0 ? "&wait=" + waitSeconds : ""));
            answeredAtOnce = false;
            // Before the clock for an answer at once starts: time spent waiting out a Retry-After is not the feed's.
            if (!waitOutRetryAfter(uri, deadline)) {
                return List.of();
            }
            asked = System.nanoTime();
            try {
                body = get(uri, deadline);
                break;
            } catch (AnswerTooLarge e) {
                if (e.status != 200 || limit == 1) {
                    throw tooLarge(uri, e, e.status == 200 ? "with the event "
                            + (category == null ? "" : "of category '" + category + "' ") + "after position " + after
                            + " alone (it is not skipped: reads fail until the bound is raised)" : null);
                }
                limit /= 2;
                cap = limit;
                pageCap = cap;
            }
        }
        if (body == null) {
            return List.of();
        }
        if (limit == cap && cap < Integer.MAX_VALUE && body.length <= maxAnswerBytes / 2) {
            pageCap = (int) Math.min(Integer.MAX_VALUE, 2L * cap);
        }
        List<Entry> events = entries(uri, body);
        answeredAtOnce = waitSeconds > 0 && events.isEmpty() && System.nanoTime() - asked < HELD_AT_LEAST_NANOS;
        List<RecordedEvent> read = new ArrayList<>(events.size());
        long previous = after;
        for (Entry entry : events) {
            RecordedEvent event = toEvent(uri, entry);
            if (event.position() <= previous) {
                throw malformed(uri, "position " + event.position() + " does not come after " + previous
                        + " (the feed must list events after 'after', in position order)");
            }
            if (category != null && !category.equals(event.category())) {
                throw malformed(uri, "the event at position " + event.position() + " is of stream '" + event.streamId()
                        + "', not of category '" + category + "' (a feed older than its 'category' parameter ignores"
                        + " it and serves every category: upgrade the feed's server)");
            }
            previous = event.position();
            read.add(event);
        }
        return read;
    }

    /** The event's global position, for a {@link #withCategory category} too. */
    @Override
    public long cursorOf(RecordedEvent event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        return event.position();
    }

    /**
     * The position of the feed's newest event ({@code /head}), 0 when it has none: where "only new events"
     * starts. For a {@link #withCategory category} too, the newest of every category, as for a category
     * of a store in process: no event of the category is beyond it, so a subscription starting there
     * misses none that comes later.
     *
     * @throws FluxException when the feed cannot be read, as {@link #read} does
     */
    @Override
    public long end() {
        URI uri = URI.create(feed + "/head");
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] body = null;
        try {
            if (waitOutRetryAfter(uri, deadline)) {
                body = get(uri, deadline);
            }
        } catch (AnswerTooLarge e) {
            throw tooLarge(uri, e, null);
        }
        if (body == null) {
            throw new FluxException("reading " + uri + " was cancelled");
        }
        JsonNode answer = parse(uri, body);
        JsonNode position = answer.get("position");
        if (position == null || !position.isIntegralNumber() || !position.canConvertToLong() || position.asLong() < 0) {
            throw malformed(uri, "no 'position' number (a whole number from 0 that a long holds)");
        }
        return position.asLong();
    }

    /**
     * True when long-polling, unless the last read came back empty at once (the feed did not hold it):
     * then the subscription sleeps its poll interval before asking again, rather than asking in a loop.
     */
    @Override
    public boolean waitsForEvents() {
        return waitSeconds > 0 && !answeredAtOnce;
    }

    /**
     * The longest one {@link #read} (or {@link #end()}) blocks: the long-poll wait this source asks the
     * feed for, in whole seconds, plus the 10 s it gives the answer to come in whole; a read of a dead
     * or stalled feed gives up then, however many requests it made (a page over the answer bound is asked
     * for again, smaller, within the same time). 10 s for plain polls.
     */
    @Override
    public Duration longestWait() {
        return timeout;
    }

    /** {@code the feed <url>}, or {@code category '<name>' of the feed <url>}: for the subscription's messages. */
    @Override
    public String toString() {
        return (category == null ? "" : "category '" + category + "' of ") + "the feed " + feed;
    }

    /** Cancels a long poll in flight, or ends a wait for a {@code Retry-After} to pass: its read returns empty at once. */
    @Override
    public void stopWaiting() {
        CompletableFuture<?> pending = inFlight;
        if (pending != null) {
            pending.cancel(true);
        }
    }

    /**
     * Waits until the feed's last {@code Retry-After} has passed; false when {@link #stopWaiting()} ended the wait.
     *
     * @throws RetryAfterException at once when it ends later than {@link #RETRY_AFTER_WAITED} before the time the
     *                             request would still need ({@code deadline} less the long poll's wait)
     * @throws FluxException       when the thread is interrupted (its interrupt kept)
     */
    private boolean waitOutRetryAfter(URI uri, long deadline) {
        Quiet held = quiet;
        if (held == null) {
            return true;
        }
        long left = held.until - System.nanoTime();
        if (left > 0) {
            long latest = deadline - TimeUnit.SECONDS.toNanos(waitSeconds) - ANSWER_MARGIN.minus(RETRY_AFTER_WAITED).toNanos();
            if (held.until - latest > 0) {
                throw new RetryAfterException("the feed at " + feed + " " + held.answer + ": this source sends it nothing for "
                        + TimeUnit.NANOSECONDS.toSeconds(left + 999_999_999) + " s more, longer than a read waits for that ("
                        + RETRY_AFTER_WAITED.toSeconds() + " s); not asking for " + uri + " before then", held.at);
            }
            // Waited on as a request in flight is, so that stopWaiting() ends it the same way: by cancelling it.
            CompletableFuture<Void> pause = new CompletableFuture<>();
            inFlight = pause;
            try {
                pause.get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException passed) {
                // waited out
            } catch (CancellationException | ExecutionException stopped) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FluxException("interrupted while waiting out the Retry-After of the feed at " + feed
                        + " before asking for " + uri, e);
            } finally {
                inFlight = null;
            }
        }
        if (quiet == held) {
            quiet = null;
        }
        return true;
    }

    /**
     * How long a {@code Retry-After} value holds the source back, from {@code now}, at most {@link #MAX_RETRY_AFTER}:
     * whole seconds, or an HTTP date (zero when past); null when it is neither.
     */
    static Duration retryAfter(String value, Instant now) {
        String text = value.strip();
        Duration hold;
        if (!text.isEmpty() && text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            hold = text.length() > 18 ? MAX_RETRY_AFTER : Duration.ofSeconds(Long.parseLong(text));
        } else {
            Instant at = httpDate(text, now);
            if (at == null) {
                return null;
            }
            hold = at.isAfter(now) ? Duration.between(now, at) : Duration.ZERO;
        }
        return hold.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : hold;
    }

    /**
     * An HTTP date in any of the three forms RFC 9110 (5.6.7) has a recipient accept: IMF-fixdate
     * ({@code Sun, 06 Nov 1994 08:49:37 GMT}), the obsolete RFC 850 form ({@code Sunday, 06-Nov-94 08:49:37 GMT}),
     * whose two-digit year is the latest that puts the time at most 50 years after {@code now}, and asctime
     * ({@code Sun Nov  6 08:49:37 1994}, in GMT); null when it is none of them, or its day of the week is wrong.
     */
    private static Instant httpDate(String text, Instant now) {
        try {
            return ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        } catch (DateTimeParseException notImfFixdate) {
            // one of the obsolete forms, below
        }
        LocalDateTime latest = LocalDateTime.ofInstant(now, ZoneOffset.UTC).plusYears(50);
        // The years from 49 before now's to 50 after; a time in that last year more than 50 years ahead is a century
        // earlier (and its day of the week must be right for that year).
        LocalDateTime at = parsed(text, rfc850(latest.getYear() - 99));
        if (at != null && !at.isAfter(latest)) {
            return at.toInstant(ZoneOffset.UTC);
        }
        at = parsed(text, rfc850(latest.getYear() - 100));
        if (at != null && at.plusYears(100).isAfter(latest)) {
            return at.toInstant(ZoneOffset.UTC);
        }
        at = parsed(text, ASCTIME);
        return at == null ? null : at.toInstant(ZoneOffset.UTC);
    }

    /** The RFC 850 form of an HTTP date, its two-digit year one of the hundred from {@code baseYear}. */
    private static DateTimeFormatter rfc850(int baseYear) {
        return new DateTimeFormatterBuilder().appendPattern("EEEE, dd-MMM-").appendValueReduced(ChronoField.YEAR, 2, 2, baseYear)
                .appendPattern(" HH:mm:ss 'GMT'").toFormatter(Locale.ENGLISH);
    }

    private static LocalDateTime parsed(String text, DateTimeFormatter form) {
        try {
            return LocalDateTime.parse(text, form);
        } catch (DateTimeParseException notThisForm) {
            return null;
        }
    }

    /**
     * The body of a 200 answer, or null when the request was cancelled by {@link #stopWaiting()}.
     *
     * @param deadline the {@link System#nanoTime()} by which the answer must be in whole
     * @throws AnswerTooLarge when the answer's body is over {@link #maxAnswerBytes} (its connection is dropped)
     */
    private byte[] get(URI uri, long deadline) throws AnswerTooLarge {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw notInTime(uri, null);
        }
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofNanos(left)).header("Accept", "application/json")
                .GET().build();
        HttpResponse<byte[]> response;
        CompletableFuture<HttpResponse<byte[]>> pending = client.sendAsync(request,
                answer -> new BoundedBody(answer.statusCode(), answer.headers().firstValueAsLong("Content-Length").orElse(-1),
                        maxAnswerBytes));
        inFlight = pending;
        try {
            // The request's timeout covers the wait for the headers only: bound the body too.
            response = pending.get(left, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pending.cancel(true);
            throw notInTime(uri, e);
        } catch (CancellationException e) {
            return null;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            if (cause instanceof CancellationException || pending.isCancelled()) {
                return null;
            }
            for (Throwable c = cause; c != null; c = c.getCause()) {
                if (c instanceof AnswerTooLarge tooLarge) {
                    throw tooLarge;
                }
            }
            throw new FluxException("cannot read the feed at " + uri + ": " + why(uri, cause), cause);
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            throw new FluxException("interrupted while reading the feed at " + uri, e);
        } finally {
            inFlight = null;
        }
        if (response.statusCode() != 200) {
            String location = response.headers().firstValue("Location").orElse(null);
            String retryAfter = response.headers().firstValue("Retry-After").orElse(null);
            String quoted = retryAfter == null ? null : quote(retryAfter.getBytes(StandardCharsets.UTF_8), 100);
            Instant now = Instant.now();
            Duration hold = retryAfter == null ? null : retryAfter(retryAfter, now);
            String message = "the feed at " + uri + " answered " + response.statusCode()
                    + (retryAfter == null ? "" : " (Retry-After: " + quoted + (hold == null
                    ? "; neither seconds nor an HTTP date, ignored: the subscription retries on its own back-off"
                    : "; this source sends the feed nothing for " + hold.toSeconds() + " s"
                    + (hold.equals(MAX_RETRY_AFTER) ? ", the most it honours" : "")) + ")")
                    + (location == null || response.statusCode() / 100 != 3 ? ""
                    : ", redirecting to " + location + ", which the source does not follow: give it the feed's own URL")
                    + ": " + quote(response.body(), 500);
            if (hold != null && !hold.isZero()) {
                Quiet held = new Quiet(System.nanoTime() + hold.toNanos(), now.plus(hold), "answered "
                        + response.statusCode() + " with Retry-After: " + quoted);
                quiet = held;
                throw new RetryAfterException(message, held.at);
            }
            throw new FluxException(message);
        }
        return response.body();
    }

    /**
     * What went wrong reaching the feed, in words: the JDK's client reports a host that does not resolve, a
     * refused connection and an unreachable host or network as a bare {@code java.net.ConnectException}, which
     * says none of them (nor tells the last two apart).
     */
    private static String why(URI uri, Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof UnresolvedAddressException || c instanceof UnknownHostException) {
                return "the host '" + uri.getHost() + "' does not resolve (check the feed's host name and the DNS) (" + cause + ")";
            }
        }
        if (cause instanceof ConnectException && cause.getMessage() == null) {
            int port = uri.getPort() >= 0 ? uri.getPort() : uri.getScheme().equals("https") ? 443 : 80;
            return "could not connect to " + uri.getHost() + ":" + port + " (refused or unreachable: is the feed's service"
                    + " up, on that port, and reachable from here?) (" + cause + ")";
        }
        return cause.toString();
    }

    private FluxException notInTime(URI uri, TimeoutException cause) {
        return new FluxException("the feed at " + uri + " did not answer in full within " + timeout.toSeconds()
                + " s (the wait plus 10 s for the answer)", cause);
    }

    /** The answer's JSON object. */
    private static JsonNode parse(URI uri, byte[] body) {
        try {
            JsonNode root = JSON.readTree(body);
            if (root == null || !root.isObject()) {
                throw malformed(uri, "the body is not a JSON object");
            }
            return root;
        } catch (IOException e) {
            throw notJson(uri, body, e);
        }
    }

    /** An entry of a page: its fields but {@code data}, and its {@code data} as the feed wrote it (null when it has none). */
    private record Entry(ObjectNode fields, byte[] data) {
    }

    /**
     * The entries of a page. Each one's {@code data} is copied token by token, numbers as their text: read
     * into a tree, a decimal would go through a {@link java.math.BigDecimal}, which has no negative zero
     * ({@code -0.0} would arrive as {@code 0.0}, a {@code double} field decoding to another value than
     * from the store).
     */
    private static List<Entry> entries(URI uri, byte[] body) {
        List<Entry> entries = null;
        try (JsonParser parser = JSON.createParser(body)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw malformed(uri, "the body is not a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                boolean events = parser.currentName().equals("events");
                JsonToken value = parser.nextToken();
                if (!events) {
                    parser.skipChildren();
                } else if (value != JsonToken.START_ARRAY) {
                    throw malformed(uri, "no 'events' array");
                } else {
                    entries = new ArrayList<>();
                    while (parser.nextToken() != JsonToken.END_ARRAY) {
                        entries.add(entry(uri, parser));
                    }
                }
            }
            if (parser.nextToken() != null) {
                throw malformed(uri, "more follows the page's JSON object");
            }
        } catch (IOException e) {
            throw notJson(uri, body, e);
        }
        if (entries == null) {
            throw malformed(uri, "no 'events' array");
        }
        return entries;
    }

    /** The entry the parser is at the start of; leaves the parser at its end. */
    private static Entry entry(URI uri, JsonParser parser) throws IOException {
        if (parser.currentToken() != JsonToken.START_OBJECT) {
            throw malformed(uri, "an entry is not a JSON object");
        }
        ObjectNode fields = JSON.createObjectNode();
        byte[] data = null;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            parser.nextToken();
            if (name.equals("data")) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                try (JsonGenerator gen = JSON.getFactory().createGenerator(out)) {
                    FeedHandler.copyExactly(parser, gen);
                }
                data = out.toByteArray();
            } else {
                fields.set(name, FIELD.readTree(parser));
            }
        }
        return new Entry(fields, data);
    }

    private RecordedEvent toEvent(URI uri, Entry read) {
        ObjectNode entry = read.fields();
        long position = number(uri, entry, "position");
        try {
            Map<String, String> metadata = new HashMap<>();
            JsonNode meta = entry.get("metadata");
            if (meta == null || !meta.isObject()) {
                throw malformed(uri, "an entry has no 'metadata' object (is the server older than include=data?)");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                if (!field.getValue().isTextual()) {
                    throw malformed(uri, "the metadata '" + field.getKey() + "' of an entry is " + field.getValue().getNodeType()
                            .toString().toLowerCase(Locale.ROOT) + ", not text (a feed writes every metadata value as a string)");
                }
                metadata.put(field.getKey(), field.getValue().asText());
            }
            if (read.data() == null) {
                throw malformed(uri, "an entry has no 'data'");
            }
            return new RecordedEvent(text(uri, entry, "stream_id"), number(uri, entry, "aggregate_version"),
                    position, eventId(uri, entry, position), text(uri, entry, "event_type"), read.data(), metadata,
                    Instant.parse(text(uri, entry, "created")));
        } catch (RuntimeException e) {
            if (e instanceof FluxException flux) {
                throw flux;
            }
            throw malformed(uri, "the entry at position " + position + " does not fit: " + e.getMessage());
        }
    }

    /**
     * The entry's {@code event_id}, which must be a UUID in its standard form (8-4-4-4-12 hex digits), as a feed
     * writes it. {@link UUID#fromString} also takes shorter groups ({@code 1-2-3-4-5}), which would hand the
     * handler another id than the producer's, one a subscription then checks its position by.
     */
    private static UUID eventId(URI uri, JsonNode entry, long position) {
        String text = text(uri, entry, "event_id");
        UUID id = null;
        if (text.length() == 36) {
            try {
                id = UUID.fromString(text);
            } catch (IllegalArgumentException notHex) {
                // refused below
            }
        }
        if (id == null || !id.toString().equalsIgnoreCase(text)) {
            throw malformed(uri, "the entry at position " + position + " has the event_id '"
                    + (text.length() > 100 ? text.substring(0, 100) + "..." : text)
                    + "', not a UUID (8-4-4-4-12 hex digits): is this a flux feed?");
        }
        return id;
    }

    private static String text(URI uri, JsonNode entry, String field) {
        JsonNode value = entry.get(field);
        if (value == null || !value.isTextual()) {
            throw malformed(uri, "an entry has no text field '" + field + "'");
        }
        return value.asText();
    }

    private static long number(URI uri, JsonNode entry, String field) {
        JsonNode value = entry.get(field);
        if (value == null || !value.isIntegralNumber() || !value.canConvertToLong()) {
            throw malformed(uri, "an entry has no number field '" + field + "' (a whole number a long holds)");
        }
        return value.asLong();
    }

    /**
     * The body is not JSON: says how it starts, so that a proxy's or another service's page (HTML, say)
     * shows for what it is.
     */
    private static FluxException notJson(URI uri, byte[] body, IOException e) {
        String text = quote(body, 200);
        // A body that starts as a JSON object is the feed's, broken or too deep; anything else may be another page.
        return malformed(uri, "the body is not JSON: "
                + (e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage())
                + "; it starts: '" + text + "'"
                + (text.stripLeading().startsWith("{") ? "" : " (is this the feed's URL?)"));
    }

    /**
     * The start of what a server sent, up to {@code max} bytes, on one line: each run of white space (an HTML
     * page's line breaks) as one space and other control characters as {@code ?}, so a message that quotes a
     * proxy's error page stays one line in a log; {@code ...} when there is more.
     */
    private static String quote(byte[] bytes, int max) {
        return new String(bytes, 0, Math.min(bytes.length, max), StandardCharsets.UTF_8).replaceAll("\\s+", " ")
                .replaceAll("\\p{Cntrl}", "?") + (bytes.length > max ? "..." : "");
    }

    private static FluxException malformed(URI uri, String problem) {
        return new FluxException("malformed feed response from " + uri + ": " + problem);
    }

    private FluxException tooLarge(URI uri, AnswerTooLarge e, String why) {
        return new FluxException("the feed at " + uri + (e.status == 200 ? "" : " answered " + e.status + " and")
                + (e.declared >= 0 ? " declared a body of " + e.declared + " bytes, over" : " sent a body of more than")
                + " this source's bound of " + maxAnswerBytes + " bytes on one answer" + (why == null ? "" : ", " + why)
                + (e.status == 200 ? "; raise the bound with HttpEventSource.withMaxAnswerBytes(long)"
                : "; an error answer that big is not the feed's: check the URL and what answers there"), e);
    }

    /** An answer's body is over the bound: refused by its Content-Length, or cut off once it grew past. */
    private static final class AnswerTooLarge extends Exception {
        private static final long serialVersionUID = 1L;
        private final int status;
        /** The body's Content-Length when that was over the bound; -1 when the body grew past it. */
        private final long declared;

        AnswerTooLarge(int status, long declared, long limit) {
            super((declared >= 0 ? "Content-Length " + declared : "the body") + " is over " + limit + " bytes", null, false, false);
            this.status = status;
            this.declared = declared;
        }
    }

    /**
     * Collects a body of up to {@code limit} bytes. Past that (or when its Content-Length is), it cancels
     * the body, which makes the client drop the connection, and fails with {@link AnswerTooLarge}
     * holding nothing of it. Called by the client one signal at a time, as {@link Flow} requires.
     */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int status;
        private final long declared;
        private final long limit;
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final List<ByteBuffer> received = new ArrayList<>();
        private Flow.Subscription subscription;
        private long size;

        BoundedBody(int status, long declared, long limit) {
            this.status = status;
            this.declared = declared;
            this.limit = limit;
        }

        @Override
        public CompletableFuture<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            if (declared > limit) {
                refuse(declared);
            } else {
                subscription.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer buffer : buffers) {
                size += buffer.remaining();
            }
            if (size > limit) {
                refuse(-1);
                return;
            }
            received.addAll(buffers);   // the client hands each buffer over for good, as its own ofByteArray keeps them
        }

        @Override
        public void onError(Throwable error) {
            received.clear();
            body.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            if (body.isDone()) {
                return;
            }
            byte[] all = new byte[(int) size];
            int at = 0;
            for (ByteBuffer buffer : received) {
                int length = buffer.remaining();
                buffer.get(all, at, length);
                at += length;
            }
            received.clear();
            body.complete(all);
        }

        private void refuse(long declaredLength) {
            received.clear();
            subscription.cancel();
            body.completeExceptionally(new AnswerTooLarge(status, declaredLength, limit));
        }
    }
}
