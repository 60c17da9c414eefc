package dev.flux.benchmarks.core;

import com.fasterxml.jackson.databind.ObjectWriter;
import dev.flux.ConcurrencyConflictException;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.Repository;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Saving one event on the memory store, serialization included, against Jackson serializing the same
 * event (same mapper settings) plus an append to a plain list in a {@link ConcurrentHashMap} with a
 * version check. Target: at most 1.5x.
 *
 * <ul>
 *   <li>{@code aggregateSave}: {@code account.update(event); account.save()} through a {@link Repository};
 *       its baseline {@code handlerJacksonMapAppend} also calls the handler directly.</li>
 *   <li>{@code serializeAppend}: {@code serializer.serialize} + {@code store.append} with an expected
 *       version; its baseline {@code jacksonMapAppend}.</li>
 * </ul>
 * Every 10,000 events each benchmark starts on an empty store (or map), so memory stays bounded; the
 * baselines do the same.
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class SaveBenchmark {
    private static final int EVENTS_PER_STORE = 10_000;
    private static final String STREAM = "Account-1";

    private Account.Deposited event;
    private JacksonEventSerializer serializer;
    private ObjectWriter writer;

    private EventStore store;
    private Repository<Account> repository;
    private Account account;
    private long version;

    private Map<String, List<byte[]>> map;
    private Account plainAccount;
    private int saved;

    /** Builds the store or inputs both sides use. */
    @Setup
    public void setUp() {
        event = Account.deposit(7);
        serializer = new JacksonEventSerializer(EventTypes.of(Account.Deposited.class));
        writer = JacksonEventSerializer.defaultObjectMapper().writerFor(Account.Deposited.class);
        reset();
    }

    private void reset() {
        store = new InMemoryEventStore();
        repository = Repository.builder(Account.class, store).serializer(serializer).build();
        account = repository.load("1");
        version = -1;
        map = new ConcurrentHashMap<>();
        plainAccount = new Account();
        saved = 0;
    }

    /** flux: apply through the aggregate, then save it (serialize, append with a version check). */
    @Benchmark
    public long aggregateSave() {
        if (++saved == EVENTS_PER_STORE) {
            reset();
        }
        account.update(event);
        account.save();
        return account.version();
    }

    /** flux: serialize with the framework's serializer and append to the memory store. */
    @Benchmark
    public long serializeAppend() {
        if (++saved == EVENTS_PER_STORE) {
            reset();
        }
        EventData data = serializer.serialize(event, Map.of());
        version = store.append(STREAM, version, List.of(data));
        return version;
    }

    /** Baseline: Jackson, then an append to a list in a map, checking the expected version. */
    @Benchmark
    public long jacksonMapAppend() throws Exception {
        if (++saved == EVENTS_PER_STORE) {
            reset();
        }
        byte[] bytes = writer.writeValueAsBytes(event);
        version = appendToMap(bytes, version);
        return version;
    }

    /** Baseline of {@code aggregateSave}: the handler called directly, Jackson, the map append. */
    @Benchmark
    public long handlerJacksonMapAppend() throws Exception {
        if (++saved == EVENTS_PER_STORE) {
            reset();
        }
        plainAccount.handleDeposited(event);
        byte[] bytes = writer.writeValueAsBytes(event);
        version = appendToMap(bytes, version);
        return version;
    }

    private long appendToMap(byte[] bytes, long expected) {
        List<byte[]> stream = map.computeIfAbsent(STREAM, s -> new ArrayList<>());
        synchronized (stream) {
            long actual = stream.size() - 1;
            if (actual != expected) {
                throw new ConcurrencyConflictException(STREAM, expected, actual);
            }
            stream.add(bytes);
            return actual + 1;
        }
    }
}
