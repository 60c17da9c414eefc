package dev.flux.feed;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.subscription.EventSource;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
 * <p>Each read asks for the page after the subscription's position with the events' data
 * ({@code include=data}) and long-polls ({@code wait}, default 5 s) when there is nothing new, so new
 * events arrive within milliseconds without hammering the server. A connection error, an answer
 * other than 200, an answer not in full within the wait plus 10 s, or a body that is not the feed's
 * JSON throws a {@link FluxException} naming the URL; the subscription backs off and tries again. Stopping the subscription cancels a long poll in flight. A feed that
 * answers a long poll at once with nothing (it holds as many as it may, or is closing) is not asked
 * again at once: the subscription waits its poll interval first. Numbers in the events' data arrive
 * with every digit the feed sent (decimals are read as {@link java.math.BigDecimal}, never a
 * {@code double}).
 */
public final class HttpEventSource implements EventSource {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** An empty answer to a long poll sooner than this was not held (see {@link #waitsForEvents}). */
    private static final long HELD_AT_LEAST_NANOS = 500_000_000L;

    private final URI feed;
    private final HttpClient client;
    private final long waitSeconds;
    private final Duration timeout;
    private volatile CompletableFuture<HttpResponse<byte[]>> inFlight;
    /** Whether the last read was an empty page the feed answered without holding the poll. */
    private volatile boolean answeredAtOnce;

    private HttpEventSource(URI feed, HttpClient client, long waitSeconds, Duration timeout) {
        this.feed = feed;
        this.client = client;
        this.waitSeconds = waitSeconds;
        this.timeout = timeout;
    }

    /** Follows the feed whose event list is at {@code feed} (e.g. {@code http://host:8080/events}), long-polling 5 s at a time. */
    public static HttpEventSource of(URI feed) {
        return of(feed, Duration.ofSeconds(5));
    }

    /**
     * As {@link #of(URI)}, long-polling {@code wait} at a time, in whole seconds rounded up
     * ({@link Duration#ZERO} for plain polls, paced by the subscription's poll interval).
     */
    public static HttpEventSource of(URI feed, Duration wait) {
        return create(feed, wait, null);
    }

    /**
     * As {@link #of(URI, Duration)}, sending its requests with {@code client}: one configured for TLS
     * (an {@link javax.net.ssl.SSLContext} trusting the feed's certificate), a proxy, an
     * {@link java.net.Authenticator}, or shared by many sources, whose connections and threads they then
     * share. The client's own settings apply (give it a connect timeout: the default client's is 5 s);
     * the source still limits each answer to the wait plus 10 s. The source does not close the client.
     */
    public static HttpEventSource of(URI feed, Duration wait, HttpClient client) {
        if (client == null) {
            throw new IllegalArgumentException("client must not be null");
        }
        return create(feed, wait, client);
    }

    /** Checks the arguments, then makes the source; with a client of its own when {@code client} is null. */
    private static HttpEventSource create(URI feed, Duration wait, HttpClient client) {
        if (feed == null || feed.getScheme() == null
                || !(feed.getScheme().equals("http") || feed.getScheme().equals("https")) || feed.getHost() == null) {
            throw new IllegalArgumentException("feed must be an absolute http(s) URI, was " + feed);
        }
        if (feed.getRawQuery() != null || feed.getRawFragment() != null) {
            throw new IllegalArgumentException("feed URI must not carry a query or a fragment (the source adds after/limit): "
                    + feed);
        }
        if (wait == null || wait.isNegative()) {
            throw new IllegalArgumentException("wait must be zero or positive, was " + wait);
        }
        if (client == null) {
            client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        }
        String text = feed.toString();
        URI base = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
        // The feed's wait is in whole seconds: round up, so a short wait still long-polls.
        long waitSeconds = wait.isZero() ? 0 : wait.plusNanos(999_999_999).toSeconds();
        return new HttpEventSource(base, client, waitSeconds, Duration.ofSeconds(waitSeconds).plusSeconds(10));
    }

    @Override
    public List<RecordedEvent> read(long after, int maxCount) {
        if (after < 0 || maxCount < 1) {
            throw new IllegalArgumentException("after must be >= 0 and maxCount >= 1, were " + after + " and " + maxCount);
        }
        URI uri = URI.create(feed + "?after=" + after + "&limit=" + maxCount + "&include=data"
                + (waitSeconds > 0 ? "&wait=" + waitSeconds : ""));
        answeredAtOnce = false;
        long asked = System.nanoTime();
        JsonNode page = get(uri);
        if (page == null) {
            return List.of();
        }
        JsonNode events = page.get("events");
        if (events == null || !events.isArray()) {
            throw malformed(uri, "no 'events' array");
        }
        answeredAtOnce = waitSeconds > 0 && events.isEmpty() && System.nanoTime() - asked < HELD_AT_LEAST_NANOS;
        List<RecordedEvent> read = new ArrayList<>(events.size());
        long previous = after;
        for (JsonNode entry : events) {
            RecordedEvent event = toEvent(uri, entry);
            if (event.position() <= previous) {
                throw malformed(uri, "position " + event.position() + " does not come after " + previous
                        + " (the feed must list events after 'after', in position order)");
            }
            previous = event.position();
            read.add(event);
        }
        return read;
    }

    @Override
    public long cursorOf(RecordedEvent event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        return event.position();
    }

    @Override
    public long end() {
        URI uri = URI.create(feed + "/head");
        JsonNode answer = get(uri);
        if (answer == null) {
            throw new FluxException("reading " + uri + " was cancelled");
        }
        JsonNode position = answer.get("position");
        if (position == null || !position.isIntegralNumber() || position.asLong() < 0) {
            throw malformed(uri, "no 'position' number");
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

    @Override
    public String toString() {
        return "the feed " + feed;
    }

    /** Cancels a long poll in flight: its read returns empty at once. */
    @Override
    public void stopWaiting() {
        CompletableFuture<?> pending = inFlight;
        if (pending != null) {
            pending.cancel(true);
        }
    }

    /** The answer's JSON object, or null when the request was cancelled by {@link #stopWaiting()}. */
    private JsonNode get(URI uri) {
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).header("Accept", "application/json").GET().build();
        HttpResponse<byte[]> response;
        CompletableFuture<HttpResponse<byte[]>> pending = client.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
        inFlight = pending;
        try {
            // The request's timeout covers the wait for the headers only: bound the body too.
            response = pending.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pending.cancel(true);
            throw new FluxException("the feed at " + uri + " did not answer in full within " + timeout.toSeconds() + " s", e);
        } catch (CancellationException e) {
            return null;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            if (cause instanceof CancellationException || pending.isCancelled()) {
                return null;
            }
            throw new FluxException("cannot read the feed at " + uri + ": " + cause, cause);
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            throw new FluxException("interrupted while reading the feed at " + uri, e);
        } finally {
            inFlight = null;
        }
        if (response.statusCode() != 200) {
            String body = new String(response.body(), StandardCharsets.UTF_8);
            throw new FluxException("the feed at " + uri + " answered " + response.statusCode() + ": "
                    + (body.length() > 500 ? body.substring(0, 500) + "..." : body));
        }
        try {
            JsonNode root = JSON.readTree(response.body());
            if (root == null || !root.isObject()) {
                throw malformed(uri, "the body is not a JSON object");
            }
            return root;
        } catch (IOException e) {
            throw malformed(uri, "the body is not JSON: " + e.getMessage());
        }
    }

    private RecordedEvent toEvent(URI uri, JsonNode entry) {
        try {
            Map<String, String> metadata = new HashMap<>();
            JsonNode meta = entry.get("metadata");
            if (meta == null || !meta.isObject()) {
                throw malformed(uri, "an entry has no 'metadata' object (is the server older than include=data?)");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                metadata.put(field.getKey(), field.getValue().asText());
            }
            JsonNode data = entry.get("data");
            if (data == null) {
                throw malformed(uri, "an entry has no 'data'");
            }
            return new RecordedEvent(text(uri, entry, "stream_id"), number(uri, entry, "aggregate_version"),
                    number(uri, entry, "position"), UUID.fromString(text(uri, entry, "event_id")),
                    text(uri, entry, "event_type"), JSON.writeValueAsBytes(data), metadata,
                    Instant.parse(text(uri, entry, "created")));
        } catch (IOException | RuntimeException e) {
            if (e instanceof FluxException flux) {
                throw flux;
            }
            throw malformed(uri, "an entry does not fit: " + e.getMessage());
        }
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

    private static FluxException malformed(URI uri, String problem) {
        return new FluxException("malformed feed response from " + uri + ": " + problem);
    }
}
