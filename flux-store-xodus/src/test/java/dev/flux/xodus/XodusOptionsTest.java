package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.env.EnvironmentConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What each {@link XodusOptions} setting accepts, and that it reaches the Xodus environment it is meant for. */
class XodusOptionsTest {
    @TempDir
    Path directory;
    @TempDir
    Path logs;

    @Test
    void theDefaultsAreTheDocumentedOnes() {
        XodusOptions defaults = XodusOptions.defaults();

        assertTrue(defaults.durableWrites());
        assertEquals(Math.max(8L << 20, Runtime.getRuntime().maxMemory() / 4), defaults.cacheSize(),
                "a quarter of the maximum heap, at least 8 MiB");
        assertEquals(Duration.ZERO, defaults.lockTimeout());
        assertEquals(4_096, defaults.maxBatchEvents(), "the README's default");
        assertEquals(50, defaults.gcMinUtilization());
    }

    @Test
    void badValuesAreRefusedNamingTheOptionAndTheValue() {
        assertRefused("cacheSize must be at least 1 MiB (1048576 bytes), was 1000",
                () -> XodusOptions.builder().cacheSize(1000));
        assertRefused("lockTimeout must be zero or positive, was null", () -> XodusOptions.builder().lockTimeout(null));
        assertRefused("lockTimeout must be zero or positive, was PT-1S",
                () -> XodusOptions.builder().lockTimeout(Duration.ofSeconds(-1)));
        assertRefused("lockTimeout must be at most PT2562047788015H12M55.807S (Long.MAX_VALUE milliseconds), was"
                + " PT2562047788015215H30M7.999999999S", () -> XodusOptions.builder().lockTimeout(ChronoUnit.FOREVER.getDuration()));
        long maxHeap = Runtime.getRuntime().maxMemory();
        assertRefused("cacheSize must be below the maximum heap (" + maxHeap + " bytes; see -Xmx), was " + maxHeap,
                () -> XodusOptions.builder().cacheSize(maxHeap));
        assertRefused("maxBatchEvents must be at least 1, was 0", () -> XodusOptions.builder().maxBatchEvents(0));
        assertRefused("gcMinUtilization must be a percentage from 1 to 90, was 0",
                () -> XodusOptions.builder().gcMinUtilization(0));
        assertRefused("gcMinUtilization must be a percentage from 1 to 90, was 91",
                () -> XodusOptions.builder().gcMinUtilization(91));
        assertRefused("XodusEventStore needs a directory and options, got " + directory + ", null",
                () -> new XodusEventStore(directory, null));
    }

    @Test
    void toBuilderKeepsEveryValueAndChangesOnlyTheCopy() {
        XodusOptions options = XodusOptions.builder().durableWrites(false).cacheSize(16L << 20)
                .lockTimeout(Duration.ofSeconds(3)).maxBatchEvents(10).gcMinUtilization(70).build();

        XodusOptions copy = options.toBuilder().build();
        XodusOptions changed = options.toBuilder().gcMinUtilization(20).build();

        assertNotSame(options, copy);
        assertEquals(options.toString(), copy.toString());
        assertEquals("XodusOptions[durableWrites=false, cacheSize=16777216, lockTimeout=PT3S, maxBatchEvents=10,"
                + " gcMinUtilization=70]", options.toString());
        assertEquals(20, changed.gcMinUtilization());
        assertEquals(70, options.gcMinUtilization());
        assertEquals(10, changed.maxBatchEvents());
    }

    @Test
    void theOptionsReachTheEnvironment() {
        XodusOptions options = XodusOptions.builder().cacheSize(16L << 20).lockTimeout(Duration.ofSeconds(2))
                .gcMinUtilization(70).build();

        EnvironmentConfig events = configOf("events", options, true);
        assertEquals(16L << 20, events.getMemoryUsage());
        assertEquals(2000, events.getLogLockTimeout());
        assertEquals(70, events.getGcMinUtilization());
        assertFalse(events.getLogDurableWrite(), "a store that syncs itself leaves Xodus's per-commit sync off");
        assertTrue(configOf("offsets", options, false).getLogDurableWrite(), "otherwise Xodus syncs each commit");
        assertFalse(configOf("fast", options.toBuilder().durableWrites(false).build(), false).getLogDurableWrite());
    }

    /** The configuration Xodus opened a directory with, for a store that syncs itself or not. */
    private EnvironmentConfig configOf(String name, XodusOptions options, boolean syncsItself) {
        StoreDirectory opened = StoreDirectory.open(directory.resolve(name), options, "XodusOptionsTest", syncsItself);
        try {
            return opened.environment.getEnvironmentConfig();
        } finally {
            opened.close(() -> { });
        }
    }

    @Test
    void withALockTimeoutOpeningWaitsForAnotherProcessToLetGo() throws Exception {
        try (ChildJvm holder = new ChildJvm(DirectoryHolder.class, true, logs.resolve("stderr.txt"), directory.toString())) {
            holder.awaitLines(line -> line.startsWith("READY"), 1, 60);
            XodusOptions waiting = XodusOptions.builder().lockTimeout(Duration.ofSeconds(60)).build();

            CompletableFuture<XodusEventStore> opening = CompletableFuture.supplyAsync(
                    () -> new XodusEventStore(directory, waiting));
            Thread.sleep(1000);
            assertFalse(opening.isDone(), "still waiting while the other process holds the directory");
            holder.kill();

            try (XodusEventStore store = opening.get(60, TimeUnit.SECONDS)) {
                assertEquals(0, store.lastPosition());
            }
        }
    }

    @Test
    void anOpenInterruptedWhileItWaitsForTheLockSaysSoAndKeepsTheFlag() throws Exception {
        try (XodusEventStore holder = new XodusEventStore(directory)) {
            XodusOptions waiting = XodusOptions.builder().lockTimeout(Duration.ofSeconds(60)).build();
            CompletableFuture<String> outcome = new CompletableFuture<>();
            Thread opener = new Thread(() -> {
                try (XodusEventStore opened = new XodusEventStore(directory, waiting)) {
                    outcome.complete("opened " + opened);
                } catch (FluxException e) {
                    outcome.complete(e.getMessage() + " [interrupted: " + Thread.currentThread().isInterrupted() + "]");
                }
            });
            opener.start();
            // In Xodus's wait for the lock, not before it: an interrupt landing earlier (a loaded machine, a slow start)
            // is held back by the open, which clears the flag while it works, and the wait would run its 60 s.
            awaitWaitingForTheLock(opener);

            opener.interrupt();

            String message = outcome.get(30, TimeUnit.SECONDS);
            assertTrue(message.contains(directory.toAbsolutePath().toString())
                    && message.contains("interrupted while it waited for the directory's lock")
                    && message.endsWith("[interrupted: true]"), message);
            assertFalse(message.contains("waited 60000 ms"), message);
            assertEquals(0, holder.lastPosition(), "the store holding the directory is unharmed");
        }
        new XodusEventStore(directory).close(); // the interrupted open let go of everything it had
    }

    private static void awaitWaitingForTheLock(Thread opener) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(opener.getState() == Thread.State.TIMED_WAITING && Arrays.stream(opener.getStackTrace())
                .anyMatch(frame -> frame.getClassName().equals("jetbrains.exodus.io.LockingManager")))) {
            assertTrue(System.nanoTime() < deadline, "the open waits for the lock: " + Arrays.toString(opener.getStackTrace()));
            Thread.sleep(10);
        }
    }

    private static void assertRefused(String message, Executable call) {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, call);
        assertEquals(message, refused.getMessage());
    }
}
