package dev.flux.test;

import dev.flux.FluxException;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The promises of {@link SnapshotStore}, as a JUnit 5 suite every implementation runs unchanged: a
 * subclass supplies a fresh store, and a durable one says how to reopen it (without, the reopening
 * test is skipped):
 *
 * <pre>{@code
 * class MySnapshotStoreTest extends SnapshotStoreContract {
 *     protected SnapshotStore newSnapshotStore() { return new MySnapshotStore(); }
 * }
 * }</pre>
 *
 * A store checks stream ids with {@link dev.flux.StreamName#requireStreamId} (null, blank and text
 * UTF-8 cannot hold are refused). The store is closed after each test.
 */
public abstract class SnapshotStoreContract {
    /** The snapshot store under test; a fresh one for every test. */
    protected SnapshotStore snapshots;

    /** A new, empty snapshot store. */
    protected abstract SnapshotStore newSnapshotStore() throws Exception;

    /** Closes {@code current} and opens the same snapshots again. Durable stores override it with {@link #isDurable()}. */
    protected SnapshotStore reopen(SnapshotStore current) throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " declares a durable snapshot store"
                + " (isDurable() returns true) but does not override reopen(SnapshotStore): override it to close the"
                + " store it is given and open the same snapshots again");
    }

    /** Whether saved snapshots survive {@link #reopen}. */
    protected boolean isDurable() {
        return false;
    }

    @BeforeEach
    void openSnapshots() throws Exception {
        snapshots = newSnapshotStore();
    }

    @AfterEach
    void closeSnapshots() {
        if (snapshots != null) {
            snapshots.close();
        }
    }

    /** A snapshot with a time a store can keep exactly (milliseconds). */
    protected static Snapshot snapshot(String streamId, long version, String state) {
        return new Snapshot(streamId, version, "test.Aggregate#0123", state.getBytes(StandardCharsets.UTF_8),
                Instant.now().truncatedTo(ChronoUnit.MILLIS));
    }

    @Test
    void aSnapshotTooLargeForTheStoreIsKeptWholeOrRefusedNamingItsStreamAndTheOneHeldStays() {
        snapshots.save(snapshot("Huge-1", 1, "{}"));
        Snapshot large = new Snapshot("Huge-1", 2, "test.Aggregate#0123", new byte[17 << 20],
                Instant.now().truncatedTo(ChronoUnit.MILLIS));

        try {
            snapshots.save(large);
            assertArrayEquals(large.data(), snapshots.load("Huge-1").orElseThrow().data());
        } catch (FluxException | IllegalArgumentException refused) {
            assertTrue(refused.getMessage().contains("Huge-1"), refused.getMessage());
            assertEquals(1, snapshots.load("Huge-1").orElseThrow().version(), "the snapshot held stays");
        }
    }

    @Test
    void aSnapshotTakenAtATimeTheStoreCannotHoldIsKeptExactlyOrRefusedNamingItsStreamAndTheOneHeldStays() {
        for (Instant edge : new Instant[] {Instant.MAX, Instant.MIN}) {
            snapshots.save(snapshot("Edge-1", 1, "{}"));
            Snapshot far = new Snapshot("Edge-1", 2, "test.Aggregate#0123", "{\"far\":true}".getBytes(StandardCharsets.UTF_8),
                    edge);

            try {
                snapshots.save(far);
                assertEquals(edge, snapshots.load("Edge-1").orElseThrow().takenAt(), "kept, then exactly");
            } catch (IllegalArgumentException refused) {
                assertTrue(refused.getMessage().contains("Edge-1"), "the refusal names the stream: " + refused.getMessage());
                assertEquals(1, snapshots.load("Edge-1").orElseThrow().version(), "refused, nothing was written");
            }
            snapshots.delete("Edge-1");
        }
    }

    @Test
    void aStreamWithoutSnapshotHasNone() {
        assertTrue(snapshots.load("Account-1").isEmpty());
    }

    @Test
    void aSnapshotLoadsBackAsSaved() {
        Snapshot saved = snapshot("Account-1", 41, "{\"balance\":100}");
        snapshots.save(saved);

        Snapshot loaded = snapshots.load("Account-1").orElseThrow();

        assertEquals(saved.streamId(), loaded.streamId());
        assertEquals(41, loaded.version());
        assertEquals(saved.type(), loaded.type());
        assertArrayEquals(saved.data(), loaded.data());
        assertEquals(saved.takenAt(), loaded.takenAt());
    }

    @Test
    void aSnapshotAtVersionZeroWithAnEmptyStateLoadsBack() {
        Snapshot saved = snapshot("Account-1", 0, "");
        snapshots.save(saved);

        assertEquals(saved, snapshots.load("Account-1").orElseThrow());
    }

    @Test
    void aNewerSnapshotReplacesAnOlderOneAndNeverTheOtherWayRound() {
        snapshots.save(snapshot("Account-1", 10, "{\"v\":10}"));
        snapshots.save(snapshot("Account-1", 20, "{\"v\":20}"));
        snapshots.save(snapshot("Account-1", 15, "{\"v\":15}"));

        assertEquals(20, snapshots.load("Account-1").orElseThrow().version());
    }

    @Test
    void aSnapshotOfTheSameVersionReplacesTheOneHeld() {
        snapshots.save(snapshot("Account-1", 5, "{\"taken\":1}"));
        snapshots.save(snapshot("Account-1", 5, "{\"taken\":2}"));

        assertEquals("{\"taken\":2}", new String(snapshots.load("Account-1").orElseThrow().data(), StandardCharsets.UTF_8));
    }

    @Test
    void afterADeleteAnOlderSnapshotIsKeptAgain() {
        snapshots.save(snapshot("Account-1", 9, "{}"));
        snapshots.delete("Account-1");

        snapshots.save(snapshot("Account-1", 2, "{\"v\":2}"));

        assertEquals(2, snapshots.load("Account-1").orElseThrow().version(), "a delete forgets the version held too");
    }

    @Test
    void streamsAreKeptApartAndDeleteForgetsOne() {
        snapshots.save(snapshot("Account-1", 1, "{}"));
        snapshots.save(snapshot("Account-2", 2, "{}"));

        snapshots.delete("Account-1");
        snapshots.delete("Account-never");

        assertTrue(snapshots.load("Account-1").isEmpty());
        assertEquals(2, snapshots.load("Account-2").orElseThrow().version());
    }

    @Test
    void streamIdsDifferingOnlyInCaseOrUnicodeNormalizationHaveSnapshotsOfTheirOwn() {
        List<String> streamIds = List.of("Account-1", "account-1", "ACCOUNT-1", "Account-\u0130", "Account-i",
                "Caf\u00e9-1", "Cafe\u0301-1");      // the accented e as one code point (NFC), then as e and a combining accent (NFD)
        for (int i = 0; i < streamIds.size(); i++) {
            snapshots.save(snapshot(streamIds.get(i), i, "{\"i\":" + i + "}"));
        }

        for (int i = 0; i < streamIds.size(); i++) {
            String streamId = streamIds.get(i);
            Snapshot loaded = snapshots.load(streamId).orElseThrow(() -> new AssertionError("no snapshot of " + streamId));
            assertEquals(streamId, loaded.streamId());
            assertEquals(i, loaded.version(), streamId);
        }
        snapshots.delete("account-1");
        assertTrue(snapshots.load("account-1").isEmpty());
        assertEquals(0, snapshots.load("Account-1").orElseThrow().version(), "a delete forgets that stream only");
    }

    @Test
    void concurrentSnapshotsOfOneStreamLeaveTheNewest() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> savers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int offset = t;
                savers.add(pool.submit(() -> {
                    for (int v = offset; v < 200; v += 8) {
                        snapshots.save(snapshot("Account-1", v, "{\"v\":" + v + "}"));
                    }
                }));
            }
            for (Future<?> saver : savers) {
                saver.get();
            }
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
        Snapshot latest = snapshots.load("Account-1").orElseThrow();
        assertEquals(199, latest.version());
        assertEquals("{\"v\":199}", new String(latest.data(), StandardCharsets.UTF_8));
    }

    @Test
    void racingFirstSnapshotsOfAStreamLeaveTheNewest() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<String> lost = new ArrayList<>();
        try {
            for (int round = 0; round < 100; round++) {
                String streamId = "Account-" + round;
                CyclicBarrier start = new CyclicBarrier(8);
                List<Future<?>> savers = new ArrayList<>();
                for (int version = 0; version < 8; version++) {
                    Snapshot mine = snapshot(streamId, version, "{\"v\":" + version + "}");
                    savers.add(pool.submit(() -> {
                        start.await();
                        snapshots.save(mine);
                        return null;
                    }));
                }
                for (Future<?> saver : savers) {
                    saver.get();
                }
                long held = snapshots.load(streamId).orElseThrow().version();
                if (held != 7) {
                    lost.add(streamId + " holds version " + held);
                }
            }
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
        assertEquals(List.of(), lost, "rounds where the newest snapshot lost the race");
    }

    @Test
    void callsFromAThreadWhoseInterruptFlagIsSetAnswerAndLeaveTheFlagSet() {
        Snapshot saved = snapshot("Account-1", 4, "{\"balance\":4}");
        Map<String, Callable<Object>> calls = new LinkedHashMap<>();
        calls.put("save", () -> {
            snapshots.save(saved);
            return "saved";
        });
        calls.put("load", () -> snapshots.load("Account-1"));
        calls.put("delete", () -> {
            snapshots.delete("Account-1");
            return "deleted";
        });
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("save", "saved");
        expected.put("load", Optional.of(saved));
        expected.put("delete", "deleted");

        Map<String, Object> answered = InterruptedCalls.answers(calls);

        assertEquals(expected, answered, "a call from a thread whose interrupt flag is set (a task an executor's"
                + " shutdownNow reached, a cancelled load) does its work as it would without, and leaves the flag set"
                + " for the caller to act on");
        assertTrue(snapshots.load("Account-1").isEmpty());
    }

    @Test
    void badArgumentsAreRefused() {
        assertRefused("snapshots.load(null)", () -> snapshots.load(null));
        assertRefused("snapshots.load(\" \")", () -> snapshots.load(" "));
        assertRefused("snapshots.save(null)", () -> snapshots.save(null));
        assertRefused("snapshots.delete(\"\")", () -> snapshots.delete(""));
        assertRefused("snapshots.load(\"Account-\\uD800\")", () -> snapshots.load("Account-\uD800"));
        assertRefused("snapshots.delete(\"Account-\\uDC00\")", () -> snapshots.delete("Account-\uDC00"));
    }

    /**
     * Asserts that {@code call} is refused with an {@link IllegalArgumentException}, the message naming
     * the call and the helper a store checks its arguments with.
     */
    private static void assertRefused(String call, Executable executable) {
        assertThrows(IllegalArgumentException.class, executable, call + " must be refused with an"
                + " IllegalArgumentException naming the bad argument: check stream ids with StreamName.requireStreamId"
                + " (which refuses null, blank and text UTF-8 cannot hold), as the built-in stores do");
    }

    @Test
    void snapshotsSurviveAReopen() throws Exception {
        assumeTrue(isDurable(), "this snapshot store is not durable");
        snapshots.save(snapshot("Account-1", 7, "{\"balance\":3}"));

        snapshots = reopen(snapshots);

        Optional<Snapshot> loaded = snapshots.load("Account-1");
        assertEquals(7, loaded.orElseThrow().version());
        assertEquals("{\"balance\":3}", new String(loaded.get().data(), StandardCharsets.UTF_8));
    }
}
