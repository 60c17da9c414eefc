package dev.flux.benchmarks.subscription;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.benchmarks.Directories;
import dev.flux.benchmarks.UnwatchedStore;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.xodus.XodusEventStore;
import dev.flux.xodus.XodusOptions;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Subscriptions: catching up over 1M events in the memory and Xodus stores (against reading the same
 * pages in a plain loop), and, on the memory store, the time from an append to a caught-up handler
 * (against the append alone), and an append beside 100 idle category subscriptions (against none).
 *
 * <pre>java -jar flux-benchmarks/target/benchmarks.jar SubscriptionBenchmark</pre>
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
public class SubscriptionBenchmark {
    static final int EVENTS = 1_000_000;
    static final byte[] BODY = "{\"amount\":125,\"currency\":\"EUR\",\"note\":\"benchmark\"}".getBytes(StandardCharsets.UTF_8);

    static List<EventData> batch(int size) {
        List<EventData> events = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            events.add(EventData.of("Credited", BODY, Map.of()));
        }
        return events;
    }

    /** A log of 1M events in 10,000 streams, in the memory store or in Xodus (in a temporary directory). */
    @State(Scope.Benchmark)
    public static class FullLog {
        @Param({"memory", "xodus"})
        public String storeKind;

        EventStore store;
        Path dir;
        long last;

        @Setup(Level.Trial)
        public void fill() {
            if (storeKind.equals("xodus")) {
                dir = Directories.create("flux-bench-subscription");
                store = new XodusEventStore(dir, XodusOptions.builder().durableWrites(false).build());
            } else {
                store = new InMemoryEventStore();
            }
            for (int i = 0; i < EVENTS / 10; i++) {
                store.append("Account-" + (i % 10_000), ExpectedVersion.ANY, batch(10));
            }
            last = store.lastPosition();
        }

        @TearDown(Level.Trial)
        public void close() {
            try {
                store.close();
            } finally {
                Directories.delete(dir);
            }
        }
    }

    /** Catch-up: a new subscription from position 0 to the end, handing every event to a handler. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 2)
    @Measurement(iterations = 5)
    @OperationsPerInvocation(EVENTS)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long catchUpSubscription(FullLog log, Blackhole bh) throws InterruptedException {
        Subscription subscription = Subscription.builder(EventSource.all(log.store)).batchSize(1000)
                .onRecorded(bh::consume).start();
        if (!subscription.awaitPosition(log.last, Duration.ofMinutes(5))) {
            throw new IllegalStateException("did not catch up: " + subscription);
        }
        subscription.stop();
        return subscription.position();
    }

    /** Baseline: the same pages of 1,000 read in a plain loop on this thread. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @Warmup(iterations = 2)
    @Measurement(iterations = 5)
    @OperationsPerInvocation(EVENTS)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long catchUpBaselineReadLoop(FullLog log, Blackhole bh) {
        long after = 0;
        List<RecordedEvent> page;
        while (!(page = log.store.readAll(after, 1000)).isEmpty()) {
            for (RecordedEvent event : page) {
                bh.consume(event);
            }
            after = page.get(page.size() - 1).position();
        }
        return after;
    }

    /** A caught-up subscription on a store that keeps growing. */
    @State(Scope.Benchmark)
    public static class Tail {
        EventStore store;
        Subscription subscription;
        final List<EventData> one = batch(1);

        @Setup(Level.Trial)
        public void start() {
            store = new InMemoryEventStore();
            subscription = Subscription.builder(EventSource.all(store)).pollInterval(Duration.ofSeconds(10))
                    .onRecorded(event -> { }).start();
        }

        @TearDown(Level.Trial)
        public void stop() {
            subscription.stop();
            store.close();
        }
    }

    /** From an append to the caught-up subscription's handler having run (the thread hand-off included). */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 3, time = 2)
    @Measurement(iterations = 5, time = 2)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long appendToHandler(Tail tail) {
        tail.store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited", BODY, Map.of())));
        long target = tail.store.lastPosition();
        while (tail.subscription.position() < target) {
            Thread.onSpinWait();
        }
        return target;
    }

    /**
     * Baseline: the append alone, on a store with no subscription (on {@link Tail}'s store each append would
     * also wake the subscription, and its thread would take a core from the appender's).
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 3, time = 2)
    @Measurement(iterations = 5, time = 2)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long appendOnlyBaseline(UnwatchedStore unwatched) {
        return unwatched.append("Account-1", EventData.of("Credited", BODY, Map.of()));
    }

    /**
     * A memory store with {@code idle} caught-up subscriptions, each on a category nobody appends to
     * (what a service with many read models or process managers has): made again each iteration, so
     * that the log does not outgrow the heap.
     */
    @State(Scope.Benchmark)
    public static class IdleCategories {
        @Param({"0", "100"})
        int idle;
        EventStore store;
        final List<Subscription> subscriptions = new ArrayList<>();

        @Setup(Level.Iteration)
        public void start() throws InterruptedException {
            store = new InMemoryEventStore();
            for (int i = 0; i < idle; i++) {
                subscriptions.add(Subscription.builder(EventSource.category(store, "Idle" + i))
                        .pollInterval(Duration.ofSeconds(10)).onRecorded(event -> { }).start());
            }
            Thread.sleep(200);  // let each read its empty category and wait
        }

        @TearDown(Level.Iteration)
        public void stop() {
            subscriptions.forEach(Subscription::stop);
            subscriptions.clear();
            store.close();
        }
    }

    /**
     * An append to another category beside {@code idle} subscriptions that it does not concern: with
     * {@code idle} 0 it is the baseline, and the ratio of the two is what the idle ones cost an append.
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @Warmup(iterations = 3, time = 1)
    @Measurement(iterations = 5, time = 1)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long appendBesideIdleSubscriptions(IdleCategories state) {
        state.store.append("Account-1", ExpectedVersion.ANY, List.of(EventData.of("Credited", BODY, Map.of())));
        return state.store.lastPosition();
    }
}
