package dev.flux.memory;

import dev.flux.EventReader;
import dev.flux.RecordedEvent;
import dev.flux.subscription.EventSource;

import java.util.List;
import java.util.function.UnaryOperator;

/** A store's whole log as a source whose reads a test makes: a source with a fault of its own. */
final class ReadThroughSource implements EventSource {
    /** One read of the source, given the store's own log to read from. */
    interface Read {
        List<RecordedEvent> read(EventSource real, long after, int maxCount);
    }

    private final EventSource real;
    private final Read read;
    private final UnaryOperator<Runnable> onAppend;
    private final String name;

    /**
     * @param onAppend how it tells of appends; the interface's default (never) when null
     * @param name     what it is called in the subscription's log lines and messages
     */
    ReadThroughSource(EventReader store, Read read, UnaryOperator<Runnable> onAppend, String name) {
        this.real = EventSource.all(store);
        this.read = read;
        this.onAppend = onAppend;
        this.name = name;
    }

    @Override
    public List<RecordedEvent> read(long after, int maxCount) {
        return read.read(real, after, maxCount);
    }

    @Override
    public long cursorOf(RecordedEvent event) {
        return real.cursorOf(event);
    }

    @Override
    public long end() {
        return real.end();
    }

    @Override
    public Runnable onAppend(Runnable listener) {
        return onAppend == null ? EventSource.super.onAppend(listener) : onAppend.apply(listener);
    }

    @Override
    public String toString() {
        return name;
    }
}
