package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.snapshot.Snapshot;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A thread whose interrupt flag is set (a worker its executor is shutting down) opens each kind of
 * store, writes to it and closes it; every call must work and leave the flag set, and a thread
 * without an interrupt must then find what it wrote. Runs in the test's JVM and, from {@link #main},
 * in a child JVM without {@code --add-opens}, where Xodus's files are interruptible. Throws
 * {@link AssertionError} when a promise breaks.
 */
final class InterruptedLifecycle {
    private InterruptedLifecycle() {
    }

    /** Child JVM entry: prints {@code OK} and what {@link #run} found, and exits 0, or prints the failure and exits 1. */
    public static void main(String[] args) {
        try {
            System.out.println("OK " + run(Path.of(args[0])));
            System.exit(0);
        } catch (Throwable e) {
            e.printStackTrace(System.out);
            System.exit(1);
        }
    }

    /** Runs the scenario in {@code directory}; what the stores hold when opened again, without an interrupt. */
    static String run(Path directory) {
        Path events = directory.resolve("events");
        Path offsets = directory.resolve("offsets");
        Path snapshots = directory.resolve("snapshots");
        Snapshot snapshot = new Snapshot("Account-1", 0, "Account#1", "{}".getBytes(), Instant.EPOCH);
        Thread.currentThread().interrupt();
        try {
            XodusEventStore eventStore = stillInterrupted("opening an event store", () -> new XodusEventStore(events));
            stillInterrupted("appending", () -> eventStore.append("Account-1", ExpectedVersion.NO_STREAM,
                    List.of(EventData.of("Opened", new byte[0], Map.of()))));
            stillInterrupted("closing the event store", () -> closed(eventStore));
            XodusOffsetStore offsetStore = stillInterrupted("opening an offset store", () -> new XodusOffsetStore(offsets));
            stillInterrupted("saving an offset", () -> {
                offsetStore.save("balances", 1);
                return null;
            });
            stillInterrupted("closing the offset store", () -> closed(offsetStore));
            XodusSnapshotStore snapshotStore = stillInterrupted("opening a snapshot store", () -> new XodusSnapshotStore(snapshots));
            stillInterrupted("saving a snapshot", () -> {
                snapshotStore.save(snapshot);
                return null;
            });
            stillInterrupted("closing the snapshot store", () -> closed(snapshotStore));
        } finally {
            Thread.interrupted();
        }
        try (XodusEventStore eventStore = new XodusEventStore(events);
             XodusOffsetStore offsetStore = new XodusOffsetStore(offsets);
             XodusSnapshotStore snapshotStore = new XodusSnapshotStore(snapshots)) {
            return "Account-1 at version " + eventStore.streamVersion("Account-1") + ", balances at "
                    + offsetStore.find("balances") + ", snapshot " + snapshotStore.load("Account-1");
        }
    }

    private static <T> T stillInterrupted(String call, Supplier<T> body) {
        T result;
        try {
            result = body.get();
        } catch (Exception e) { // Xodus throws checked exceptions undeclared
            throw new AssertionError(call + " failed for a thread whose interrupt flag is set: " + e, e);
        }
        if (!Thread.interrupted()) {
            throw new AssertionError(call + " cleared the caller's interrupt flag");
        }
        Thread.currentThread().interrupt();
        return result;
    }

    private static Void closed(AutoCloseable store) {
        try {
            store.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return null;
    }
}
