package dev.flux.example.account;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads of one {@link HttpServer} ({@code server.setExecutor(timeout)}), which drop a request
 * that has not arrived whole, headers and body, within a time limit: a client that sends part of a
 * request and stalls holds a thread only that long, so a few of them cannot take every thread.
 *
 * <p>The JDK's server reads each request on the thread that runs its exchange, from a blocking socket
 * channel, and waits as long as the client takes. (Its own limit, the system property
 * {@code sun.net.httpserver.maxReqTime}, is read once per JVM when the server class is first used,
 * and applies to every server in it.) Here the timer interrupts an exchange's thread when its time is
 * up while the request is still coming in; the interrupt closes the channel and ends the read, the
 * JDK drops the connection, and the thread goes back to serving others. The time counts from when a
 * thread starts reading the request, that is once its first bytes have come.
 *
 * <p>{@link #guard} puts a filter on a context that reads the request's body into memory before its
 * handler runs: a body over {@link Http#MAX_BODY_BYTES} is refused there with 413. Once the body is in,
 * the exchange is never interrupted, so handlers and the stores under them run without that hazard;
 * a long poll that the handler holds is not limited either.
 *
 * <p>Thread-safety: each exchange's {@link Deadline} is guarded by its own monitor, which the
 * exchange's thread and the timer's take.
 */
final class RequestTimeout implements Executor, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RequestTimeout.class.getName());

    private final Duration limit;
    private final ExecutorService threads;
    private final ScheduledThreadPoolExecutor timer;
    /** The deadline of the exchange the current thread runs, set only on this executor's threads. */
    private final ThreadLocal<Deadline> current = new ThreadLocal<>();
    private final Filter bodyReader = new BodyReader();

    /**
     * @param name        what the threads are called after, e.g. {@code "command-side"}
     * @param threadCount how many requests are handled at once
     * @param limit       how long a request may take to come in whole; positive
     */
    RequestTimeout(String name, int threadCount, Duration limit) {
        if (limit.isNegative() || limit.isZero()) {
            throw new IllegalArgumentException("the request timeout must be positive, was " + limit);
        }
        this.limit = limit;
        this.threads = Executors.newFixedThreadPool(threadCount, named(name + "-http-"));
        this.timer = new ScheduledThreadPoolExecutor(1, named(name + "-request-timeout-"));
        timer.setRemoveOnCancelPolicy(true);
    }

    /** Reads each request's body on {@code context} within the time limit, before the context's handler runs. */
    HttpContext guard(HttpContext context) {
        context.getFilters().add(bodyReader);
        return context;
    }

    /** Runs one exchange of the server: the JDK reads the request line and headers inside it. */
    @Override
    public void execute(Runnable exchange) {
        threads.execute(() -> {
            Deadline deadline = new Deadline(Thread.currentThread());
            current.set(deadline);
            ScheduledFuture<?> alarm = timer.schedule(deadline::expire, limit.toNanos(), TimeUnit.NANOSECONDS);
            try {
                exchange.run();
            } finally {
                alarm.cancel(false);
                deadline.end();
                current.remove();
            }
        });
    }

    /** Stops the threads and the timer; call it after stopping the server. */
    @Override
    public void close() {
        threads.shutdown();
        timer.shutdownNow();
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
                LOG.log(System.Logger.Level.DEBUG, "a request did not come in whole within " + limit + ": dropping it");
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

    /** Reads the whole body (or refuses it as too large) while the deadline runs, then hands the handler the bytes. */
    private final class BodyReader extends Filter {
        @Override
        public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
            byte[] body = exchange.getRequestBody().readNBytes(Http.MAX_BODY_BYTES + 1);
            if (body.length > Http.MAX_BODY_BYTES) {
                // The deadline still runs: the JDK drains a little of the rest, under it, and drops the connection.
                Http.refuse(exchange, Http.tooLarge());
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
            return "reads the request body within " + limit;
        }
    }
}
