package dev.flux.benchmarks.xodus;

import dev.flux.EventData;
import dev.flux.Metadata;
import dev.flux.benchmarks.Directories;
import dev.flux.xodus.XodusEventStore;
import dev.flux.xodus.XodusOptions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link XodusEventStore#append} throughput in saves per second: durable and not, one writer and
 * sixteen, one and ten events per save. Each writer thread appends to its own stream at the exact
 * expected version, as an aggregate's {@code save()} does. Compare with {@link XodusRawPutBenchmark}
 * and {@link FileChannelForceBenchmark} from the same run: the group commit lets sixteen writers share
 * each sync, so their total should be many times the single writer's.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class XodusAppendBenchmark {
    private static final byte[] BODY = ("{\"accountId\":\"5f1d7c2e-8a4b-4c3d-9e2f-1a2b3c4d5e6f\",\"amount\":12500,"
            + "\"currency\":\"EUR\",\"reference\":\"invoice 2024-0042\",\"note\":\"monthly subscription\"}")
            .getBytes(StandardCharsets.UTF_8);

    @Param({"true", "false"})
    public boolean durable;

    @Param({"1", "10"})
    public int eventsPerSave;

    XodusEventStore store;
    private Path directory;
    private final AtomicInteger writers = new AtomicInteger();

    @Setup(Level.Trial)
    public void open() {
        directory = Directories.create("flux-xodus-bench");
        store = new XodusEventStore(directory, XodusOptions.builder().durableWrites(durable).build());
    }

    @TearDown(Level.Trial)
    public void close() {
        try {
            store.close();
        } finally {
            Directories.delete(directory);
        }
    }

    /** One writer thread's stream and the version it is at. */
    @State(Scope.Thread)
    public static class Writer {
        String streamId;
        long version = -1;
        Map<String, String> metadata;

        @Setup(Level.Trial)
        public void name(XodusAppendBenchmark benchmark) {
            streamId = "Account-" + benchmark.writers.incrementAndGet();
            metadata = Metadata.causedBy(UUID.randomUUID(), UUID.randomUUID());
        }
    }

    @Benchmark
    @Threads(1)
    public long oneWriter(Writer writer) {
        return save(writer);
    }

    @Benchmark
    @Threads(16)
    public long sixteenWriters(Writer writer) {
        return save(writer);
    }

    private long save(Writer writer) {
        List<EventData> events = new ArrayList<>(eventsPerSave);
        for (int i = 0; i < eventsPerSave; i++) {
            events.add(EventData.of("AccountCredited", BODY, writer.metadata));
        }
        writer.version = store.append(writer.streamId, writer.version, events);
        return writer.version;
    }
}
