package dev.flux.mongo;

import dev.flux.RecordedEvent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The events of one read, full at {@code maxCount} events or {@link MongoEventStore#PAGE_BYTES} bytes of
 * them, so that a read of big events holds a few, not {@code maxCount} times their size.
 */
final class Page {
    /** About what an event takes besides its data, type and metadata (ids, numbers, time). */
    private static final int EVENT_BYTES = 64;

    final List<RecordedEvent> events;
    private final int maxCount;
    private long bytes;

    Page(int maxCount) {
        this.maxCount = maxCount;
        this.events = new ArrayList<>(Math.min(maxCount, 256));
    }

    void add(RecordedEvent event) {
        events.add(event);
        long size = EVENT_BYTES + event.dataLength() + event.type().length();
        for (Map.Entry<String, String> entry : event.metadata().entrySet()) {
            size += entry.getKey().length() + entry.getValue().length();
        }
        bytes += size;
    }

    boolean isFull() {
        return events.size() >= maxCount || bytes >= MongoEventStore.PAGE_BYTES;
    }

    /** How many more events it takes. */
    int room() {
        return maxCount - events.size();
    }
}
