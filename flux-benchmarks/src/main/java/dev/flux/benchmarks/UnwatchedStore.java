package dev.flux.benchmarks;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.memory.InMemoryEventStore;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.List;

/**
 * A memory store nobody follows (no subscription, no feed), for the baselines that time an append alone:
 * on a followed store each append also wakes its follower, whose thread takes a core from the appender's.
 * Every 10,000 events it starts on a new store, as {@code SaveBenchmark} does, so that the time is the
 * append's and not the garbage collector's, copying a log that grows for the whole run.
 */
@State(Scope.Benchmark)
public class UnwatchedStore {
    private static final int EVENTS_PER_STORE = 10_000;

    private EventStore store;
    private int appended;

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

    /** Appends {@code event} to stream {@code streamId}, at any version, and returns the store's last position. */
    public long append(String streamId, EventData event) {
        if (++appended == EVENTS_PER_STORE) {
            store.close();
            store = new InMemoryEventStore();
            appended = 0;
        }
        store.append(streamId, ExpectedVersion.ANY, List.of(event));
        return store.lastPosition();
    }
}
