package dev.flux.memory;

import dev.flux.FluxException;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.test.SnapshotStoreContract;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * {@link SnapshotStoreContract} must fail for a broken snapshot store: each store here is the memory
 * snapshot store behind a wrapper with one mistake; the whole contract runs against it and must fail at
 * least one test, naming what is wrong rather than running out of time. The wrapper without a mistake
 * passes every test.
 */
class SnapshotStoreContractCatchesBrokenStoresTest {

    /** One mistake: what it does, and a fresh store that makes it; {@code reopen} null for a store that is not durable. */
    private record Mistake(String does, Supplier<SnapshotStore> store, UnaryOperator<SnapshotStore> reopen) {
        Mistake(String does, Supplier<SnapshotStore> store) {
            this(does, store, null);
        }
    }

    private static final List<Mistake> MISTAKES = List.of(
            new Mistake("keeps the first snapshot of a stream", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    if (snapshot == null || inner.load(snapshot.streamId()).isEmpty()) {
                        inner.save(snapshot);
                    }
                }
            }),
            new Mistake("lets an older snapshot replace a newer one", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    if (snapshot != null) {
                        inner.delete(snapshot.streamId());
                    }
                    inner.save(snapshot);
                }
            }),
            new Mistake("keeps the snapshot held over one of the same version", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    Optional<Snapshot> held = snapshot == null ? Optional.empty() : inner.load(snapshot.streamId());
                    if (held.isEmpty() || held.get().version() < snapshot.version()) {
                        inner.save(snapshot);
                    }
                }
            }),
            new Mistake("compares the version held and saves in two steps", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    Optional<Snapshot> held = snapshot == null ? Optional.empty() : inner.load(snapshot.streamId());
                    if (held.isEmpty() || held.get().version() <= snapshot.version()) {
                        LockSupport.parkNanos(100_000);        // where a newer snapshot gets in
                        if (snapshot != null) {
                            inner.delete(snapshot.streamId());
                        }
                        inner.save(snapshot);
                    }
                }
            }),
            new Mistake("fails a save from a thread whose interrupt flag is set", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    if (Thread.currentThread().isInterrupted()) {
                        throw new FluxException("Could not save the snapshot: Interrupted waiting for lock");
                    }
                    inner.save(snapshot);
                }
            }),
            new Mistake("keeps a snapshot delete() was to forget", () -> new Forwarding() {
                @Override
                public void delete(String streamId) {
                    inner.load(streamId);      // checks the argument, forgets nothing
                }
            }),
            new Mistake("remembers the version of a deleted snapshot", () -> new Forwarding() {
                private final Map<String, Long> deletedAt = new ConcurrentHashMap<>();

                @Override
                public void save(Snapshot snapshot) {
                    if (snapshot == null || snapshot.version() >= deletedAt.getOrDefault(snapshot.streamId(), -1L)) {
                        inner.save(snapshot);
                    }
                }

                @Override
                public void delete(String streamId) {
                    inner.load(streamId).ifPresent(held -> deletedAt.put(streamId, held.version()));
                    inner.delete(streamId);
                }
            }),
            new Mistake("keeps streams apart only up to case (a case-blind key)", () -> new Forwarding() {
                private final Map<String, Snapshot> byKey = new ConcurrentHashMap<>();

                @Override
                public Optional<Snapshot> load(String streamId) {
                    inner.load(streamId);       // checks the argument
                    return Optional.ofNullable(byKey.get(streamId.toLowerCase(Locale.ROOT)));
                }

                @Override
                public void save(Snapshot snapshot) {
                    inner.save(snapshot);       // checks the argument
                    byKey.merge(snapshot.streamId().toLowerCase(Locale.ROOT), snapshot,
                            (held, offered) -> offered.version() >= held.version() ? offered : held);
                }

                @Override
                public void delete(String streamId) {
                    inner.delete(streamId);
                    byKey.remove(streamId.toLowerCase(Locale.ROOT));
                }
            }),
            new Mistake("cuts states over 1 MiB", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    inner.save(snapshot == null || snapshot.data().length <= 1 << 20 ? snapshot
                            : new Snapshot(snapshot.streamId(), snapshot.version(), snapshot.type(),
                            Arrays.copyOf(snapshot.data(), 1 << 20), snapshot.takenAt()));
                }
            }),
            new Mistake("fails a time past what its date holds with a bare ArithmeticException", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    if (snapshot != null) {
                        snapshot.takenAt().toEpochMilli();     // as a BSON date would take it, unchecked
                    }
                    inner.save(snapshot);
                }
            }),
            new Mistake("keeps a far time as the nearest it holds", () -> new Forwarding() {
                @Override
                public void save(Snapshot snapshot) {
                    inner.save(snapshot == null || snapshot.takenAt().getEpochSecond() < Long.MAX_VALUE / 1000 ? snapshot
                            : new Snapshot(snapshot.streamId(), snapshot.version(), snapshot.type(), snapshot.data(),
                            Instant.ofEpochMilli(Long.MAX_VALUE)));
                }
            }),
            new Mistake("loses its snapshots when reopened", Forwarding::new, closed -> new Forwarding()));

    @TestFactory
    Stream<DynamicTest> theContractFailsForEveryBrokenStore() {
        return MISTAKES.stream().map(mistake -> dynamicTest("a snapshot store that " + mistake.does(), () -> {
            runContract(mistake).assertCaught("a snapshot store that " + mistake.does());
        }));
    }

    @Test
    void theContractPassesTheWrapperWithoutAMistake() {
        runContract(new Mistake("makes none", Forwarding::new, closed -> closed)).assertPassed(14);
    }

    private static ContractRun runContract(Mistake mistake) {
        BrokenSnapshotsContract.mistake = mistake;
        return ContractRun.of(BrokenSnapshotsContract.class);
    }

    /** The contract over the stores {@link #mistake} makes; run by {@link #runContract} only (surefire skips nested classes). */
    static class BrokenSnapshotsContract extends SnapshotStoreContract {
        static volatile Mistake mistake;

        @Override
        protected SnapshotStore newSnapshotStore() {
            return mistake.store().get();
        }

        @Override
        protected boolean isDurable() {
            return mistake.reopen() != null;
        }

        @Override
        protected SnapshotStore reopen(SnapshotStore current) {
            return mistake.reopen().apply(current);
        }
    }

    /** Hands every call to a memory snapshot store; each mistake overrides what it gets wrong. */
    private static class Forwarding implements SnapshotStore {
        final InMemorySnapshotStore inner = new InMemorySnapshotStore();

        @Override
        public Optional<Snapshot> load(String streamId) {
            return inner.load(streamId);
        }

        @Override
        public void save(Snapshot snapshot) {
            inner.save(snapshot);
        }

        @Override
        public void delete(String streamId) {
            inner.delete(streamId);
        }
    }
}
