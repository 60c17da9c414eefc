package dev.flux.feed;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsExchange;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The threads of a JDK {@link HttpServer} ({@code server.setExecutor(requests)}) that drop a request
 * which has not come in whole within a time limit, and an answer that stops going out for as long: a
 * client that sends part of a request and stalls, or stops reading its answer, holds a thread only
 * that long, so a few of them cannot take every thread. A {@link FeedServer} runs on one
 * ({@link FeedServer.Builder#requestTimeout}, {@link FeedServer.Builder#answerTimeout}); use one for a
 * server of your own, with a {@link FeedHandler} mounted in it or not:
 *
 * <pre>{@code
 * RequestTimeout requests = new RequestTimeout("api", 8, Duration.ofSeconds(10));
 * server.setExecutor(requests);
 * requests.guard(server.createContext("/events", FeedHandler.of(store)));
 * ...
 * server.stop(0);
 * requests.close();
 * }</pre>
 *
 * <p>The JDK's server reads each request's line and headers on the thread that runs its exchange, from
 * a blocking socket channel, and waits as long as the client takes. (Its own limit, the system property
 * {@code sun.net.httpserver.maxReqTime}, is read once per JVM and applies to every server in it.) Here
 * the timer interrupts an exchange's thread when its time is up while the request is still coming in;
 * the interrupt closes the channel and ends the read, the JDK drops the connection, and the thread goes
 * back to serving others. The time counts from when a thread takes the exchange, which the JDK hands
 * over once the request's first bytes have come.
 *
 * <p>{@link #guard} puts a filter on a context that reads the request's body into memory before the
 * context's handler runs, which then reads it from there: otherwise the handler, or the JDK after the
 * answer, would read it on a thread no longer guarded. A body over {@value #MAX_BODY_BYTES} bytes is
 * refused with 413 and a JSON error, as the feed's other errors are shaped. Then the request's deadline
 * is disarmed: the handler, and a long poll it holds, are never interrupted. Only the guarded contexts
 * disarm it: a request to a context without the filter is dropped when its time is up, whatever it is
 * doing.
 *
 * <p>The answers of a guarded context are limited as they are written, and only then. Each write to the
 * socket (the headers, each 64 KiB of the body, the end of the body) must be done within the answer
 * limit, on whatever thread writes it: one that is not, because the client stopped reading and the
 * socket's buffers are full, is ended by interrupting that thread, which closes the connection; the
 * write throws an {@link InterruptedIOException} and the interrupt is cleared before it returns, so it
 * never reaches what the thread does next (a store read, say). The limit bounds a stall, not the whole
 * answer: a client that reads slowly but steadily, at least 64 KiB per limit, gets an answer of any
 * size however long it takes (and a client that trickles its reads on purpose holds the thread as
 * long). The JDK's own {@code sun.net.httpserver.maxRspTime} bounds whole answers instead, the wait of
 * a held long poll included, for every server in the JVM. On an {@code HttpsServer}, and in a context
 * with an {@link com.sun.net.httpserver.Authenticator}, the handler gets the JDK's own exchange, so
 * there the headers are written without the limit; the body still has it.
 *
 * <p>Thread-safety: each deadline (a request's, or one write's) is guarded by its own monitor, which the
 * thread it may interrupt and the timer's take.
 */
public final class RequestTimeout implements Executor, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RequestTimeout.class.getName());
    /** The most body a guarded request may bring. */
    public static final int MAX_BODY_BYTES = 64 * 1024;
    /** How long {@link #close()} waits for the exchanges under way. */
    private static final long CLOSE_GRACE_SECONDS = 5;
    /** The most of an answer's body written under one deadline. */
    private static final int ANSWER_STEP_BYTES = 64 * 1024;

    private final Duration limit;
    private final long limitNanos;
    private final Duration answerLimit;
    private final long answerLimitNanos;
    private final Supplier<String> requestStalled;
    private final Supplier<String> answerStalled;
    private final ExecutorService threads;
    private final ScheduledThreadPoolExecutor timer;
    /** The deadline of the exchange the current thread runs, set only on this executor's threads. */
    private final ThreadLocal<Deadline> current = new ThreadLocal<>();
    private final Filter arrival = new Arrival();

    /**
     * Starts the threads (daemons, named after {@code name}), with one limit for requests and answers.
     *
     * @param name        what the threads are called after, e.g. {@code "flux-feed"}
     * @param threadCount how many requests are handled at once; at least 1
     * @param limit       how long a request may take to come in whole, and each write of an answer to go
     *                    out; positive
     * @throws IllegalArgumentException when the name is null or blank, the thread count below 1, or the
     *                                  limit null, zero or negative
     */
    public RequestTimeout(String name, int threadCount, Duration limit) {
        this(name, threadCount, limit, limit);
    }

    /**
     * Starts the threads (daemons, named after {@code name}).
     *
     * @param name        what the threads are called after, e.g. {@code "flux-feed"}
     * @param threadCount how many requests are handled at once; at least 1
     * @param limit       how long a request may take to come in whole; positive
     * @param answerLimit how long each write of an answer (its headers, 64 KiB of its body, its end) may
     *                    take to go out; positive
     * @throws IllegalArgumentException when the name is null or blank, the thread count below 1, or a limit
     *                                  null, zero or negative
     */
    public RequestTimeout(String name, int threadCount, Duration limit, Duration answerLimit) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name must not be null or blank, was "
                    + (name == null ? "null" : "'" + name + "'"));
        }
        if (threadCount < 1) {
            throw new IllegalArgumentException("threadCount must be >= 1, was " + threadCount);
        }
        if (!isPositive(limit)) {
            throw new IllegalArgumentException("limit must be positive, was " + limit);
        }
        if (!isPositive(answerLimit)) {
            throw new IllegalArgumentException("answerLimit must be positive, was " + answerLimit);
        }
        this.limit = limit;
        this.limitNanos = saturatedNanos(limit);
        this.answerLimit = answerLimit;
        this.answerLimitNanos = saturatedNanos(answerLimit);
        this.requestStalled = () -> "a request did not come in whole within " + limit + ": dropping it";
        this.answerStalled = () -> "an answer did not go out within " + answerLimit + ": dropping it";
        this.threads = Executors.newFixedThreadPool(threadCount, named(name + "-"));
        this.timer = new ScheduledThreadPoolExecutor(1, named(name + "-request-timeout-"));
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * Lets the handler of {@code context} run only once the request is in whole, body too, within the
     * time limit, and drops its answers when a write of theirs does not go out within the answer limit.
     *
     * @return the context
     * @throws IllegalArgumentException when the context is null
     */
    public HttpContext guard(HttpContext context) {
        if (context == null) {
            throw new IllegalArgumentException("context must not be null");
        }
        context.getFilters().add(arrival);
        return context;
    }

    /**
     * Runs one exchange of the server: the JDK reads the request line and headers inside it.
     *
     * @throws IllegalArgumentException   when the exchange is null (as across flux, where {@link Executor}
     *                                    names a {@code NullPointerException})
     * @throws RejectedExecutionException once it is closed
     */
    @Override
    public void execute(Runnable exchange) {
        if (exchange == null) {
            throw new IllegalArgumentException("exchange must not be null");
        }
        threads.execute(() -> {
            Deadline deadline = new Deadline(Thread.currentThread(), requestStalled);
            current.set(deadline);
            ScheduledFuture<?> alarm = null;
            try {
                alarm = timer.schedule(deadline::expire, limitNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException closed) {
                deadline.expire();  // the server is closing: drop the request
            }
            try {
                exchange.run();
            } finally {
                if (alarm != null) {
                    alarm.cancel(false);
                }
                deadline.end();
                current.remove();
            }
        });
    }

    /**
     * Waits up to 5 s for the exchanges under way (and still guards their requests and answers
     * meanwhile), then stops the timer, after which an answer still being written is dropped; call it
     * after stopping the server, which closes the connections of stalled requests.
     */
    @Override
    public void close() {
        threads.shutdown();
        try {
            threads.awaitTermination(CLOSE_GRACE_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            timer.shutdownNow();
        }
    }

    /**
     * Runs one write of an answer on the calling thread, which the timer interrupts if it has not ended
     * within the answer limit; the interrupt is cleared before this returns.
     */
    private void send(Write write) throws IOException {
        Deadline deadline = new Deadline(Thread.currentThread(), answerStalled);
        ScheduledFuture<?> alarm;
        try {
            alarm = timer.schedule(deadline::expire, answerLimitNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closed) {
            throw new IOException("the server is closing: the answer is dropped");
        }
        IOException failed = null;
        boolean expired;
        try {
            write.run();
        } catch (IOException e) {
            failed = e;
        } finally {
            alarm.cancel(false);
            expired = deadline.end();
        }
        if (failed != null && expired) {
            InterruptedIOException dropped = new InterruptedIOException("the answer did not go out within " + answerLimit
                    + " (the client stopped reading): the connection is closed");
            dropped.initCause(failed);
            throw dropped;
        } else if (failed != null) {
            throw failed;
        }
    }

    private static boolean isPositive(Duration duration) {
        return duration != null && !duration.isNegative() && !duration.isZero();
    }

    private static long saturatedNanos(Duration duration) {
        try {
            return duration.toNanos();
        } catch (ArithmeticException moreThan292Years) {
            return Long.MAX_VALUE;
        }
    }

    /** Daemon threads named {@code prefix} and a count from 1, for the feed's pools and the shared source client. */
    static ThreadFactory named(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread thread = new Thread(task, prefix + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /**
     * A time limit on what a thread does (an exchange's request coming in, or one write of an answer):
     * the timer interrupts the thread unless the deadline was disarmed or ended first.
     */
    private static final class Deadline {
        private final Thread thread;
        private final Supplier<String> stalled;
        private boolean open = true;
        private boolean expired;

        Deadline(Thread thread, Supplier<String> stalled) {
            this.thread = thread;
            this.stalled = stalled;
        }

        synchronized void expire() {
            if (open) {
                open = false;
                expired = true;
                LOG.log(System.Logger.Level.DEBUG, stalled);
                thread.interrupt();
            }
        }

        /** The request is in; false if its time ran out first (and the thread is interrupted). */
        synchronized boolean received() {
            boolean inTime = open;
            open = false;
            return inTime;
        }

        /**
         * On the deadline's thread, once what it limits is over: clears the interrupt this deadline sent,
         * before the thread does anything else. Returns whether it had sent one.
         */
        synchronized boolean end() {
            open = false;
            if (expired) {
                Thread.interrupted();
            }
            return expired;
        }
    }

    private interface Write {
        void run() throws IOException;
    }

    /** An answer's body stream that {@link #send sends} each write, at most 64 KiB of it at a time, within the answer limit. */
    private final class TimedAnswer extends OutputStream {
        private final OutputStream out;
        /** Only the thread answering touches it; a held answer moves to another thread through an executor. */
        private boolean closed;

        TimedAnswer(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            send(() -> out.write(b));
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            for (int at = off, end = off + len, step; at < end; at += step) {
                int from = at;
                step = Math.min(ANSWER_STEP_BYTES, end - at);
                int length = step;
                send(() -> out.write(b, from, length));
            }
        }

        @Override
        public void flush() throws IOException {
            send(out::flush);
        }

        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                send(out::close);
            }
        }
    }

    /** Reads the body into memory while the deadline runs, then disarms it and hands the exchange on. */
    private final class Arrival extends Filter {
        @Override
        public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
            byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) {
                // The deadline still runs: the JDK drains a little of the rest, under it, and drops the connection.
                FeedHandler.refuse(exchange, 413, "too_large", "the body must be at most " + MAX_BODY_BYTES + " bytes");
                return;
            }
            Deadline deadline = current.get();
            if (deadline != null && !deadline.received()) {
                throw new InterruptedIOException("the request did not come in whole within " + limit);
            }
            exchange.setStreams(new ByteArrayInputStream(body), new TimedAnswer(exchange.getResponseBody()));
            // A handler over HTTPS needs an HttpsExchange, and the JDK's authentication filter, which runs
            // after this one, casts the exchange to the JDK's own class.
            boolean jdkExchange = exchange instanceof HttpsExchange || exchange.getHttpContext().getAuthenticator() != null;
            chain.doFilter(jdkExchange ? exchange : new TimedExchange(exchange));
        }

        @Override
        public String description() {
            return "lets a request through once it is in whole, within " + limit + ", and drops an answer that stalls for "
                    + answerLimit;
        }
    }

    /** The exchange as a guarded handler sees it: its headers are {@link #send sent} within the answer limit. */
    private final class TimedExchange extends HttpExchange {
        private final HttpExchange exchange;

        TimedExchange(HttpExchange exchange) {
            this.exchange = exchange;
        }

        @Override
        public void sendResponseHeaders(int status, long length) throws IOException {
            send(() -> exchange.sendResponseHeaders(status, length));
        }

        @Override
        public void close() {
            exchange.close();
        }

        @Override
        public Headers getRequestHeaders() {
            return exchange.getRequestHeaders();
        }

        @Override
        public Headers getResponseHeaders() {
            return exchange.getResponseHeaders();
        }

        @Override
        public URI getRequestURI() {
            return exchange.getRequestURI();
        }

        @Override
        public String getRequestMethod() {
            return exchange.getRequestMethod();
        }

        @Override
        public HttpContext getHttpContext() {
            return exchange.getHttpContext();
        }

        @Override
        public InputStream getRequestBody() {
            return exchange.getRequestBody();
        }

        @Override
        public OutputStream getResponseBody() {
            return exchange.getResponseBody();
        }

        @Override
        public InetSocketAddress getRemoteAddress() {
            return exchange.getRemoteAddress();
        }

        @Override
        public int getResponseCode() {
            return exchange.getResponseCode();
        }

        @Override
        public InetSocketAddress getLocalAddress() {
            return exchange.getLocalAddress();
        }

        @Override
        public String getProtocol() {
            return exchange.getProtocol();
        }

        @Override
        public Object getAttribute(String name) {
            return exchange.getAttribute(name);
        }

        @Override
        public void setAttribute(String name, Object value) {
            exchange.setAttribute(name, value);
        }

        @Override
        public void setStreams(InputStream in, OutputStream out) {
            exchange.setStreams(in, out);
        }

        @Override
        public HttpPrincipal getPrincipal() {
            return exchange.getPrincipal();
        }
    }
}
