package dev.flux.benchmarks.xodus;

import dev.flux.benchmarks.Directories;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * The disk's ceiling for durable commits, measured beside {@link XodusAppendBenchmark}: append 100
 * bytes to a file and {@code force(false)} ({@code fdatasync}) it, one thread.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class FileChannelForceBenchmark {
    private Path directory;
    private FileChannel channel;
    private final ByteBuffer record = ByteBuffer.allocateDirect(100);

    @Setup(Level.Trial)
    public void open() throws IOException {
        directory = Directories.create("flux-force");
        channel = FileChannel.open(directory.resolve("log"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            Directories.delete(directory);
        }
    }

    @Benchmark
    @Threads(1)
    public void appendAndForce() throws IOException {
        record.clear();
        channel.write(record);
        channel.force(false);
    }
}
