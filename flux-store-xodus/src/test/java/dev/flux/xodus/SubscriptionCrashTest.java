package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.feed.FeedServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A durable subscription in a child JVM, SIGKILLed at random moments and restarted, with its offset
 * in an {@link XodusOffsetStore}: it must receive every event at least once, skip none, and come
 * back at most {@code CHECKPOINT_EVERY} events before where it was killed. Once reading the store
 * itself, once following the feed of another process.
 */
@Timeout(240)
class SubscriptionCrashTest {
    private static final int EVENTS = 1_500;
    private static final int CHECKPOINT_EVERY = 40;

    @TempDir
    Path dir;

    private static void fill(XodusEventStore store, int count) {
        for (int i = 0; i < count; i += 5) {
            List<EventData> batch = new ArrayList<>();
            for (int j = 0; j < 5; j++) {
                batch.add(EventData.of("Credited", ("{\"n\":" + (i + j) + "}").getBytes(StandardCharsets.UTF_8), Map.of()));
            }
            store.append("Account-" + (i % 17), ExpectedVersion.ANY, batch);
        }
    }

    @Test
    void aKilledSubscriptionReadingTheStoreResumesFromItsStoredOffset() throws Exception {
        Path events = dir.resolve("events");
        long last;
        try (XodusEventStore store = new XodusEventStore(events)) {
            fill(store, EVENTS);
            last = store.lastPosition();
        }
        runKillAndRestartRounds(last, "local", events.toString());
    }

    @Test
    void aKilledConsumerOfTheFeedResumesFromItsStoredOffset() throws Exception {
        try (XodusEventStore store = new XodusEventStore(dir.resolve("events"));
             FeedServer feed = FeedServer.builder(store).start()) {
            fill(store, EVENTS);
            runKillAndRestartRounds(store.lastPosition(), "feed", feed.uri().toString());
        }
    }

    private void runKillAndRestartRounds(long last, String mode, String source) throws Exception {
        Random random = new Random(42);
        TreeSet<Long> handled = new TreeSet<>();
        long lastHandledBefore = 0;
        int rounds = 0;
        while (true) {
            rounds++;
            Path stderr = dir.resolve("child-" + rounds + ".err");
            try (ChildJvm child = new ChildJvm(SubscribingChild.class, true, stderr, mode, source,
                    dir.resolve("offsets").toString(), Integer.toString(CHECKPOINT_EVERY), Long.toString(last))) {
                boolean finalRound = rounds > 5;
                List<String> lines;
                if (finalRound) {
                    assertEquals(0, child.waitFor(120), "the last run ends by itself");
                    lines = child.kill();
                } else {
                    child.awaitLines(line -> line.startsWith("handled "), 60 + random.nextInt(200), 60);
                    lines = child.kill();
                }
                List<Long> positions = new ArrayList<>();
                for (String line : lines) {
                    if (line.startsWith("handled ")) {
                        positions.add(Long.parseLong(line.substring(8)));
                    }
                }
                if (!positions.isEmpty()) {
                    long first = positions.get(0);
                    assertTrue(first <= lastHandledBefore + 1,
                            "round " + rounds + " started at " + first + " after " + lastHandledBefore + ": events were missed");
                    assertTrue(lastHandledBefore - first + 1 <= CHECKPOINT_EVERY,
                            "round " + rounds + " went back from " + lastHandledBefore + " to " + first
                                    + ": more duplicates than the checkpoint interval allows");
                    for (int i = 1; i < positions.size(); i++) {
                        assertEquals(positions.get(i - 1) + 1, (long) positions.get(i), "in order, none skipped, in round " + rounds);
                    }
                    handled.addAll(positions);
                    lastHandledBefore = positions.get(positions.size() - 1);
                }
                if (finalRound) {
                    assertTrue(lines.contains("caught-up " + last), "the last run reached the end: " + lines.subList(
                            Math.max(0, lines.size() - 3), lines.size()));
                    break;
                }
            }
        }
        assertEquals(last, handled.size(), "every event at least once");
        assertEquals(1L, handled.first());
        assertEquals(last, (long) handled.last());
    }
}
