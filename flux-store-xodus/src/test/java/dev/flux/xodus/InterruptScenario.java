package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Eight threads append and two read more than the cache holds while another thread interrupts them
 * at random; then the store must still append and read, and hold every acknowledged event. Runs in
 * the test's JVM and, from {@link #main}, in a child JVM without {@code --add-opens}, where Xodus's
 * file channel is interruptible. Throws {@link AssertionError} when a promise breaks.
 */
final class InterruptScenario {
    static final int WRITERS = 8;
    static final int READERS = 2;
    private static final int BODY = 16 * 1024;

    private InterruptScenario() {
    }

    /** Child JVM entry: prints {@code OK <summary>} and exits 0, or prints the failure and exits 1. */
    public static void main(String[] args) {
        try {
            System.out.println("OK " + run(Path.of(args[0]), Duration.ofMillis(Long.parseLong(args[1]))));
            System.exit(0);
        } catch (Throwable e) {
            e.printStackTrace(System.out);
            System.exit(1);
        }
    }

    /** Runs the scenario in {@code directory}; a summary of what happened. */
    static String run(Path directory, Duration duration) throws Exception {
        XodusOptions options = XodusOptions.builder().cacheSize(1 << 20).build();
        Queue<UUID> acknowledged = new ConcurrentLinkedQueue<>();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger interruptsSeen = new AtomicInteger();
        AtomicInteger saves = new AtomicInteger();
        AtomicInteger pagesRead = new AtomicInteger();
        long bulkEnd;
        try (XodusEventStore store = new XodusEventStore(directory, options)) {
            for (int i = 0; i < 40; i++) {
                List<EventData> bulk = new ArrayList<>();
                for (int e = 0; e < 10; e++) {
                    bulk.add(EventData.of("Bulk", new byte[BODY], Map.of()));
                }
                store.append("bulk-" + i, ExpectedVersion.NO_STREAM, bulk);
            }
            bulkEnd = store.lastPosition();

            AtomicBoolean running = new AtomicBoolean(true);
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                String streamId = "interrupted-" + w;
                workers.add(new Thread(() -> {
                    long version = ExpectedVersion.NO_STREAM;
                    for (int i = 0; running.get(); i++) {
                        List<EventData> events = new ArrayList<>();
                        for (int e = 0; e <= i % 3; e++) {
                            events.add(EventData.of("Saved", ("{\"i\":" + i + "}").getBytes(), Map.of()));
                        }
                        try {
                            version = store.append(streamId, version, events);
                            events.forEach(event -> acknowledged.add(event.eventId()));
                            saves.incrementAndGet();
                        } catch (Throwable e) {
                            failures.add(e);
                            return;
                        }
                        if (Thread.interrupted()) {
                            interruptsSeen.incrementAndGet();
                        }
                    }
                }, "writer-" + w));
            }
            for (int r = 0; r < READERS; r++) {
                workers.add(new Thread(() -> {
                    while (running.get()) {
                        try {
                            long after = 0;
                            while (after < bulkEnd) {
                                List<RecordedEvent> page = store.readAll(after, 20);
                                if (page.isEmpty() || page.get(0).position() != after + 1) {
                                    throw new AssertionError("a read after " + after + " returned " + page.size()
                                            + " events starting at " + (page.isEmpty() ? "-" : page.get(0).position()));
                                }
                                after = page.get(page.size() - 1).position();
                                pagesRead.incrementAndGet();
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                            return;
                        }
                        if (Thread.interrupted()) {
                            interruptsSeen.incrementAndGet();
                        }
                    }
                }, "reader-" + r));
            }
            workers.forEach(Thread::start);
            Random random = new Random();
            long deadline = System.nanoTime() + duration.toNanos();
            int interrupts = 0;
            while (System.nanoTime() < deadline && failures.isEmpty()) {
                workers.get(random.nextInt(workers.size())).interrupt();
                interrupts++;
                TimeUnit.MICROSECONDS.sleep(random.nextInt(2_000));
            }
            running.set(false);
            for (Thread worker : workers) {
                worker.join(TimeUnit.SECONDS.toMillis(60));
                if (worker.isAlive()) {
                    throw new AssertionError(worker.getName() + " is stuck");
                }
            }
            if (!failures.isEmpty()) {
                AssertionError error = new AssertionError(failures.size() + " calls failed under interrupts; the first: "
                        + failures.peek(), failures.peek());
                failures.forEach(error::addSuppressed);
                throw error;
            }
            if (interruptsSeen.get() == 0 || saves.get() == 0) {
                throw new AssertionError("the scenario did not run: " + interrupts + " interrupts sent, " + interruptsSeen
                        + " seen, " + saves + " saves");
            }
            requireEverything(store, acknowledged, bulkEnd, "after the interrupts");
            long version = store.streamVersion("interrupted-0");
            if (store.append("interrupted-0", version, List.of(EventData.of("After", new byte[0], Map.of()))) != version + 1) {
                throw new AssertionError("an append after the interrupts did not land at version " + (version + 1));
            }
        }
        try (XodusEventStore store = new XodusEventStore(directory, options)) {
            requireEverything(store, acknowledged, bulkEnd, "after a reopen");
        }
        return saves + " saves, " + pagesRead + " pages read, " + interruptsSeen + " interrupts seen";
    }

    private static void requireEverything(XodusEventStore store, Queue<UUID> acknowledged, long bulkEnd, String when) {
        for (UUID id : acknowledged) {
            if (store.readEvent(id).isEmpty()) {
                throw new AssertionError("acknowledged event " + id + " is missing " + when);
            }
        }
        for (int w = 0; w < WRITERS; w++) {
            List<RecordedEvent> stream = new ArrayList<>();
            for (List<RecordedEvent> page; !(page = store.readStream("interrupted-" + w, stream.size(), 500)).isEmpty(); ) {
                stream.addAll(page);
            }
            for (int v = 0; v < stream.size(); v++) {
                if (stream.get(v).version() != v) {
                    throw new AssertionError("interrupted-" + w + " has a gap at version " + v + " " + when);
                }
            }
        }
        if (store.readAll(bulkEnd - 1, 1).size() != 1) {
            throw new AssertionError("the bulk events cannot be read " + when);
        }
    }
}
