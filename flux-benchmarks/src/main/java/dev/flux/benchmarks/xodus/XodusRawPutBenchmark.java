package dev.flux.benchmarks.xodus;

import dev.flux.benchmarks.Directories;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentConfig;
import jetbrains.exodus.env.Environments;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.StoreConfig;
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

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The baseline for {@link XodusAppendBenchmark}: plain Xodus, one put of a 200-byte value per
 * transaction into a Patricia store, durable and not, from one thread and from sixteen (whose
 * exclusive transactions queue, each with its own sync: no group commit).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class XodusRawPutBenchmark {
    @Param({"true", "false"})
    public boolean durable;

    private Path directory;
    private Environment environment;
    private Store store;
    private final AtomicLong keys = new AtomicLong();
    private final ArrayByteIterable value = new ArrayByteIterable(new byte[200]);

    @Setup(Level.Trial)
    public void open() {
        directory = Directories.create("flux-xodus-raw");
        environment = Environments.newInstance(directory.toFile(), new EnvironmentConfig()
                .setLogDurableWrite(durable)
                .setMemoryUsage(64L << 20)
                .setLogCacheShared(false)
                .setManagementEnabled(false));
        store = environment.computeInTransaction(txn ->
                environment.openStore("puts", StoreConfig.WITHOUT_DUPLICATES_WITH_PREFIXING, txn));
    }

    @TearDown(Level.Trial)
    public void close() {
        try {
            environment.close();
        } finally {
            Directories.delete(directory);
        }
    }

    @Benchmark
    @Threads(1)
    public void onePutter() {
        put();
    }

    @Benchmark
    @Threads(16)
    public void sixteenPutters() {
        put();
    }

    private void put() {
        byte[] key = new byte[8];
        long n = keys.incrementAndGet();
        for (int i = 7; i >= 0; i--) {
            key[i] = (byte) n;
            n >>>= 8;
        }
        environment.executeInExclusiveTransaction(txn -> store.put(txn, new ArrayByteIterable(key), value));
    }
}
