package dev.flux.memory;

import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;
import dev.flux.test.OffsetStoreContract;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * {@link OffsetStoreContract} must fail for a broken offset store, claims included: each store here is
 * {@link ClaimingOffsets}, a small correct store that keeps claims for processes sharing it, with one
 * mistake; the whole contract runs against it and must fail at least one test, naming what is wrong
 * rather than running out of time. The store without a mistake passes every test.
 */
class OffsetStoreContractCatchesBrokenStoresTest {

    /** One mistake: what it does, and a fresh store that makes it; {@code reopen} null for a store that is not durable. */
    private record Mistake(String does, Supplier<OffsetStore> store, UnaryOperator<OffsetStore> reopen) {
        Mistake(String does, Supplier<OffsetStore> store) {
            this(does, store, null);
        }
    }

    private static final List<Mistake> MISTAKES = List.of(
            new Mistake("keeps the larger of two saves", () -> new ClaimingOffsets() {
                @Override
                public synchronized void save(String name, long position) {
                    super.save(name, Math.max(position, load(name)));
                }
            }),
            new Mistake("fails a load from a thread whose interrupt flag is set", () -> new ClaimingOffsets() {
                @Override
                public synchronized OptionalLong find(String name) {
                    if (Thread.currentThread().isInterrupted()) {
                        throw new FluxException("Could not load the offset of '" + name + "': Interrupted waiting for lock");
                    }
                    return super.find(name);
                }
            }),
            new Mistake("keeps names apart only up to case (a case-blind key)", () -> new ClaimingOffsets() {
                @Override
                public synchronized long load(String name) {
                    OffsetStore.requireValid(name, 0);
                    return super.load(name.toLowerCase(Locale.ROOT));
                }

                @Override
                public synchronized OptionalLong find(String name) {
                    OffsetStore.requireValid(name, 0);
                    return super.find(name.toLowerCase(Locale.ROOT));
                }

                @Override
                public synchronized void save(String name, long position) {
                    OffsetStore.requireValid(name, position);
                    super.save(name.toLowerCase(Locale.ROOT), position);
                }

                @Override
                public synchronized void delete(String name) {
                    OffsetStore.requireValid(name, 0);
                    super.delete(name.toLowerCase(Locale.ROOT));
                }
            }),
            new Mistake("keeps a position delete() was to forget", () -> new ClaimingOffsets() {
                @Override
                public synchronized void delete(String name) {
                    OffsetStore.requireValid(name, 0);
                }
            }),
            new Mistake("finds nothing stored where 0 was saved", () -> new ClaimingOffsets() {
                @Override
                public synchronized OptionalLong find(String name) {
                    OptionalLong found = super.find(name);
                    return found.isPresent() && found.getAsLong() == 0 ? OptionalLong.empty() : found;
                }
            }),
            new Mistake("grants every claim", () -> new ClaimingOffsets() {
                @Override
                public synchronized boolean claim(String name, String owner, Duration lease) {
                    super.claim(name, owner, lease);
                    return true;
                }
            }),
            new Mistake("refuses its owner a renewal", () -> new ClaimingOffsets() {
                @Override
                public synchronized boolean claim(String name, String owner, Duration lease) {
                    Claim held = claims.get(name);
                    return (held == null || !held.owner.equals(owner)) && super.claim(name, owner, lease);
                }
            }),
            new Mistake("never lets a lease run out", () -> new ClaimingOffsets() {
                @Override
                public synchronized boolean claim(String name, String owner, Duration lease) {
                    return super.claim(name, owner, Duration.ofDays(365));
                }
            }),
            new Mistake("lets anyone release a claim", () -> new ClaimingOffsets() {
                @Override
                public synchronized void release(String name, String owner) {
                    OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
                    claims.remove(name);
                }
            }),
            new Mistake("saves under a claim another owner holds", () -> new ClaimingOffsets() {
                @Override
                public synchronized boolean saveClaimed(String name, long position, String owner) {
                    OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
                    save(name, position);
                    return true;
                }
            }),
            new Mistake("forgets a position under a claim another owner holds", () -> new ClaimingOffsets() {
                @Override
                public synchronized boolean deleteClaimed(String name, String owner) {
                    OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
                    delete(name);
                    return true;
                }
            }),
            new Mistake("forgets a claim when a position is saved", () -> new ClaimingOffsets() {
                @Override
                public synchronized void save(String name, long position) {
                    super.save(name, position);
                    claims.remove(name);
                }
            }),
            new Mistake("checks that a claim is free and takes it in two steps", () -> new ClaimingOffsets() {
                @Override
                public boolean claim(String name, String owner, Duration lease) {
                    OffsetStore.requireClaim(name, owner, lease);
                    synchronized (this) {
                        Claim held = claims.get(name);
                        if (held != null && !held.owner.equals(owner) && held.until - System.nanoTime() > 0) {
                            return false;
                        }
                    }
                    LockSupport.parkNanos(200_000);        // where another owner gets in
                    synchronized (this) {
                        claims.put(name, new Claim(owner, System.nanoTime() + lease.toNanos()));
                        return true;
                    }
                }
            }),
            new Mistake("loses its positions when reopened", ClaimingOffsets::new, closed -> new ClaimingOffsets()));

    @TestFactory
    Stream<DynamicTest> theContractFailsForEveryBrokenStore() {
        return MISTAKES.stream().map(mistake -> dynamicTest("an offset store that " + mistake.does(), () -> {
            runContract(mistake).assertCaught("an offset store that " + mistake.does());
        }));
    }

    @Test
    void theContractPassesTheStoreWithoutAMistake() {
        runContract(new Mistake("makes none", ClaimingOffsets::new, closed -> closed)).assertPassed(23);
    }

    private static ContractRun runContract(Mistake mistake) {
        BrokenOffsetsContract.mistake = mistake;
        return ContractRun.of(BrokenOffsetsContract.class);
    }

    /** The contract over the stores {@link #mistake} makes; run by {@link #runContract} only (surefire skips nested classes). */
    static class BrokenOffsetsContract extends OffsetStoreContract {
        static volatile Mistake mistake;

        @Override
        protected OffsetStore newOffsetStore() {
            return mistake.store().get();
        }

        @Override
        protected boolean isDurable() {
            return mistake.reopen() != null;
        }

        @Override
        protected OffsetStore reopen(OffsetStore current) {
            return mistake.reopen().apply(current);
        }

        @Override
        protected boolean sharesClaims() {
            return true;
        }
    }

    /** Positions and claims in maps, under one lock: what a store shared by processes does, in miniature. */
    private static class ClaimingOffsets implements OffsetStore {
        /** A claim's owner and when its lease ends, on {@link System#nanoTime()}'s clock. */
        record Claim(String owner, long until) {
        }

        final Map<String, Long> positions = new HashMap<>();
        final Map<String, Claim> claims = new HashMap<>();

        @Override
        public synchronized long load(String name) {
            OffsetStore.requireValid(name, 0);
            return positions.getOrDefault(name, 0L);
        }

        @Override
        public synchronized OptionalLong find(String name) {
            OffsetStore.requireValid(name, 0);
            Long position = positions.get(name);
            return position == null ? OptionalLong.empty() : OptionalLong.of(position);
        }

        @Override
        public synchronized void save(String name, long position) {
            OffsetStore.requireValid(name, position);
            positions.put(name, position);
        }

        @Override
        public synchronized void delete(String name) {
            OffsetStore.requireValid(name, 0);
            positions.remove(name);
        }

        @Override
        public synchronized boolean claim(String name, String owner, Duration lease) {
            OffsetStore.requireClaim(name, owner, lease);
            Claim held = claims.get(name);
            long now = System.nanoTime();
            if (held != null && !held.owner.equals(owner) && held.until - now > 0) {
                return false;
            }
            claims.put(name, new Claim(owner, now + lease.toNanos()));
            return true;
        }

        @Override
        public synchronized boolean saveClaimed(String name, long position, String owner) {
            OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
            OffsetStore.requireValid(name, position);
            if (!holds(name, owner)) {
                return false;
            }
            positions.put(name, position);
            return true;
        }

        @Override
        public synchronized boolean deleteClaimed(String name, String owner) {
            OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
            if (!holds(name, owner)) {
                return false;
            }
            positions.remove(name);
            return true;
        }

        private boolean holds(String name, String owner) {
            Claim held = claims.get(name);
            return held != null && held.owner.equals(owner) && held.until - System.nanoTime() > 0;
        }

        @Override
        public synchronized void release(String name, String owner) {
            OffsetStore.requireClaim(name, owner, Duration.ofMillis(1));
            Claim held = claims.get(name);
            if (held != null && held.owner.equals(owner)) {
                claims.remove(name);
            }
        }
    }
}
