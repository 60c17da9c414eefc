package dev.flux.mongo;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stream versions at which this process knows, for good, that a commit ends: its own appends that a
 * majority acknowledged, and commits it read at majority read concern. Neither can be rolled back,
 * so an append expecting exactly such a version may insert right after it without reading the stream
 * first (the unique {@code (stream, firstVersion)} index still refuses it if another writer got
 * there first). Holds the most recently used streams, up to a bound; guarded by its own monitor.
 */
final class StreamHeads {
    static final long UNKNOWN = Long.MIN_VALUE;
    private final Map<String, Long> heads;

    StreamHeads(int capacity) {
        this.heads = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The highest version known to end a commit of the stream, or {@link #UNKNOWN}. */
    synchronized long known(String streamId) {
        Long version = heads.get(streamId);
        return version == null ? UNKNOWN : version;
    }

    /** Records that a commit of the stream ends at {@code lastVersion}. */
    synchronized void remember(String streamId, long lastVersion) {
        heads.merge(streamId, lastVersion, Math::max);
    }
}
