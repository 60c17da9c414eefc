package dev.flux.subscription;

import dev.flux.AppendListeners;
import dev.flux.EventReader;
import dev.flux.RecordedEvent;

import java.util.List;

/** A source over an in-process {@link EventReader}, woken by its appends. */
final class ReaderSource implements EventSource {
    enum Kind { ALL, CATEGORY, STREAM }

    private final EventReader reader;
    private final Kind kind;
    private final String name;

    ReaderSource(EventReader reader, Kind kind, String name) {
        if (reader == null) {
            throw new IllegalArgumentException("reader must not be null");
        }
        this.reader = reader;
        this.kind = kind;
        this.name = name;
    }

    @Override
    public List<RecordedEvent> read(long after, int maxCount) {
        return switch (kind) {
            case ALL -> reader.readAll(after, maxCount);
            case CATEGORY -> reader.readCategory(name, after, maxCount);
            case STREAM -> reader.readStream(name, after, maxCount);
        };
    }

    @Override
    public long cursorOf(RecordedEvent event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        return kind == Kind.STREAM ? event.version() + 1 : event.position();
    }

    @Override
    public long end() {
        return kind == Kind.STREAM ? reader.streamVersion(name) + 1 : reader.lastPosition();
    }

    @Override
    public Runnable onAppend(Runnable listener) {
        if (listener == null || kind == Kind.ALL) {
            return reader.onAppend(listener);
        }
        // Only appends to this stream or category wake the subscription: an idle one is not woken to read
        // nothing each time another stream is appended to.
        return reader.onAppend(new AppendListeners.StreamListener() {
            @Override
            public boolean wants(String streamId) {
                return kind == Kind.STREAM ? streamId.equals(name) : inCategory(streamId, name);
            }

            @Override
            public void run() {
                listener.run();
            }
        });
    }

    /** {@code StreamName.category(streamId).equals(category)} without the substring (categories hold no {@code -}). */
    static boolean inCategory(String streamId, String category) {
        int length = category.length();
        return streamId.startsWith(category) && (streamId.length() == length || streamId.charAt(length) == '-');
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ALL -> "the global log";
            case CATEGORY -> "category '" + name + "'";
            case STREAM -> "stream '" + name + "'";
        } + " of " + reader.getClass().getSimpleName();
    }
}
