package dev.flux.feed;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.flux.AppendListeners;
import dev.flux.EventReader;
import dev.flux.RecordedEvent;
import dev.flux.StreamName;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;

/**
 * The flux JSON feed as a JDK {@link HttpHandler}, to mount in an {@code HttpServer} of your own
 * under any path ({@code server.createContext("/api/events", handler)}); {@link FeedServer} runs one
 * on a server of its own. It answers whatever the request's {@code Host} header says: guard its context
 * with {@link AllowedHosts}, as a {@link FeedServer} does, so that a web page whose DNS name is rebound
 * to your server cannot read it. The paths below are relative to the context path:
 *
 * <ul>
 *   <li>{@code GET ?after=P&limit=N&wait=S&include=data}: up to N events after position P, oldest
 *   first, as {@code {"description": "event feed", "events": [...], "next": "<url>"}}; {@code offset}
 *   is accepted for {@code after}. A page ends early after the event that takes its data to about
 *   8 MiB, so big events come in pages of fewer (at least one each) and no request makes the server
 *   build an answer of N times their size. With {@code wait=S} (seconds), a request finding nothing after P
 *   is held until an event lands or S seconds pass (a long poll). With {@code include=data} each
 *   entry carries its {@code data} and {@code metadata}, as a consumer needs. {@code next} asks for
 *   the events after this page with the request's {@code include=data}, and its {@code limit} and
 *   {@code wait} as served (cut to the feed's maximum; no {@code wait} when it was 0), so a consumer
 *   that follows it keeps long-polling.</li>
 *   <li>{@code GET ?category=C&after=P&...}: the same for the events of category C alone (the part of
 *   their stream id before the first {@code -}, compared exactly, case included), read with
 *   {@link EventReader#readCategory}. Positions stay global, so an offset stored from this page means
 *   the same on the whole feed; a long poll waits for an event of C, and appends of other categories
 *   neither answer it nor make the feed look for it. {@code next} keeps the category. A category with no events (one not written yet, or
 *   misspelled) gives empty pages, as {@code readCategory} does: the feed cannot tell the two apart. A
 *   category that is empty or blank, holds {@code -}, or is not UTF-8 once percent-decoded (an encoded
 *   lone surrogate is not) gets 400 naming the parameter and the value, as any parameter given twice does.</li>
 *   <li>{@code GET /{event id}}: one entry with its {@code data} (the event's JSON) and {@code metadata}.</li>
 *   <li>{@code GET /head}: {@code {"position": P}}, the position of the newest event (0 when none).</li>
 * </ul>
 *
 * <p>{@code HEAD} is answered as {@code GET}, with the same status and headers and no body. Bad parameters
 * get 400, unknown paths and ids 404, other methods 405, each with a JSON body
 * {@code {"error": ..., "message": ...}} naming the problem; never a stack trace. Held long polls do
 * not hold threads: they wait in a list and are answered when the store signals an append (and, for
 * stores shared with other processes, when a periodic check finds new events) or when their wait ends.
 * Each answer to a held poll is written on a thread of its own (threads are made as needed and end when
 * idle), so a consumer that stops reading its socket delays only its own answer. Close the handler to
 * answer held requests at once and stop its timer.
 *
 * <p>Each answer is built whole in memory, then written. In a server on a {@link RequestTimeout} (as a
 * {@link FeedServer} is), a guarded context's answer that stops going out for the answer limit (its
 * consumer stopped reading) is dropped mid-way, its connection closed and its thread, a request thread
 * or one of those above, freed; without one, a consumer that stops reading holds the thread writing
 * its answer until TCP gives up.
 *
 * <p>An event's {@code data} is the stored JSON value, written compactly: white space is dropped and
 * strings are escaped as Jackson writes them, so the bytes may differ from the stored ones while every
 * string, key (in order, repeats kept) and number is the same. Numbers keep every digit (a decimal is
 * never passed through a {@code double}); strings, names and numbers of any length are served.
 */
public final class FeedHandler implements HttpHandler, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FeedHandler.class.getName());
    /**
     * Writes answers that nest a stored body up to three deep (the page, its events, the entry), so it may
     * write three deeper than Jackson's default limit, which it reads the stored body with. It reads strings,
     * names and numbers of any length: a body is served as it is stored, and Jackson's default bounds (20,000,000,
     * 50,000 and 1,000 characters) would refuse, on every request for good, an event a serializer with a mapper
     * that reads longer ones stored; numbers are copied as their text, never parsed.
     */
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE)
                    .maxNameLength(Integer.MAX_VALUE).maxNumberLength(Integer.MAX_VALUE).build())
            .streamWriteConstraints(StreamWriteConstraints.builder()
                    .maxNestingDepth(StreamWriteConstraints.DEFAULT_MAX_DEPTH + 3).build())
            .build());
    private static final Set<String> PARAMETERS = Set.of("after", "offset", "limit", "wait", "include", "category");
    /** {@link #heldCategories}' key for polls of the whole log: no category is blank. */
    private static final String EVERY_CATEGORY = "";
    /**
     * About the most a page carries: it ends after the event that takes it to this many bytes, so a page
     * of big events is built (in memory) and sent at this size, not at {@code limit} times theirs.
     */
    static final long PAGE_BYTES = 8L << 20;
    /** How many events the first store read of a page asks for; the next reads are sized to the bytes left. */
    private static final int FIRST_READ = 16;
    /**
     * The most events a store read after the first asks for: sizes seen so far do not tell those of the
     * events to come (small ones, then big), so this bounds what the store hands over beyond the page. As
     * many as a subscription reads at a time by default: a page of small events takes a few reads (a
     * round trip each on a shared store), not one per few dozen events.
     */
    static final int MAX_READ = 256;
    /** How many bytes an entry takes besides its data and metadata (ids, names, time, url), about. */
    private static final int ENTRY_BYTES = 300;
    /** How long {@link #close()} waits for the answers to held polls to be written. */
    private static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final EventReader reader;
    /** How log lines name this feed, by the store it serves: a process may run several. */
    private final String name;
    private final UnaryOperator<RecordedEvent> upcast;
    /** What links start with, from {@link FeedServer.Builder#publicUri}; null to build them from each request. */
    private final String publicBase;
    private final int defaultLimit;
    private final int maxLimit;
    private final long maxWaitSeconds;
    private final int maxHeld;
    private final ScheduledExecutorService timer;
    /** Writes the answers to held polls, off the timer thread (a stalled socket must not hold up the others). */
    private final ExecutorService answers;
    private final Runnable stopListening;
    private final Set<Held> held = ConcurrentHashMap.newKeySet();
    /**
     * How many polls are held for each category ({@link #EVERY_CATEGORY} for the whole log): the store's
     * append signal asks for a check only when an append's category has one, so that appends to other
     * categories do not make the feed read for polls they cannot answer. Counted in before a poll joins
     * {@link #held} and out after it leaves.
     */
    private final Map<String, Integer> heldCategories = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    /**
     * Whether a check for held polls an append asked for waits on the timer, not yet begun: appends while it
     * waits ask for no other (it will see them), so a burst of appends queues one check, not one each.
     */
    private final AtomicBoolean checkQueued = new AtomicBoolean();
    /** How often a streak of failed checks is logged after its first failure; lowered by tests. */
    volatile long failureReportNanos = TimeUnit.MINUTES.toNanos(1);
    /** Checks failed in a row; touched by the timer thread alone, as are the three fields below. */
    private long failedChecks;
    /** When a failed check was last logged, if {@link #failureReported}. */
    private long lastFailureReport;
    private boolean failureReported;
    /** Whether a failure of the current streak was logged: only then is its end. */
    private boolean streakLogged;

    /** A long poll waiting for events after {@code after}. */
    private final class Held {
        final HttpExchange exchange;
        final Request request;
        final AtomicBoolean answered = new AtomicBoolean();
        volatile ScheduledFuture<?> timeout;

        Held(HttpExchange exchange, Request request) {
            this.exchange = exchange;
            this.request = request;
        }

        /** Answers with whatever is there now, once, on a thread of {@link #answers}. */
        void answer() {
            if (answered.compareAndSet(false, true)) {
                held.remove(this);
                heldCategories.computeIfPresent(heldKey(request), (category, count) -> count == 1 ? null : count - 1);
                ScheduledFuture<?> t = timeout;
                if (t != null) {
                    t.cancel(false);
                }
                Runnable respond = () -> {
                    try {
                        respondSafely(name, exchange, () -> {
                            list(exchange, request, page(request));
                            return true;
                        });
                    } catch (IOException e) {
                        // Off the exchange's thread this cannot reach the JDK's server, which then keeps the
                        // connection in its books until it stops: JDK 17 has no call that drops it.
                        LOG.log(System.Logger.Level.DEBUG, () -> name + ": answer to held " + exchange.getRequestURI()
                                + " failed: " + e);
                    }
                };
                try {
                    answers.execute(respond);
                } catch (RejectedExecutionException closedMeanwhile) {
                    respond.run();
                }
            }
        }
    }

    /** The parsed parameters of a list request; {@code category} is null for every category. */
    private record Request(long after, int limit, long waitSeconds, boolean includeData, String category) {
    }

    /** Where a held poll waits for events: after a position, in a category or (null) in any. */
    private record Place(String category, long after) {
    }

    FeedHandler(EventReader reader, int defaultLimit, int maxLimit, long maxWaitSeconds, int maxHeld, long recheckMillis,
                UnaryOperator<RecordedEvent> upcast, String publicBase) {
        this.reader = reader;
        this.name = "feed of " + reader;
        this.upcast = upcast;
        this.publicBase = publicBase;
        this.defaultLimit = defaultLimit;
        this.maxLimit = maxLimit;
        this.maxWaitSeconds = maxWaitSeconds;
        this.maxHeld = maxHeld;
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "flux-feed-timer");
            thread.setDaemon(true);
            return thread;
        });
        // A poll answered early cancels its timeout: drop it from the queue then, instead of keeping it (and
        // the exchange it answers) until the wait would have ended, one per poll answered.
        timer.setRemoveOnCancelPolicy(true);
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.timer = timer;
        this.answers = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "flux-feed-answer");
            thread.setDaemon(true);
            return thread;
        });
        try {
            this.stopListening = reader.onAppend(new AppendListeners.StreamListener() {
                @Override
                public boolean wants(String streamId) {
                    return heldCategories.containsKey(EVERY_CATEGORY)
                            || heldCategories.containsKey(StreamName.category(streamId));
                }

                @Override
                public void run() {
                    if (!held.isEmpty() && !closed.get() && checkQueued.compareAndSet(false, true)) {
                        timer.execute(FeedHandler.this::checkAfterAppends);
                    }
                }
            });
        } catch (IllegalStateException e) {
            timer.shutdownNow();
            answers.shutdownNow();
            throw new IllegalStateException("cannot serve a feed of a closed store: " + e.getMessage()
                    + "; start the feed while its store is open", e);
        }
        timer.scheduleWithFixedDelay(this::answerThoseWithEvents, recheckMillis, recheckMillis, TimeUnit.MILLISECONDS);
    }

    /** The tasks waiting on the timer: the recheck, and the timeout of each poll held now (for tests). */
    int scheduledTasks() {
        return ((ScheduledThreadPoolExecutor) timer).getQueue().size();
    }

    /** Answers every request with a JSON 404: what a {@link FeedServer} serves outside its path. */
    static void notFound(HttpExchange exchange) throws IOException {
        refuse(exchange, 404, "not_found", "no such resource: " + exchange.getRequestURI().getRawPath());
    }

    /**
     * Answers with a JSON error, {@code {"error": code, "message": message}}, and ends the exchange.
     *
     * @throws IOException when the answer could not be written (see {@link #respondSafely})
     */
    static void refuse(HttpExchange exchange, int status, String code, String message) throws IOException {
        respondSafely("feed", exchange, () -> {
            throw new HttpProblem(status, code, message);
        });
    }

    /**
     * A handler over {@code reader} with the defaults of {@link FeedServer.Builder}.
     *
     * @throws IllegalStateException when {@code reader} is a closed store
     */
    public static FeedHandler of(EventReader reader) {
        return FeedServer.builder(reader).handler();
    }

    /**
     * Answers the request, or holds it as a long poll. An answer that cannot be written (the client went
     * away, or it stalled past a {@link RequestTimeout}'s answer limit) throws, after closing the exchange,
     * so that the server drops the connection.
     *
     * @throws IllegalArgumentException when the exchange is null
     */
    @Override
    public void handle(HttpExchange exchange) throws IOException {
        if (exchange == null) {
            throw new IllegalArgumentException("exchange must not be null");
        }
        respondSafely(name, exchange, () -> route(exchange));
    }

    /** Answers the request, or holds it as a long poll and returns false. */
    private boolean route(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        if (!"GET".equals(method) && !"HEAD".equals(method)) {
            exchange.getResponseHeaders().set("Allow", "GET, HEAD");
            throw new HttpProblem(405, "method_not_allowed", "the feed only answers GET and HEAD, not " + method);
        }
        // The path as the JDK's server matched it to the context: decoded (a path with an escaped or non-ASCII
        // character, such as /%C3%A9v%C3%A9nements for a context /événements, would not start with the context raw).
        String context = exchange.getHttpContext().getPath();
        String path = exchange.getRequestURI().getPath();
        String rest = path.length() > context.length() ? path.substring(context.length()) : "";
        if (context.endsWith("/") && !rest.isEmpty()) {
            rest = "/" + rest;
        }
        if (!rest.isEmpty() && !rest.startsWith("/")) {
            throw new HttpProblem(404, "not_found", "no such feed resource: " + path);
        }
        if (rest.isEmpty() || rest.equals("/")) {
            Request request = parse(exchange.getRequestURI().getRawQuery());
            List<RecordedEvent> page = page(request);
            if (page.isEmpty() && request.waitSeconds > 0 && !closed.get() && held.size() < maxHeld) {
                hold(exchange, request);
                return false;
            }
            list(exchange, request, page);
        } else if (rest.equals("/head")) {
            send(exchange, 200, json(gen -> {
                gen.writeStartObject();
                gen.writeNumberField("position", reader.lastPosition());
                gen.writeEndObject();
            }));
        } else if (rest.indexOf('/', 1) < 0) {
            one(exchange, rest.substring(1));
        } else {
            throw new HttpProblem(404, "not_found", "no such feed resource: " + path);
        }
        return true;
    }

    private void hold(HttpExchange exchange, Request request) {
        Held poll = new Held(exchange, request);
        heldCategories.merge(heldKey(request), 1, Integer::sum);  // before the look below: see heldCategories
        held.add(poll);
        try {
            poll.timeout = timer.schedule(poll::answer, request.waitSeconds, TimeUnit.SECONDS);
            if (poll.answered.get()) {
                poll.timeout.cancel(false);     // answered before the timeout was there to cancel
            }
        } catch (RejectedExecutionException closing) {
            poll.answer();
            return;
        }
        // An append between our read and joining the list would not wake us, nor would a close() that
        // went through the list before we joined it: look once more.
        if (closed.get() || !read(request.category, request.after, 1).isEmpty()) {
            poll.answer();
        }
    }

    private static String heldKey(Request request) {
        return request.category == null ? EVERY_CATEGORY : request.category;
    }

    /** The check appends asked for: an append from here on asks for another, which sees what this one may not. */
    private void checkAfterAppends() {
        checkQueued.set(false);
        answerThoseWithEvents();
    }

    private void answerThoseWithEvents() {
        Map<Place, Boolean> hasEventsAfter = new HashMap<>();
        for (Held poll : held) {
            if (closed.get()) {
                return;
            }
            boolean ready;
            try {
                ready = hasEventsAfter.computeIfAbsent(new Place(poll.request.category, poll.request.after),
                        place -> !read(place.category, place.after, 1).isEmpty());
            } catch (RuntimeException | Error e) {
                // Thrown out of the timer's periodic task, it would end the recheck for good, silently.
                checkFailed(e);
                return;
            }
            if (ready) {
                poll.answer();
            }
        }
        if (!hasEventsAfter.isEmpty() && failedChecks > 0) {
            if (streakLogged) {
                LOG.log(System.Logger.Level.INFO, name + " checks for new events again, after " + failedChecks
                        + " failed check" + (failedChecks == 1 ? "" : "s"));
            }
            failedChecks = 0;
        }
    }

    /**
     * Logs a check that failed, at most once every {@link #failureReportNanos}: the first failure of a streak with
     * its stack trace, a later one of the same streak in a line saying how many failed (a closed store fails every
     * check, four a second by default, while polls are held). A streak that begins within that time of the last
     * line is counted without one, so a store failing every other check is not logged twice a second either.
     * An {@link Error} is logged every time.
     */
    private void checkFailed(Throwable e) {
        if (closed.get()) {
            return;     // the store closed with the feed
        }
        long now = System.nanoTime();
        failedChecks++;
        if (failedChecks == 1) {
            streakLogged = false;
        }
        if (failureReported && now - lastFailureReport < failureReportNanos && !(e instanceof Error)) {
            return;     // an Error, a bug or the JVM in trouble, is logged every time
        }
        System.Logger.Level level = e instanceof Error ? System.Logger.Level.ERROR : System.Logger.Level.WARNING;
        if (!streakLogged) {
            LOG.log(level, name + " cannot check for new events for its held long polls: " + e + " (logged again at most"
                    + " once every " + TimeUnit.NANOSECONDS.toSeconds(failureReportNanos) + " s while checks fail)", e);
        } else {
            LOG.log(level, name + " still cannot check for new events for its held long polls: " + failedChecks
                    + " checks failed in a row; the latest: " + e);
        }
        lastFailureReport = now;
        failureReported = true;
        streakLogged = true;
    }

    /** Up to {@code maxCount} events after {@code after}: of {@code category}, or of any when it is null. */
    private List<RecordedEvent> read(String category, long after, int maxCount) {
        return category == null ? reader.readAll(after, maxCount) : reader.readCategory(category, after, maxCount);
    }

    /**
     * Up to the request's limit of its events after its position, ending after the one that takes the page to
     * {@link #PAGE_BYTES}: read a few first, then as many as the bytes left would hold at their average
     * size, at most {@link #MAX_READ} at a time, so the store never hands over {@code limit} big events for
     * a page that holds a few, not even after small ones (whose average would ask for all the rest). A read
     * answering fewer than asked ends the page (what is there now).
     */
    private List<RecordedEvent> page(Request request) {
        int limit = request.limit;
        int ask = Math.min(limit, FIRST_READ);
        List<RecordedEvent> first = read(request.category, request.after, ask);
        long bytes = 0;
        for (int i = 0; i < first.size(); i++) {
            bytes += bytes(first.get(i));
            if (bytes >= PAGE_BYTES) {
                return first.subList(0, i + 1);
            }
        }
        if (first.size() < ask || first.size() >= limit) {
            return first;
        }
        List<RecordedEvent> page = new ArrayList<>(first);
        while (page.size() < limit) {
            long average = Math.max(1, bytes / page.size());
            ask = (int) Math.max(1, Math.min(Math.min(limit - page.size(), MAX_READ), (PAGE_BYTES - bytes) / average));
            List<RecordedEvent> read = read(request.category, page.get(page.size() - 1).position(), ask);
            for (RecordedEvent event : read) {
                page.add(event);
                bytes += bytes(event);
                if (bytes >= PAGE_BYTES || page.size() >= limit) {
                    return page;
                }
            }
            if (read.size() < ask) {
                break;
            }
        }
        return page;
    }

    /** About what {@code event} takes in a page with its data. */
    private static long bytes(RecordedEvent event) {
        long bytes = ENTRY_BYTES + event.streamId().length() + event.type().length() + event.dataLength();
        for (Map.Entry<String, String> entry : event.metadata().entrySet()) {
            bytes += entry.getKey().length() + entry.getValue().length() + 6;
        }
        return bytes;
    }

    private Request parse(String rawQuery) {
        Map<String, String> params = new HashMap<>();
        Map<String, String> raw = new HashMap<>();
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                if (name == null || !PARAMETERS.contains(name)) {
                    continue; // unknown parameters are ignored, as caches and proxies add their own
                }
                String rawValue = eq < 0 ? "" : pair.substring(eq + 1);
                String value = decode(rawValue);
                if (value == null) {
                    throw HttpProblem.badRequest("parameter '" + name + "' is not percent-encoded UTF-8, was '" + rawValue
                            + "'; encode its text as UTF-8 and each byte outside ASCII as %XX");
                }
                String before = params.putIfAbsent(name, value);
                if (before != null) {
                    throw HttpProblem.badRequest("parameter '" + name + "' is given more than once ('" + raw.get(name)
                            + "' and '" + rawValue + "'); give it once");
                }
                raw.put(name, rawValue);
            }
        }
        long after = params.containsKey("after") ? number("after", params.get("after"), 0, Long.MAX_VALUE) : 0;
        if (params.containsKey("offset")) {
            long offset = number("offset", params.get("offset"), 0, Long.MAX_VALUE);
            if (params.containsKey("after") && offset != after) {
                throw HttpProblem.badRequest("'after' and 'offset' mean the same and disagree: " + params.get("after")
                        + " vs " + params.get("offset"));
            }
            after = offset;
        }
        long limit = params.containsKey("limit") ? number("limit", params.get("limit"), 1, Long.MAX_VALUE) : defaultLimit;
        long wait = params.containsKey("wait") ? number("wait", params.get("wait"), 0, Long.MAX_VALUE) : 0;
        String include = params.get("include");
        if (include != null && !include.equals("data")) {
            throw HttpProblem.badRequest("parameter 'include' can only be 'data', was '" + include + "'");
        }
        return new Request(after, (int) Math.min(limit, maxLimit), Math.min(wait, maxWaitSeconds), include != null,
                category(params.get("category")));
    }

    /** The category a request names (null when it names none), checked as {@link StreamName#requireCategory} does. */
    private static String category(String category) {
        if (category == null) {
            return null;
        }
        if (category.isBlank()) {
            throw HttpProblem.badRequest("parameter 'category' must not be empty or blank, was '" + category
                    + "'; leave it out for the events of every category");
        }
        if (category.indexOf('-') >= 0) {
            throw HttpProblem.badRequest("parameter 'category' must not contain '-', was '" + category
                    + "'; a category is the part of a stream id before its first '-' (Account for Account-42)");
        }
        try {
            return StreamName.requireCategory(category);
        } catch (IllegalArgumentException e) {
            throw HttpProblem.badRequest("parameter " + e.getMessage());
        }
    }

    private static long number(String name, String text, long min, long max) {
        long value;
        try {
            value = Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw HttpProblem.badRequest("parameter '" + name + "' must be a whole number, was '" + text + "'");
        }
        if (value < min || value > max) {
            throw HttpProblem.badRequest("parameter '" + name + "' must be >= " + min + ", was " + value);
        }
        return value;
    }

    /**
     * A part of a query as text: {@code +} is a space, {@code %XX} a byte, and the bytes are UTF-8, decoded
     * strictly; null when they are not UTF-8 (a lone surrogate, encoded or not, is not) or an escape is
     * broken. A character up to U+00FF stands for its byte: the JDK's server reads the request line a byte
     * a character, so UTF-8 that curl sends unescaped comes in that way, when the server takes it at all
     * (it refuses, with its own 400, a URL holding a byte from 0x80 to 0xA0, as the second of {@code ß} is).
     */
    private static String decode(String raw) {
        if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0 && raw.chars().allMatch(c -> c < 0x80)) {
            return raw;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int high = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int low = high < 0 ? -1 : Character.digit(raw.charAt(i + 2), 16);
                if (low < 0) {
                    return null;
                }
                bytes.write(high << 4 | low);
                i += 2;
            } else if (c == '+') {
                bytes.write(' ');
            } else if (c <= 0xFF) {
                bytes.write(c);
            } else {
                int end = i + 1;
                if (Character.isHighSurrogate(c) && end < raw.length() && Character.isLowSurrogate(raw.charAt(end))) {
                    end++;
                } else if (Character.isSurrogate(c)) {
                    return null;
                }
                bytes.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
                i = end - 1;
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private void list(HttpExchange exchange, Request request, List<RecordedEvent> page) throws IOException {
        String base = baseUrl(exchange);
        long next = page.isEmpty() ? request.after : page.get(page.size() - 1).position();
        send(exchange, 200, json(gen -> {
            gen.writeStartObject();
            gen.writeStringField("description", "event feed");
            gen.writeArrayFieldStart("events");
            for (RecordedEvent stored : page) {
                RecordedEvent event = current(stored);
                gen.writeStartObject();
                entry(gen, base, event);
                if (request.includeData) {
                    body(gen, event);
                }
                gen.writeEndObject();
            }
            gen.writeEndArray();
            gen.writeStringField("next", base + "?after=" + next + "&limit=" + request.limit
                    + (request.category == null ? "" : "&category=" + URLEncoder.encode(request.category, StandardCharsets.UTF_8))
                    + (request.includeData ? "&include=data" : "")
                    + (request.waitSeconds > 0 ? "&wait=" + request.waitSeconds : ""));
            gen.writeEndObject();
        }));
    }

    private void one(HttpExchange exchange, String idText) throws IOException {
        UUID id;
        try {
            id = UUID.fromString(idText);
        } catch (IllegalArgumentException e) {
            throw new HttpProblem(404, "not_found", "'" + idText + "' is not an event id (a UUID)");
        }
        Optional<RecordedEvent> found = reader.readEvent(id);
        if (found.isEmpty()) {
            throw new HttpProblem(404, "not_found", "no event with id " + id);
        }
        String base = baseUrl(exchange);
        RecordedEvent event = current(found.get());
        send(exchange, 200, json(gen -> {
            gen.writeStartObject();
            entry(gen, base, event);
            body(gen, event);
            gen.writeEndObject();
        }));
    }

    /** The event as the feed serves it: upcast to the current schema when the feed was given upcasters. */
    private RecordedEvent current(RecordedEvent stored) {
        try {
            return upcast.apply(stored);
        } catch (RuntimeException e) {
            throw new HttpProblem(500, "corrupt_event", "event " + stored.eventId() + " cannot be served: " + e.getMessage());
        }
    }

    private static void entry(JsonGenerator gen, String base, RecordedEvent event) throws IOException {
        gen.writeStringField("event_id", event.eventId().toString());
        gen.writeStringField("url", base + "/" + event.eventId());
        gen.writeStringField("stream_id", event.streamId());
        gen.writeStringField("aggregate_name", event.category());
        gen.writeStringField("aggregate_id", StreamName.id(event.streamId()));
        gen.writeNumberField("aggregate_version", event.version());
        gen.writeStringField("event_type", event.type());
        gen.writeStringField("created", DateTimeFormatter.ISO_INSTANT.format(event.recordedAt()));
        gen.writeNumberField("position", event.position());
    }

    private static void body(JsonGenerator gen, RecordedEvent event) throws IOException {
        gen.writeObjectFieldStart("metadata");
        for (Map.Entry<String, String> entry : event.metadata().entrySet()) {
            gen.writeStringField(entry.getKey(), entry.getValue());
        }
        gen.writeEndObject();
        // Copied token by token, which also checks it is one whole JSON value (the body is built in
        // memory, so a corrupt one leaves nothing half-sent).
        gen.writeFieldName("data");
        try (JsonParser parser = JSON.getFactory().createParser(event.dataStream())) {
            if (parser.nextToken() == null) {
                throw new IOException("the body is empty");
            }
            copyExactly(parser, gen);
            if (parser.nextToken() != null) {
                throw new IOException("more follows the JSON value");
            }
        } catch (IOException e) {
            throw new HttpProblem(500, "corrupt_event", "the stored body of event " + event.eventId() + " ("
                    + event.streamId() + "@" + event.version() + ", type '" + event.type() + "') is not JSON: "
                    + e.getMessage());
        }
    }

    /**
     * Copies the value the parser is at, numbers as their text: {@code copyCurrentStructure} would pass
     * a decimal through a {@code double} (12345678901234567.89 would come out as 1.2345678901234568E16).
     */
    static void copyExactly(JsonParser parser, JsonGenerator gen) throws IOException {
        int depth = 0;
        do {
            JsonToken token = parser.currentToken();
            if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
                gen.writeNumber(parser.getText());
            } else {
                gen.copyCurrentEvent(parser);
            }
            if (token.isStructStart()) {
                depth++;
            } else if (token.isStructEnd()) {
                depth--;
            }
        } while (depth > 0 && parser.nextToken() != null);
        if (depth > 0) {
            throw new IOException("the body ends inside a JSON value");
        }
    }

    private String baseUrl(HttpExchange exchange) {
        if (publicBase != null) {
            return publicBase;
        }
        String host = exchange.getRequestHeaders().getFirst("Host");
        if (host == null || host.isBlank()) {
            var local = exchange.getLocalAddress();
            host = AllowedHosts.literal(local.getAddress()) + ":" + local.getPort();
        }
        String context = exchange.getHttpContext().getPath();
        if (context.endsWith("/")) {
            context = context.substring(0, context.length() - 1);
        }
        return "http://" + host + escapedPath(context);
    }

    /** {@code path} as a URI writes it: a space, a {@code %} or a non-ASCII character escaped, as {@code /my%20events}. */
    static String escapedPath(String path) {
        try {
            return new URI(null, null, path, null).toASCIIString();
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("path '" + path + "' cannot be written in a URI: " + e.getMessage(), e);
        }
    }

    private interface Body {
        void write(JsonGenerator gen) throws IOException;
    }

    private static byte[] json(Body body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator gen = JSON.getFactory().createGenerator(out)) {
            body.write(gen);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Answers {@code body}; to a HEAD, the same status and headers, its length included, without the body (the
     * JDK's server takes no length for a HEAD: given one, it logs a warning and refuses the body's write).
     */
    private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if ("HEAD".equals(exchange.getRequestMethod())) {
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private interface Responder {
        /** Responds, or returns false when the exchange stays open to be answered later. */
        boolean respond() throws IOException;
    }

    /**
     * Runs {@code responder}; turns a problem into its JSON error, anything else into a 500 without a trace.
     * Throws the {@link IOException} of an answer that could not be written, once the exchange is closed:
     * the JDK's server forgets a connection whose answer broke off only when that reaches it (its handler
     * throws); swallowed, the connection stays in the server's books, with its buffers, until it stops.
     */
    private static void respondSafely(String feed, HttpExchange exchange, Responder responder) throws IOException {
        boolean done = true;
        try {
            try {
                done = responder.respond();
            } catch (HttpProblem problem) {
                send(exchange, problem.status, json(gen -> {
                    gen.writeStartObject();
                    gen.writeStringField("error", problem.code);
                    gen.writeStringField("message", problem.getMessage());
                    gen.writeEndObject();
                }));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, feed + ": request " + exchange.getRequestURI() + " failed: " + e, e);
                send(exchange, 500, json(gen -> {
                    gen.writeStartObject();
                    gen.writeStringField("error", "internal_error");
                    gen.writeStringField("message", "the feed could not read the store: " + e.getClass().getSimpleName()
                            + (e.getMessage() == null ? "" : ": " + e.getMessage()));
                    gen.writeEndObject();
                }));
            }
        } catch (RuntimeException e) {
            // Headers were already sent: nothing left to tell the client.
            LOG.log(System.Logger.Level.DEBUG, () -> feed + ": response to " + exchange.getRequestURI() + " failed: " + e);
        } finally {
            if (done) {
                exchange.close();
            }
        }
    }

    /**
     * Answers every held long poll now (with what is there), stops the store listener and the timer, and
     * waits up to 5 s in all, even when interrupted, for those answers to be written and for a check for new
     * events under way to end: once it returns, the handler's own threads read the store no more (unless
     * that wait ran out, which it logs). Requests the server still hands it are answered from the store as
     * before, so close the handler, then the server that runs it (stopped first, it would drop the answers
     * not yet written), then the store.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stopListening.run();
        for (Held poll : held) {
            poll.answer();
        }
        // Not shutdownNow(): an interrupt would cut a check's store read short, and some stores' drivers throw then.
        // The timeouts still queued are dropped; a check under way ends, and is waited for, before the caller closes
        // the store.
        timer.shutdown();
        answers.shutdown();     // the answers just handed over still go out
        long deadline = System.nanoTime() + CLOSE_GRACE_NANOS;
        awaitTermination(timer, deadline, name, "a check for new events still reading the store");
        awaitTermination(answers, deadline, name, "answers to long polls still unwritten: those consumers lose the connection");
    }

    /** Waits until {@code deadline} for {@code executor} to end, even when interrupted (the interrupt is kept). */
    private static void awaitTermination(ExecutorService executor, long deadline, String feed, String stillRunning) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (!executor.awaitTermination(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                        LOG.log(System.Logger.Level.WARNING, feed + " closed with " + stillRunning + " after "
                                + TimeUnit.NANOSECONDS.toSeconds(CLOSE_GRACE_NANOS) + " s");
                    }
                    return;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** An HTTP error with its JSON code. */
    private static final class HttpProblem extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final String code;

        HttpProblem(int status, String code, String message) {
            super(message, null, false, false);
            this.status = status;
            this.code = code;
        }

        static HttpProblem badRequest(String message) {
            return new HttpProblem(400, "bad_request", message);
        }
    }
}
