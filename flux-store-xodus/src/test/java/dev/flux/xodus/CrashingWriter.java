package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.RecordedEvent;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The child process of {@link XodusCrashTest}: appends numbered saves of 1 to 5 events to several
 * streams from several threads, and prints {@code ACK <save> <stream> <last version> <events>} for
 * each save once {@code append} has returned, until it is killed.
 *
 * <p>Arguments: the store's directory, the number of the first save.
 */
public final class CrashingWriter {
    static final int THREADS = 4;
    static final int STREAMS_PER_THREAD = 3;

    private CrashingWriter() {
    }

    public static void main(String[] args) {
        Path directory = Path.of(args[0]);
        AtomicLong nextSave = new AtomicLong(Long.parseLong(args[1]));
        XodusEventStore store = new XodusEventStore(directory);
        System.out.println("READY");
        System.out.flush();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            new Thread(() -> {
                List<String> streams = new ArrayList<>();
                List<Long> versions = new ArrayList<>();
                for (int s = 0; s < STREAMS_PER_THREAD; s++) {
                    String streamId = "crash-" + thread + "x" + s;
                    streams.add(streamId);
                    versions.add(store.streamVersion(streamId));
                }
                for (int i = 0; ; i++) {
                    long save = nextSave.getAndIncrement();
                    int stream = i % STREAMS_PER_THREAD;
                    int size = 1 + (int) (save % 5);
                    long version = store.append(streams.get(stream), versions.get(stream), save(save, size, 0));
                    versions.set(stream, version);
                    synchronized (System.out) {
                        System.out.println("ACK " + save + " " + streams.get(stream) + " " + version + " " + size);
                        System.out.flush();
                    }
                }
            }, "crashing-writer-" + t).start();
        }
    }

    /**
     * The events of save number {@code save}: {@code size} of them, each naming the save, its size and its
     * index in it (see {@link #saveOf}), with {@code padding} more bytes of body each.
     */
    static List<EventData> save(long save, int size, int padding) {
        List<EventData> events = new ArrayList<>(size);
        for (int e = 0; e < size; e++) {
            byte[] body = ("{\"save\":" + save + ",\"index\":" + e + ",\"padding\":\"" + "x".repeat(padding) + "\"}")
                    .getBytes(StandardCharsets.UTF_8);
            events.add(EventData.of("Saved", body, Map.of("save", Long.toString(save), "size", Integer.toString(size),
                    "index", Integer.toString(e))));
        }
        return events;
    }

    /** The save number an event of a {@link CrashingWriter} belongs to. */
    static long saveOf(RecordedEvent event) {
        return Long.parseLong(event.metadata().get("save"));
    }
}
