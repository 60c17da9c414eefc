package dev.flux.mongo;

import dev.flux.RecordedEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two writer JVMs ({@link MongoWriterProcess}) append to one database while this JVM tails the
 * global log, as a subscription in a third process would.
 */
class MongoMultiProcessTest {
    private static final int APPENDS_PER_WRITER = 300;
    private final List<Process> writers = new ArrayList<>();
    private TestDatabase database;

    /** The server these tests run against. */
    protected MongoTestServer server() {
        return MongoTestServer.inProcess();
    }

    @AfterEach
    void stopWriters() {
        writers.forEach(Process::destroyForcibly);
        if (database != null) {
            database.close();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aTailingReaderSeesEveryEventOfTwoWriterProcessesOnceInPositionOrder() throws Exception {
        database = server().newDatabase();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (MongoEventStore store = new MongoEventStore(database.database())) {
            Set<UUID> acknowledged = ConcurrentHashMap.newKeySet();
            CountDownLatch ready = new CountDownLatch(2);
            List<Future<String>> outcomes = new ArrayList<>();
            for (String name : List.of("alpha", "beta")) {
                Process writer = start(name);
                outcomes.add(pool.submit(() -> collect(writer, acknowledged, ready)));
            }
            assertTrue(ready.await(60, TimeUnit.SECONDS), "both writer processes started");
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<List<RecordedEvent>> tail = pool.submit(() -> tail(store, writing));
            for (Process writer : writers) {
                OutputStream go = writer.getOutputStream();
                go.write('\n');
                go.flush();
            }

            List<String> done = new ArrayList<>();
            for (Future<String> outcome : outcomes) {
                done.add(outcome.get(90, TimeUnit.SECONDS));
            }
            for (Process writer : writers) {
                assertTrue(writer.waitFor(30, TimeUnit.SECONDS), "writer exited");
                assertEquals(0, writer.exitValue(), "writer exit code; its last line: " + done);
            }
            writing.set(false);
            List<RecordedEvent> seen = tail.get(60, TimeUnit.SECONDS);

            List<UUID> seenIds = seen.stream().map(RecordedEvent::eventId).toList();
            assertEquals(seenIds.size(), new HashSet<>(seenIds).size(), "no event was read twice");
            assertEquals(acknowledged, new HashSet<>(seenIds), "every acknowledged event was read, nothing else");
            for (int i = 0; i < seen.size(); i++) {
                assertEquals(i + 1, seen.get(i).position(), "positions are 1, 2, 3... with no gap");
            }
            List<RecordedEvent> all = new ArrayList<>();
            for (List<RecordedEvent> page = store.readAll(0, 1000); !page.isEmpty();
                 page = store.readAll(all.get(all.size() - 1).position(), 1000)) {
                all.addAll(page);
            }
            assertEquals(all, seen, "the tailing reader saw the log as it is");
            List<RecordedEvent> shared = store.readStream("shared-1", 0, Integer.MAX_VALUE);
            for (int v = 0; v < shared.size(); v++) {
                assertEquals(v, shared.get(v).version(), "the shared stream has gapless versions");
            }
            long switches = 0;
            for (int i = 1; i < seen.size(); i++) {
                if (!seen.get(i).metadata().equals(seen.get(i - 1).metadata())) {
                    switches++;
                }
            }
            System.out.println("multi-process run: " + seen.size() + " events, writers interleaved " + switches
                    + " times in the log, writers' last lines " + done);
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    private Process start(String name) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                MongoWriterProcess.class.getName(), server().connectionString(), database.database().getName(), name,
                Integer.toString(APPENDS_PER_WRITER))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        writers.add(process);
        return process;
    }

    /** Reads a writer's stdout: acknowledged ids into {@code acknowledged}; returns its last line. */
    private static String collect(Process writer, Set<UUID> acknowledged, CountDownLatch ready) throws IOException {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(writer.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            String last = "(nothing)";
            while ((line = lines.readLine()) != null) {
                last = line;
                if (line.equals("ready")) {
                    ready.countDown();
                } else if (line.startsWith("ok ")) {
                    for (String id : line.substring(3).split(" ")) {
                        acknowledged.add(UUID.fromString(id));
                    }
                }
            }
            return last;
        }
    }

    /** Polls the global log until writing has stopped and a last read finds nothing new. */
    private static List<RecordedEvent> tail(MongoEventStore store, AtomicBoolean writing) {
        List<RecordedEvent> seen = Collections.synchronizedList(new ArrayList<>());
        long after = 0;
        while (true) {
            boolean lastRound = !writing.get();
            List<RecordedEvent> page = store.readAll(after, 100);
            for (RecordedEvent event : page) {
                if (event.position() <= after) {
                    throw new AssertionError("the reader got position " + event.position() + " after " + after);
                }
                after = event.position();
                seen.add(event);
            }
            if (page.isEmpty()) {
                if (lastRound) {
                    return new ArrayList<>(seen);
                }
                LockSupport.parkNanos(1_000_000);
            }
        }
    }
}
