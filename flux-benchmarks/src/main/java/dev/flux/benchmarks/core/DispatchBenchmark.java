package dev.flux.benchmarks.core;

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
import java.util.concurrent.TimeUnit;

/**
 * Dispatch: {@code aggregate.update(event)} (find the handler, apply the event, buffer it for
 * {@code save()}) against calling the handler method directly, and against the direct call plus the
 * buffering a hand-written aggregate would do. Target: {@code update} at most 2x {@code directHandler}.
 *
 * <p>Every 1,024 events each benchmark starts on a new aggregate (so that {@code update}'s buffer does
 * not grow without bound); the baselines do the same, so that cost is on both sides.
 */
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class DispatchBenchmark {
    private static final int EVENTS_PER_AGGREGATE = 1_024;

    private Account.Deposited event;
    private Account account;
    private List<Object> buffer;
    private int applied;

    /** Builds the store or inputs both sides use. */
    @Setup
    public void setUp() {
        event = Account.deposit(7);
        account = new Account();
        buffer = new ArrayList<>();
    }

    /** flux: handler found per event class, applied, event buffered. */
    @Benchmark
    public long update() {
        if (++applied == EVENTS_PER_AGGREGATE) {
            account = new Account();
            applied = 0;
        }
        account.update(event);
        return account.balance();
    }

    /** Baseline: the handler method called directly. */
    @Benchmark
    public long directHandler() {
        if (++applied == EVENTS_PER_AGGREGATE) {
            account = new Account();
            applied = 0;
        }
        account.handleDeposited(event);
        return account.balance();
    }

    /** Baseline: the handler called directly, and the event kept in a list for saving. */
    @Benchmark
    public long directHandlerAndBuffer() {
        if (++applied == EVENTS_PER_AGGREGATE) {
            account = new Account();
            buffer = new ArrayList<>();
            applied = 0;
        }
        account.handleDeposited(event);
        buffer.add(event);
        return account.balance();
    }
}
