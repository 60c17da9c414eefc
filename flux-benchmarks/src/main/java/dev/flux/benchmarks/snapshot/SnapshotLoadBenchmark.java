package dev.flux.benchmarks.snapshot;

import dev.flux.Aggregate;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.Repository;
import dev.flux.benchmarks.Directories;
import dev.flux.memory.InMemoryEventStore;
import dev.flux.memory.InMemorySnapshotStore;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.snapshot.SnapshotPolicy;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.xodus.XodusEventStore;
import dev.flux.xodus.XodusOptions;
import dev.flux.xodus.XodusSnapshotStore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Loading a 100,000-event aggregate from the memory and Xodus stores with a snapshot (taken at the last event,
 * so nothing is left to replay beyond a 50-event tail) against replaying every event.
 *
 * <pre>java -jar flux-benchmarks/target/benchmarks.jar SnapshotLoadBenchmark</pre>
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class SnapshotLoadBenchmark {
    static final int EVENTS = 100_000;

    public record Deposited(long amount, String by) { }

    public static class Ledger extends Aggregate {
        private long balance;
        private final Map<String, Long> byDepositor = new TreeMap<>();

        void deposit(long amount, String by) {
            update(new Deposited(amount, by));
        }

        private void handleDeposited(Deposited e) {
            balance += e.amount();
            byDepositor.merge(e.by(), e.amount(), Long::sum);
        }
    }

    @Param({"memory", "xodus"})
    public String storeKind;

    EventStore store;
    XodusSnapshotStore xodusSnapshots;
    Path dir;
    Repository<Ledger> plain;
    Repository<Ledger> snapshotted;

    @Setup(Level.Trial)
    public void fill() {
        SnapshotStore snapshots;
        if (storeKind.equals("xodus")) {
            dir = Directories.create("flux-bench-snapshot");
            XodusOptions fast = XodusOptions.builder().durableWrites(false).build();
            store = new XodusEventStore(dir.resolve("events"), fast);
            xodusSnapshots = new XodusSnapshotStore(dir.resolve("snapshots"), fast);
            snapshots = xodusSnapshots;
        } else {
            store = new InMemoryEventStore();
            snapshots = new InMemorySnapshotStore();
        }
        JacksonEventSerializer serializer = new JacksonEventSerializer(EventTypes.of(Deposited.class));
        List<EventData> batch = new ArrayList<>();
        for (int i = 0; i < EVENTS - 50; i++) {
            batch.add(serializer.serialize(new Deposited(i % 7 + 1, "depositor-" + (i % 100)), Map.of()));
            if (batch.size() == 1000) {
                store.append("Ledger-1", ExpectedVersion.ANY, batch);
                batch = new ArrayList<>();
            }
        }
        store.append("Ledger-1", ExpectedVersion.ANY, batch);
        plain = Repository.builder(Ledger.class, store).serializer(serializer).build();
        snapshotted = Repository.builder(Ledger.class, store).serializer(serializer)
                .snapshots(snapshots, SnapshotPolicy.everyEvents(1_000)).build();
        Ledger ledger = snapshotted.load("1");
        ledger.deposit(1, "snapshot");
        ledger.save();                                          // takes the snapshot
        for (int i = 0; i < 49; i++) {
            plain.update("1", l -> l.deposit(1, "tail"));       // a tail the snapshot does not cover
        }
        // Without a snapshot loadFromSnapshot would be a full replay too, and the two would compare nothing.
        long snapshotVersion = snapshots.load("Ledger-1").map(snapshot -> snapshot.version()).orElse(-1L);
        if (snapshotVersion != EVENTS - 50) {
            throw new IllegalStateException("the snapshot of Ledger-1 is at version " + snapshotVersion + ", expected "
                    + (EVENTS - 50) + " (-1: none was taken; the repository logs why)");
        }
        if (plain.load("1").version() != EVENTS - 1 || snapshotted.load("1").version() != EVENTS - 1) {
            throw new IllegalStateException("Ledger-1 does not load at version " + (EVENTS - 1));
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        try {
            store.close();
            if (xodusSnapshots != null) {
                xodusSnapshots.close();
            }
        } finally {
            Directories.delete(dir);
        }
    }

    @Benchmark
    public long loadFromSnapshot() {
        return snapshotted.load("1").version();
    }

    @Benchmark
    public long loadByFullReplay() {
        return plain.load("1").version();
    }
}
