package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Kills a process that is appending (SIGKILL, at random moments) and checks what it left: every save
 * it acknowledged is there, no save is there in part, versions and positions have no gaps, and
 * appending carries on.
 */
class XodusCrashTest {
    private static final int ROUNDS = 6;

    @TempDir
    Path directory;
    @TempDir
    Path logs;

    /** A save a writer acknowledged: {@code ACK <save> <stream> <last version> <events>} (see {@link CrashingWriter}). */
    record Ack(long save, String streamId, long lastVersion, int size) {
        static Ack parse(String line) {
            String[] f = line.split(" ");
            return new Ack(Long.parseLong(f[1]), f[2], Long.parseLong(f[3]), Integer.parseInt(f[4]));
        }
    }

    @Test
    void everyAcknowledgedSaveSurvivesSigkillAndNoSaveIsEverHalfThere() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        Map<Long, Ack> acknowledged = new HashMap<>();
        long nextSave = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int killAfterAcks = random.nextInt(200);
            String context = "round " + round + ", killed after " + killAfterAcks + " acks, seed " + seed;
            try (ChildJvm child = new ChildJvm(CrashingWriter.class, true, logs.resolve("stderr-" + round + ".txt"),
                    directory.toString(), Long.toString(nextSave))) {
                child.awaitLines("READY"::equals, 1, 60);
                child.awaitLines(line -> line.startsWith("ACK "), killAfterAcks, 60);
                for (String line : child.kill()) {
                    if (line.startsWith("ACK ")) {
                        Ack ack = Ack.parse(line);
                        acknowledged.put(ack.save(), ack);
                    }
                }
            }
            try (XodusEventStore store = new XodusEventStore(directory)) {
                nextSave = checkEverySave(store, acknowledged, context) + 1;
            }
        }

        try (XodusEventStore store = new XodusEventStore(directory)) {
            long head = store.streamVersion("crash-0x0");
            long last = store.lastPosition();
            List<EventData> more = List.of(EventData.of("After", bytes("{}"), Map.of()), EventData.of("After", bytes("{}"), Map.of()));

            assertEquals(head + 2, store.append("crash-0x0", head, more));

            List<RecordedEvent> tail = store.readAll(last, 10);
            assertEquals(List.of(last + 1, last + 2), tail.stream().map(RecordedEvent::position).toList());
            assertEquals(List.of(head + 1, head + 2), tail.stream().map(RecordedEvent::version).toList());
        }
    }

    /**
     * Checks the store against the acknowledged saves (each there, none in part, versions and positions without
     * gaps); returns the highest save number in it.
     */
    static long checkEverySave(XodusEventStore store, Map<Long, Ack> acknowledged, String context) {
        List<RecordedEvent> log = new ArrayList<>();
        for (List<RecordedEvent> page; !(page = store.readAll(log.size(), 500)).isEmpty(); ) {
            log.addAll(page);
        }
        Map<Long, List<RecordedEvent>> saves = new TreeMap<>();
        Map<String, Long> versions = new HashMap<>();
        for (int i = 0; i < log.size(); i++) {
            RecordedEvent event = log.get(i);
            assertEquals(i + 1, event.position(), "positions have no gaps, " + context);
            long expected = versions.merge(event.streamId(), 0L, (v, zero) -> v + 1);
            assertEquals(expected, event.version(), "versions of " + event.streamId() + " have no gaps, " + context);
            saves.computeIfAbsent(CrashingWriter.saveOf(event), s -> new ArrayList<>()).add(event);
        }
        for (Map.Entry<Long, List<RecordedEvent>> save : saves.entrySet()) {
            List<RecordedEvent> events = save.getValue();
            int size = Integer.parseInt(events.get(0).metadata().get("size"));
            assertEquals(size, events.size(), "save " + save.getKey() + " is whole, " + context);
            for (int i = 0; i < size; i++) {
                assertEquals(Integer.toString(i), events.get(i).metadata().get("index"), "save " + save.getKey() + ", " + context);
                assertEquals(events.get(0).streamId(), events.get(i).streamId());
                assertEquals(events.get(0).version() + i, events.get(i).version());
                assertEquals(events.get(0).position() + i, events.get(i).position(), "a save is contiguous in the log");
            }
        }
        for (Ack ack : acknowledged.values()) {
            List<RecordedEvent> events = saves.get(ack.save());
            assertNotNull(events, "acknowledged save " + ack + " is there, " + context);
            assertEquals(ack.streamId(), events.get(0).streamId(), context);
            assertEquals(ack.size(), events.size(), context);
            assertEquals(ack.lastVersion(), events.get(events.size() - 1).version(), context);
        }
        for (Map.Entry<String, Long> stream : versions.entrySet()) {
            assertEquals(stream.getValue(), store.streamVersion(stream.getKey()), "the head of " + stream.getKey() + ", " + context);
        }
        return saves.isEmpty() ? -1 : ((TreeMap<Long, List<RecordedEvent>>) saves).lastKey();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
