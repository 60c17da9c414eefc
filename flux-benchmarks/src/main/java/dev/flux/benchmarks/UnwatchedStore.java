package dev.flux.benchmarks;

import dev.flux.EventStore;
import dev.flux.memory.InMemoryEventStore;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A memory store nobody follows (no subscription, no feed), for the baselines that time an append alone:
 * on a followed store each append also wakes its follower, whose thread takes a core from the appender's.
 */
@State(Scope.Benchmark)
public class UnwatchedStore {
    private EventStore store;

    /** Opens the store. */
    @Setup(Level.Trial)
    public void open() {
        store = new InMemoryEventStore();
    }

    /** Closes it. */
    @TearDown(Level.Trial)
    public void close() {
        store.close();
    }

    /** The store. */
    public EventStore store() {
        return store;
    }
}
