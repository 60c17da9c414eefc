package dev.flux.benchmarks.core;

import com.fasterxml.jackson.databind.ObjectReader;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
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

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Rehydrating an aggregate of 1,000 and of 100,000 events: {@code repository.load(id)} from the memory
 * store against Jackson deserializing the same bytes (same mapper settings, a cached reader) and
 * calling the handler directly. Scores are events per second (one operation = one event). Targets:
 * flux at least 1/1.3 of the baseline, and at least 1,000,000 events/s.
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class RehydrateBenchmark {
    private static final int SMALL = 1_000;
    private static final int LARGE = 100_000;

    private EventStore store;
    private Repository<Account> repository;
    private ObjectReader reader;
    private List<byte[]> smallBytes;
    private List<byte[]> largeBytes;

    /** Builds the store or inputs both sides use. */
    @Setup
    public void setUp() {
        store = new InMemoryEventStore();
        JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Account.Deposited.class));
        repository = Repository.builder(Account.class, store).serializer(serializer).build();
        fill(serializer, "Account-small", SMALL);
        fill(serializer, "Account-large", LARGE);
        reader = JacksonEventSerializer.defaultObjectMapper().readerFor(Account.Deposited.class);
        smallBytes = bytesOf("Account-small");
        largeBytes = bytesOf("Account-large");
    }

    private void fill(JacksonEventSerializer serializer, String stream, int events) {
        List<EventData> batch = new ArrayList<>();
        for (int i = 0; i < events; i++) {
            batch.add(serializer.serialize(Account.deposit(i), Map.of()));
            if (batch.size() == 1_000 || i == events - 1) {
                store.append(stream, ExpectedVersion.ANY, batch);
                batch = new ArrayList<>();
            }
        }
    }

    /** The stored bodies, as the baseline's input. */
    private List<byte[]> bytesOf(String stream) {
        List<byte[]> bytes = new ArrayList<>();
        for (RecordedEvent e : store.readStream(stream, 0, Integer.MAX_VALUE)) {
            bytes.add(e.data());
        }
        return bytes;
    }

    /** Closes the store. */
    @TearDown
    public void tearDown() {
        store.close();
    }

    /** flux: load an aggregate of 1,000 events. */
    @Benchmark
    @OperationsPerInvocation(SMALL)
    public long load1k() {
        return check(repository.load("small"), SMALL).balance();
    }

    /** Baseline: deserialize 1,000 bodies and apply each through a direct handler call. */
    @Benchmark
    @OperationsPerInvocation(SMALL)
    public long baseline1k() throws IOException {
        return check(replay(smallBytes), SMALL).balance();
    }

    /** flux: load an aggregate of 100,000 events. */
    @Benchmark
    @OperationsPerInvocation(LARGE)
    public long load100k() {
        return check(repository.load("large"), LARGE).balance();
    }

    /** Baseline: deserialize 100,000 bodies and apply each through a direct handler call. */
    @Benchmark
    @OperationsPerInvocation(LARGE)
    public long baseline100k() throws IOException {
        return check(replay(largeBytes), LARGE).balance();
    }

    private Account replay(List<byte[]> bodies) throws IOException {
        Account account = new Account();
        for (byte[] body : bodies) {
            account.handleDeposited(reader.readValue(body));
        }
        return account;
    }

    private static Account check(Account account, int events) {
        if (account.deposits() != events) {
            throw new IllegalStateException("replayed " + account.deposits() + " events, expected " + events);
        }
        return account;
    }
}
