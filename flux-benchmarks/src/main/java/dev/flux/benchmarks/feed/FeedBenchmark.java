package dev.flux.benchmarks.feed;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.benchmarks.UnwatchedStore;
import dev.flux.feed.FeedServer;
import dev.flux.feed.HttpEventSource;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.subscription.Subscription;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The HTTP feed over loopback: catching up over 100,000 events in pages of 1,000 through
 * {@link HttpEventSource} (against reading the same pages from the store in-process), and the time
 * from an append to a consumer that long-polls the feed (against the append alone).
 *
 * <pre>java -jar flux-benchmarks/target/benchmarks.jar FeedBenchmark</pre>
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class FeedBenchmark {
    static final int EVENTS = 100_000;
    static final byte[] BODY = "{\"amount\":125,\"currency\":\"EUR\",\"note\":\"benchmark\"}".getBytes(StandardCharsets.UTF_8);

    @State(Scope.Benchmark)
    public static class Served {
        EventStore store;
        FeedServer feed;
        HttpEventSource source;

        @Setup(Level.Trial)
        public void start() {
            store = new InMemoryEventStore();
            for (int i = 0; i < EVENTS / 10; i++) {
                List<EventData> batch = new ArrayList<>();
                for (int j = 0; j < 10; j++) {
                    batch.add(EventData.of("Credited", BODY, Map.of("correlation_id", "c-" + i)));
                }
                store.append("Account-" + (i % 1000), ExpectedVersion.ANY, batch);
            }
            feed = FeedServer.builder(store).start();
            source = HttpEventSource.of(feed.uri(), Duration.ZERO);
        }

        @TearDown(Level.Trial)
        public void stop() {
            feed.close();
            store.close();
        }
    }

    /** Reads the whole feed in pages of 1,000 over HTTP, decoding each page's JSON into events. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 3)
    @Measurement(iterations = 5)
    @OperationsPerInvocation(EVENTS)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long catchUpOverHttp(Served served, Blackhole bh) {
        long after = 0;
        List<RecordedEvent> page;
        while (!(page = served.source.read(after, 1000)).isEmpty()) {
            bh.consume(page);
            after = page.get(page.size() - 1).position();
        }
        return after;
    }

    /** Baseline: the same pages read from the store in this process. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 3)
    @Measurement(iterations = 5)
    @OperationsPerInvocation(EVENTS)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long catchUpInProcessBaseline(Served served, Blackhole bh) {
        long after = 0;
        List<RecordedEvent> page;
        while (!(page = served.store.readAll(after, 1000)).isEmpty()) {
            bh.consume(page);
            after = page.get(page.size() - 1).position();
        }
        return after;
    }

    /** A consumer caught up with the feed, long-polling it. */
    @State(Scope.Benchmark)
    public static class Tail {
        EventStore store;
        FeedServer feed;
        Subscription consumer;
        volatile long handled;
        volatile Thread waiter;

        @Setup(Level.Trial)
        public void start() {
            store = new InMemoryEventStore();
            feed = FeedServer.builder(store).start();
            consumer = Subscription.builder(HttpEventSource.of(feed.uri(), Duration.ofSeconds(10)))
                    .onRecorded(event -> {
                        handled = event.position();
                        Thread w = waiter;
                        if (w != null) {
                            LockSupport.unpark(w);
                        }
                    }).start();
        }

        @TearDown(Level.Trial)
        public void stop() {
            consumer.stop();
            feed.close();
            store.close();
        }
    }

    /**
     * From an append to the remote consumer's handler: the long poll's answer, the HTTP round trip,
     * decoding. The waiting thread parks until the handler wakes it (spinning would take one of a
     * small machine's cores from the server and the consumer).
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 3, time = 2)
    @Measurement(iterations = 5, time = 2)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long appendToRemoteConsumer(Tail tail) {
        tail.waiter = Thread.currentThread();
        tail.store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited", BODY, Map.of())));
        long target = tail.store.lastPosition();
        while (tail.handled < target) {
            LockSupport.park(tail);
        }
        return target;
    }

    /**
     * Baseline: the append alone, on a store no feed serves (on {@link Tail}'s store each append would also
     * answer the consumer's held poll, and the server and consumer threads would take cores from the appender).
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 3, time = 2)
    @Measurement(iterations = 5, time = 2)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long appendOnlyBaseline(UnwatchedStore unwatched) {
        return unwatched.append("Account-1", EventData.of("Credited", BODY, Map.of()));
    }
}
