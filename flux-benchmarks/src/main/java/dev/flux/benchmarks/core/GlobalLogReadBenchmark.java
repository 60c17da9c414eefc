package dev.flux.benchmarks.core;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Reading the whole global log of the memory store (100,000 events in 100 streams) in pages of 1,000
 * against iterating a {@link List} holding the same events. Each event's position and type are read
 * on both sides. Scores are events per second (one operation = one event). Target: at most 1.5x
 * the baseline's time.
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class GlobalLogReadBenchmark {
    private static final int EVENTS = 100_000;
    private static final int PAGE = 1_000;

    private EventStore store;
    private List<RecordedEvent> list;

    /** Builds the store or inputs both sides use. */
    @Setup
    public void setUp() {
        store = new InMemoryEventStore();
        JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Account.Deposited.class));
        for (int i = 0; i < EVENTS; i += 10) {
            List<EventData> batch = new ArrayList<>();
            for (int j = i; j < i + 10; j++) {
                batch.add(serializer.serialize(Account.deposit(j), Map.of()));
            }
            store.append("Account-" + (i / 10 % 100), ExpectedVersion.ANY, batch);
        }
        list = new ArrayList<>(store.readAll(0, Integer.MAX_VALUE));
        if (list.size() != EVENTS) {
            throw new IllegalStateException("the log holds " + list.size() + " events, expected " + EVENTS);
        }
    }

    /** Closes the store. */
    @TearDown
    public void tearDown() {
        store.close();
    }

    /** flux: {@code readAll} in pages of 1,000 until an empty page. */
    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public long readAllInPages(Blackhole bh) {
        long after = 0;
        long read = 0;
        while (true) {
            List<RecordedEvent> page = store.readAll(after, PAGE);
            if (page.isEmpty()) {
                break;
            }
            for (RecordedEvent event : page) {
                bh.consume(event.type());
                after = event.position();
                read++;
            }
        }
        check(read);
        return after;
    }

    /** Baseline: iterate the same events in a list. */
    @Benchmark
    @OperationsPerInvocation(EVENTS)
    public long iterateList(Blackhole bh) {
        long after = 0;
        long read = 0;
        for (RecordedEvent event : list) {
            bh.consume(event.type());
            after = event.position();
            read++;
        }
        check(read);
        return after;
    }

    private static void check(long read) {
        if (read != EVENTS) {
            throw new IllegalStateException("read " + read + " events, expected " + EVENTS);
        }
    }
}
