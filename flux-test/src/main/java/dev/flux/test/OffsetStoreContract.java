package dev.flux.test;

import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The promises of {@link OffsetStore}, as a JUnit 5 suite every implementation runs unchanged: a
 * subclass supplies a fresh store, and a durable one says how to reopen it (without, the reopening
 * test is skipped); a store that processes share declares {@link #sharesClaims()}:
 *
 * <pre>{@code
 * class MyOffsetStoreTest extends OffsetStoreContract {
 *     protected OffsetStore newOffsetStore() { return new MyOffsetStore(); }
 * }
 * }</pre>
 *
 * Besides {@code load}, {@code save} and {@code delete}, every store overrides {@link OffsetStore#find}
 * (whose default takes a stored 0 for nothing stored) and checks its arguments with
 * {@link OffsetStore#requireValid} and {@link OffsetStore#requireClaim}. The store is closed after
 * each test.
 */
public abstract class OffsetStoreContract {
    /** The offset store under test; a fresh one for every test. */
    protected OffsetStore offsets;

    /** A new, empty offset store. */
    protected abstract OffsetStore newOffsetStore() throws Exception;

    /** Closes {@code current} and opens the same offsets again. Durable stores override it with {@link #isDurable()}. */
    protected OffsetStore reopen(OffsetStore current) throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " declares a durable offset store"
                + " (isDurable() returns true) but does not override reopen(OffsetStore): override it to close the store"
                + " it is given and open the same offsets again");
    }

    /** Whether saved offsets survive {@link #reopen}. */
    protected boolean isDurable() {
        return false;
    }

    /**
     * Whether the store keeps claims for processes that share it ({@link OffsetStore#claim}); false for
     * a store one process alone uses, whose claims always succeed.
     */
    protected boolean sharesClaims() {
        return false;
    }

    @BeforeEach
    void openOffsets() throws Exception {
        offsets = newOffsetStore();
    }

    @AfterEach
    void closeOffsets() {
        if (offsets != null) {
            offsets.close();
        }
    }

    @Test
    void aNameTooLargeForTheStoreIsKeptOrRefusedNamingIt() {
        String huge = "Huge-" + "x".repeat(17 << 20);

        try {
            offsets.save(huge, 3);
            assertEquals(3, offsets.load(huge));
        } catch (FluxException | IllegalArgumentException refused) {
            assertTrue(refused.getMessage().contains("Huge-x"), refused.getMessage());
        }
        offsets.save("after-the-huge-one", 4);
        assertEquals(4, offsets.load("after-the-huge-one"));
    }

    @Test
    void anUnknownNameStartsAtZero() {
        assertEquals(0, offsets.load("never-saved"));
    }

    @Test
    void aSavedPositionLoadsBackAndCanBeReplaced() {
        offsets.save("balances", 42);
        assertEquals(42, offsets.load("balances"));

        offsets.save("balances", 7);

        assertEquals(7, offsets.load("balances"), "a save replaces, also backwards (reset)");
    }

    @Test
    void everySaveReplacesTheLastWhateverItsOrderFromZeroToTheLargestPosition() {
        offsets.save("balances", 10);
        offsets.save("balances", 5);
        offsets.save("balances", 7);
        offsets.save("balances", 0);

        assertEquals(OptionalLong.of(0), offsets.find("balances"), "a reset to 0 is stored, not taken for nothing stored"
                + keepsDefaultFind());

        offsets.save("balances", Long.MAX_VALUE);
        assertEquals(Long.MAX_VALUE, offsets.load("balances"));
    }

    @Test
    void namesAreKeptApart() {
        offsets.save("a", 1);
        offsets.save("b", 2);

        assertEquals(1, offsets.load("a"));
        assertEquals(2, offsets.load("b"));
    }

    @Test
    void namesDifferingOnlyInCaseOrUnicodeNormalizationAreKeptApart() {
        List<String> names = List.of("balances", "Balances", "BALANCES", "balances-\u0130", "balances-i",
                "caf\u00e9", "cafe\u0301");        // the accented e as one code point (NFC), then as e and a combining accent (NFD)
        for (int i = 0; i < names.size(); i++) {
            offsets.save(names.get(i), 10L + i);
        }

        for (int i = 0; i < names.size(); i++) {
            assertEquals(10L + i, offsets.load(names.get(i)), names.get(i));
        }
        offsets.delete("Balances");
        assertEquals(OptionalLong.empty(), offsets.find("Balances"));
        assertEquals(10, offsets.load("balances"), "a delete forgets that name only");
    }

    @Test
    void manyNamesAreKeptApart() {
        for (int i = 0; i < 400; i++) {
            offsets.save("sub-" + i, 3L * i + 1);
        }

        for (int i = 0; i < 400; i++) {
            assertEquals(3L * i + 1, offsets.load("sub-" + i), "sub-" + i);
        }
    }

    @Test
    void deleteForgetsThePosition() {
        offsets.save("balances", 42);

        offsets.delete("balances");
        offsets.delete("never-saved");

        assertEquals(0, offsets.load("balances"));
    }

    @Test
    void findTellsAStoredZeroFromNothingStored() {
        assertTrue(offsets.find("never-saved").isEmpty());

        offsets.save("from-start", 0);
        offsets.save("later", 9);

        assertEquals(OptionalLong.of(0), offsets.find("from-start"),
                "a subscription that stored 0 must not be taken for a new one" + keepsDefaultFind());
        assertEquals(OptionalLong.of(9), offsets.find("later"));
        offsets.delete("later");
        assertTrue(offsets.find("later").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> offsets.find(" "));
    }

    @Test
    void badArgumentsAreRefused() {
        assertRefused("offsets.load(null)", () -> offsets.load(null));
        assertRefused("offsets.load(\" \")", () -> offsets.load(" "));
        assertRefused("offsets.save(null, 1)", () -> offsets.save(null, 1));
        assertRefused("offsets.save(\"a\", -1)", () -> offsets.save("a", -1));
        assertRefused("offsets.delete(\"\")", () -> offsets.delete(""));
        assertEquals(0, offsets.load("a"), "a refused save stored nothing");
    }

    @Test
    void aNameUtf8CannotHoldIsRefusedAndSupplementaryCharactersRoundTrip() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> offsets.save("sub-\uD800", 1),
                "offsets.save(\"sub-\\uD800\", 1): a name UTF-8 cannot hold is refused (OffsetStore.requireValid checks it)");
        assertTrue(refused.getMessage().contains("lone surrogate"), refused.getMessage());
        assertRefused("offsets.load(\"sub-\\uDC00\")", () -> offsets.load("sub-\uDC00"));
        assertRefused("offsets.delete(\"sub-\\uDC00\")", () -> offsets.delete("sub-\uDC00"));

        offsets.save("sub-\uD83D\uDE00", 7);
        offsets.save("sub-\uFFFD", 9);

        assertEquals(7, offsets.load("sub-\uD83D\uDE00"));
        assertEquals(9, offsets.load("sub-\uFFFD"));
    }

    @Test
    void callsFromAThreadWhoseInterruptFlagIsSetAnswerAndLeaveTheFlagSet() {
        offsets.save("balances", 3);
        Map<String, Callable<Object>> calls = new LinkedHashMap<>();
        calls.put("save", () -> {
            offsets.save("balances", 5);
            return "saved";
        });
        calls.put("load", () -> offsets.load("balances"));
        calls.put("find", () -> offsets.find("balances"));
        calls.put("claim", () -> offsets.claim("balances", "a", Duration.ofMinutes(1)));
        calls.put("saveClaimed", () -> offsets.saveClaimed("balances", 6, "a"));
        calls.put("release", () -> {
            offsets.release("balances", "a");
            return "released";
        });
        calls.put("delete", () -> {
            offsets.delete("balances");
            return "deleted";
        });
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("save", "saved");
        expected.put("load", 5L);
        expected.put("find", OptionalLong.of(5));
        expected.put("claim", true);
        expected.put("saveClaimed", true);
        expected.put("release", "released");
        expected.put("delete", "deleted");

        Map<String, Object> answered = InterruptedCalls.answers(calls);

        assertEquals(expected, answered, "a call from a thread whose interrupt flag is set (a task an executor's"
                + " shutdownNow reached, a subscription being stopped) does its work as it would without, and leaves the"
                + " flag set for the caller to act on");
        assertEquals(OptionalLong.empty(), offsets.find("balances"));
    }

    /**
     * Asserts that {@code call} is refused with an {@link IllegalArgumentException}, the message naming
     * the call and the helper a store checks its arguments with.
     */
    private static void assertRefused(String call, Executable executable) {
        assertThrows(IllegalArgumentException.class, executable, call + " must be refused with an"
                + " IllegalArgumentException naming the bad argument: check names and positions with"
                + " OffsetStore.requireValid, as the built-in stores do");
    }

    /** When the store keeps {@link OffsetStore#find}'s default, which takes a stored 0 for none, what to do. */
    private String keepsDefaultFind() {
        try {
            return offsets.getClass().getMethod("find", String.class).getDeclaringClass() == OffsetStore.class
                    ? " (the store keeps OffsetStore's default find, which takes a stored 0 for nothing stored: override"
                    + " find to answer OptionalLong.of(0) for a stored 0 and empty only when nothing is stored)" : "";
        } catch (NoSuchMethodException e) {
            return "";
        }
    }

    @Test
    void concurrentSaversOfDifferentNamesAllLand() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> savers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                String name = "sub-" + t;
                savers.add(pool.submit(() -> {
                    for (long p = 1; p <= 50; p++) {
                        offsets.save(name, p);
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
        for (int t = 0; t < 8; t++) {
            assertEquals(50, offsets.load("sub-" + t));
        }
    }

    @Test
    void concurrentFirstSavesOfOneNameAllSucceedAndOneOfThemStays() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int round = 0; round < 50; round++) {
                String name = "sub-" + round;
                CyclicBarrier start = new CyclicBarrier(8);
                List<Future<?>> savers = new ArrayList<>();
                for (long position = 1; position <= 8; position++) {
                    long mine = position;
                    savers.add(pool.submit(() -> {
                        start.await();
                        offsets.save(name, mine);
                        return null;
                    }));
                }
                for (Future<?> saver : savers) {
                    saver.get();
                }

                long stored = offsets.load(name);
                assertTrue(stored >= 1 && stored <= 8, name + " holds " + stored + ", which no saver saved");
            }
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void savedPositionsSurviveAReopen() throws Exception {
        assumeTrue(isDurable(), "this offset store declares itself not durable: nothing to reopen");
        offsets.save("balances", 1234);
        offsets.save("gone", 5);
        offsets.delete("gone");

        offsets = reopen(offsets);

        assertEquals(1234, offsets.load("balances"));
        assertEquals(0, offsets.load("gone"));
    }

    @Test
    void claimsRefuseBadArgumentsNamingThem() {
        assertThrows(IllegalArgumentException.class, () -> offsets.claim(null, "a", Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> offsets.claim(" ", "a", Duration.ofSeconds(1)));
        IllegalArgumentException noOwner = assertThrows(IllegalArgumentException.class,
                () -> offsets.claim("balances", null, Duration.ofSeconds(1)));
        assertTrue(noOwner.getMessage().contains("owner"), noOwner.getMessage());
        IllegalArgumentException noLease = assertThrows(IllegalArgumentException.class,
                () -> offsets.claim("balances", "a", Duration.ZERO));
        assertTrue(noLease.getMessage().contains("lease"), noLease.getMessage());
        assertThrows(IllegalArgumentException.class, () -> offsets.claim("balances", "a", null));
        assertThrows(IllegalArgumentException.class, () -> offsets.release("balances", ""));
    }

    @Test
    void claimsAndPositionsLeaveEachOtherAlone() {
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));
        assertEquals(OptionalLong.empty(), offsets.find("balances"), "a claim stores no position");
        assertEquals(0, offsets.load("balances"));
        offsets.save("balances", 7);
        assertEquals(7, offsets.load("balances"));
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)), "the owner renews its claim after a save");
        assertEquals(7, offsets.load("balances"), "a renewal leaves the position alone");
        offsets.delete("balances");
        assertEquals(OptionalLong.empty(), offsets.find("balances"));
        offsets.release("balances", "a");
        offsets.save("balances", 8);
        assertEquals(8, offsets.load("balances"), "releasing leaves the position alone");
    }

    @Test
    void aSaveUnderAClaimStoresForItsOwner() {
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));

        assertTrue(offsets.saveClaimed("balances", 9, "a"));

        assertEquals(9, offsets.load("balances"));
        assertThrows(IllegalArgumentException.class, () -> offsets.saveClaimed("balances", -1, "a"));
        assertThrows(IllegalArgumentException.class, () -> offsets.saveClaimed("balances", 1, null));
        assertThrows(IllegalArgumentException.class, () -> offsets.saveClaimed(" ", 1, "a"));
        assertEquals(9, offsets.load("balances"), "a refused save stores nothing");
    }

    @Test
    void aSaveUnderAClaimAnotherOwnerHoldsStoresNothing() {
        assumeTrue(sharesClaims(), "this store is used by one process: its claims always succeed");
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));
        assertTrue(offsets.saveClaimed("balances", 4, "a"));

        assertFalse(offsets.saveClaimed("balances", 5, "b"), "b does not hold the claim");
        assertEquals(4, offsets.load("balances"));
        offsets.release("balances", "a");
        assertFalse(offsets.saveClaimed("balances", 6, "a"), "released, a holds it no more");
        assertEquals(4, offsets.load("balances"));
    }

    @Test
    void aDeleteUnderAClaimForgetsThePositionForItsOwner() {
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));
        assertTrue(offsets.saveClaimed("balances", 9, "a"));

        assertTrue(offsets.deleteClaimed("balances", "a"));

        assertEquals(OptionalLong.empty(), offsets.find("balances"));
        assertThrows(IllegalArgumentException.class, () -> offsets.deleteClaimed("balances", " "));
        assertThrows(IllegalArgumentException.class, () -> offsets.deleteClaimed("balances", null));
        assertThrows(IllegalArgumentException.class, () -> offsets.deleteClaimed(null, "a"));
    }

    @Test
    void aDeleteUnderAClaimAnotherOwnerHoldsForgetsNothing() {
        assumeTrue(sharesClaims(), "this store is used by one process: its claims always succeed");
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));
        assertTrue(offsets.saveClaimed("balances", 9, "a"));

        assertFalse(offsets.deleteClaimed("balances", "b"), "b does not hold the claim");
        assertEquals(OptionalLong.of(9), offsets.find("balances"), "so nothing was forgotten");
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "and the claim stays a's");
        assertFalse(offsets.deleteClaimed("nobody's", "a"), "a name nobody claimed is no one's to forget");
        offsets.release("balances", "a");
        assertFalse(offsets.deleteClaimed("balances", "a"), "released, a holds it no more");
        assertEquals(OptionalLong.of(9), offsets.find("balances"));
    }

    @Test
    void aClaimKeepsOtherOwnersOutUntilReleased() {
        assumeTrue(sharesClaims(), "this store is used by one process: its claims always succeed");
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));

        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "another owner is kept out");
        offsets.save("balances", 5);
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "a save leaves the claim");
        offsets.delete("balances");
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "a delete leaves the claim");
        assertTrue(offsets.claim("other", "b", Duration.ofMinutes(1)), "claims are per name");
        offsets.release("balances", "b");
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "only the owner releases its claim");

        offsets.release("balances", "a");

        assertTrue(offsets.claim("balances", "b", Duration.ofMinutes(1)), "released, the claim is free");
        assertFalse(offsets.claim("balances", "a", Duration.ofMinutes(1)), "and now b holds it");
    }

    @Test
    void aClaimWhoseLeaseRanOutCanBeTaken() throws InterruptedException {
        assumeTrue(sharesClaims(), "this store is used by one process: its claims always succeed");
        // Taken with a long lease, so that b is refused however long the calls take (a cold JVM, a slow machine);
        // then renewed with a short one, which counts from the renewal, and waited out.
        assertTrue(offsets.claim("balances", "a", Duration.ofMinutes(1)));
        assertFalse(offsets.claim("balances", "b", Duration.ofMinutes(1)), "a holds the claim");
        assertTrue(offsets.claim("balances", "a", Duration.ofMillis(500)));

        Thread.sleep(1_000);

        assertTrue(offsets.claim("balances", "b", Duration.ofMinutes(1)), "a's lease ran out");
        assertFalse(offsets.claim("balances", "a", Duration.ofMinutes(1)), "a cannot renew a claim it lost");
    }

    @Test
    void ofOwnersClaimingANameAtOnceExactlyOneGetsIt() throws Exception {
        assumeTrue(sharesClaims(), "this store is used by one process: its claims always succeed");
        for (int round = 0; round < 20; round++) {
            assertTrue(offsets.claim("expired-" + round, "earlier", Duration.ofMillis(1)));
        }
        Thread.sleep(20);   // the claims on "expired-..." ran out: they can be taken
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int round = 0; round < 20; round++) {
                for (String name : List.of("new-" + round, "expired-" + round)) {
                    CyclicBarrier start = new CyclicBarrier(8);
                    List<Future<Boolean>> claimers = new ArrayList<>();
                    for (int owner = 0; owner < 8; owner++) {
                        String mine = "owner-" + owner;
                        claimers.add(pool.submit(() -> {
                            start.await();
                            return offsets.claim(name, mine, Duration.ofMinutes(1));
                        }));
                    }
                    int granted = 0;
                    for (Future<Boolean> claimer : claimers) {
                        granted += claimer.get() ? 1 : 0;
                    }

                    assertEquals(1, granted, "owners granted '" + name + "' at once");
                }
            }
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }
}
