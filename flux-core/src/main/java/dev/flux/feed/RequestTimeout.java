package dev.flux.feed;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads of a JDK {@link HttpServer} ({@code server.setExecutor(requests)}) that drop a request
 * which has not come in whole within a time limit: a client that sends part of a request and stalls
 * holds a thread only that long, so a few of them cannot take every thread. A {@link FeedServer} runs
 * on one ({@link FeedServer.Builder#requestTimeout}); use one for a server of your own, with a
 * {@link FeedHandler} mounted in it or not:
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
 * refused with 413 and a JSON error, as the feed's other errors are shaped. Then the deadline is
 * disarmed, so handlers, the answers they write and the long polls they hold are never interrupted.
 * Only the guarded contexts disarm it: a request to a context without the filter is dropped when its
 * time is up, whatever it is doing.
 *
 * <p>Thread-safety: each exchange's {@link Deadline} is guarded by its own monitor, which the exchange's
 * thread and the timer's take.
 */
public final class RequestTimeout implements Executor, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RequestTimeout.class.getName());
    /** The most body a guarded request may bring. */
    public static final int MAX_BODY_BYTES = 64 * 1024;
    /** How long {@link #close()} waits for the exchanges under way. */
    private static final long CLOSE_GRACE_SECONDS = 5;

    private final Duration limit;
    private final long limitNanos;
    private final ExecutorService threads;
    private final ScheduledThreadPoolExecutor timer;
    /** The deadline of the exchange the current thread runs, set only on this executor's threads. */
    private final ThreadLocal<Deadline> current = new ThreadLocal<>();
    private final Filter arrival = new Arrival();

    /**
     * Starts the threads (daemons, named after {@code name}).
     *
     * @param name        what the threads are called after, e.g. {@code "flux-feed"}
     * @param threadCount how many requests are handled at once; at least 1
     * @param limit       how long a request may take to come in whole; positive
     * @throws IllegalArgumentException when an argument is null or out of range
     */
    public RequestTimeout(String name, int threadCount, Duration limit) {
        if (name == null || threadCount < 1 || limit == null || limit.isNegative() || limit.isZero()) {
            throw new IllegalArgumentException("RequestTimeout needs a name, at least 1 thread and a positive limit, was "
                    + name + ", " + threadCount + ", " + limit);
        }
        this.limit = limit;
        this.limitNanos = saturatedNanos(limit);
        this.threads = Executors.newFixedThreadPool(threadCount, named(name + "-"));
        this.timer = new ScheduledThreadPoolExecutor(1, named(name + "-request-timeout-"));
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * Lets the handler of {@code context} run only once the request is in whole, body too, within the
     * time limit.
     *
     * @return the context
     */
    public HttpContext guard(HttpContext context) {
        context.getFilters().add(arrival);
        return context;
    }

    /** Runs one exchange of the server: the JDK reads the request line and headers inside it. */
    @Override
    public void execute(Runnable exchange) {
        threads.execute(() -> {
            Deadline deadline = new Deadline(Thread.currentThread());
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
     * Waits up to 5 s for the exchanges under way (and still guards their requests meanwhile), then stops
     * the timer; call it after stopping the server, which closes the connections of stalled requests.
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

    private static long saturatedNanos(Duration duration) {
        try {
            return duration.toNanos();
        } catch (ArithmeticException moreThan292Years) {
            return Long.MAX_VALUE;
        }
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread thread = new Thread(task, prefix + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /** One exchange's time limit: the timer interrupts the exchange's thread unless the request came in whole first. */
    private final class Deadline {
        private final Thread thread;
        private boolean open = true;
        private boolean expired;

        Deadline(Thread thread) {
            this.thread = thread;
        }

        synchronized void expire() {
            if (open) {
                open = false;
                expired = true;
                LOG.log(System.Logger.Level.DEBUG, () -> "a request did not come in whole within " + limit + ": dropping it");
                thread.interrupt();
            }
        }

        /** The request is in; false if its time ran out first (and the thread is interrupted). */
        synchronized boolean received() {
            boolean inTime = open;
            open = false;
            return inTime;
        }

        /** On the exchange's thread, as it ends: clears the interrupt this deadline sent, before the thread's next exchange. */
        synchronized void end() {
            open = false;
            if (expired) {
                Thread.interrupted();
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
            exchange.setStreams(new ByteArrayInputStream(body), null);
            chain.doFilter(exchange);
        }

        @Override
        public String description() {
            return "lets a request through once it is in whole, within " + limit;
        }
    }
}
