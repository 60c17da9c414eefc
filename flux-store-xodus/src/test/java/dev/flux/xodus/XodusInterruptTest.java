package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Interrupted callers (executor shutdown, a stopping subscription) must not break the store. */
class XodusInterruptTest {
    private static final Duration INTERRUPTING = Duration.ofSeconds(3);
    private static final String WRITTEN_BY_THE_INTERRUPTED_THREAD = "Account-1 at version 0, balances at OptionalLong[1],"
            + " snapshot Optional[Snapshot[Account-1@0, Account#1, 2 bytes, 1970-01-01T00:00:00Z]]";

    @TempDir
    Path directory;
    @TempDir
    Path logs;

    @Test
    void anInterruptedAppenderStillLearnsItsOutcomeAndKeepsItsInterrupt() {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            Thread.currentThread().interrupt();

            long version = store.append("account-1", ExpectedVersion.NO_STREAM, List.of(EventData.of("Opened", new byte[0], Map.of())));

            assertTrue(Thread.interrupted(), "the interrupt flag is set again");
            assertEquals(0, version);
            assertEquals(0, store.streamVersion("account-1"));
        }
    }

    @Test
    void anInterruptedReaderReadsAndKeepsItsInterrupt() {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            store.append("account-1", ExpectedVersion.NO_STREAM, List.of(EventData.of("Opened", new byte[0], Map.of())));
            Thread.currentThread().interrupt();

            int read = store.readAll(0, 10).size();

            assertTrue(Thread.interrupted(), "the interrupt flag is set again");
            assertEquals(1, read);
        }
    }

    @Test
    void aThreadWhoseInterruptFlagIsSetOpensWritesAndClosesEveryStore() {
        String found = InterruptedLifecycle.run(directory);

        assertEquals(WRITTEN_BY_THE_INTERRUPTED_THREAD, found);
    }

    @Test
    void aThreadWhoseInterruptFlagIsSetOpensWritesAndClosesEveryStoreEvenWhereXodusFilesAreInterruptible() throws Exception {
        try (ChildJvm child = new ChildJvm(InterruptedLifecycle.class, false, logs.resolve("stderr.txt"), directory.toString())) {
            int exit = child.waitFor(120);

            assertEquals(0, exit, "the scenario failed without --add-opens:\n" + String.join("\n", child.lines())
                    + "\nstderr:\n" + child.stderr());
            assertEquals(List.of("OK " + WRITTEN_BY_THE_INTERRUPTED_THREAD), child.lines());
        }
    }

    @Test
    void randomInterruptsOfWritersAndReadersBreakNothing() throws Exception {
        String summary = InterruptScenario.run(directory, INTERRUPTING);

        assertTrue(summary.contains("saves"), summary);
    }

    @Test
    void randomInterruptsBreakNothingEvenWhereXodusFilesAreInterruptible() throws Exception {
        try (ChildJvm child = new ChildJvm(InterruptScenario.class, false, logs.resolve("stderr.txt"), directory.toString(),
                Long.toString(INTERRUPTING.toMillis()))) {
            int exit = child.waitFor(120);

            assertEquals(0, exit, "the scenario failed without --add-opens:\n" + String.join("\n", child.lines())
                    + "\nstderr:\n" + child.stderr());
            assertTrue(child.lines().get(0).startsWith("OK "), child.lines().toString());
        }
    }
}
