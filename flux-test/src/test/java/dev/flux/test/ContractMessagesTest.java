package dev.flux.test;

import dev.flux.EventStore;
import dev.flux.StreamName;
import dev.flux.snapshot.Snapshot;
import dev.flux.snapshot.SnapshotStore;
import dev.flux.subscription.OffsetStore;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contracts' failures tell the author of a store what it did wrong and what to do: each test runs
 * one contract case against a store of the kind a user writes from the README, with one mistake.
 */
class ContractMessagesTest {

    private static EventStoreContract eventContract(boolean durable) throws Exception {
        EventStoreContract contract = new EventStoreContract() {
            @Override
            protected EventStore newStore() {
                return new NaiveEventStore();
            }

            @Override
            protected boolean isDurable() {
                return durable;
            }
        };
        contract.openStore();
        return contract;
    }

    @Test
    void aStoreKeepingReadCategorysDefaultIsToldToOverrideItToRefuseAfterClose() throws Exception {
        EventStoreContract contract = eventContract(false);

        AssertionFailedError failure = assertThrows(AssertionFailedError.class,
                contract::aClosedStoreRefusesEveryCallWithIllegalStateExceptionWhateverTheAppendHolds);

        assertTrue(failure.getMessage().contains("readCategory of none=answered (through EventReader's default readCategory")
                && failure.getMessage().contains("override readCategory to refuse after close"), failure.getMessage());
    }

    @Test
    void aBadArgumentAnsweredIsNamedWithTheHelpersThatCheckIt() throws Exception {
        EventStoreContract contract = eventContract(false);

        AssertionFailedError failure = assertThrows(AssertionFailedError.class,
                contract::badArgumentsAreRefusedWithIllegalArgumentException);
        contract.closeStore();

        assertTrue(failure.getMessage().contains("store.readEvent(null) must be refused with an IllegalArgumentException")
                && failure.getMessage().contains("StreamName.requireStreamId"), failure.getMessage());
    }

    @Test
    void aDurableStoreWithoutReopenIsToldToOverrideIt() throws Exception {
        EventStoreContract contract = eventContract(true);

        UnsupportedOperationException failure = assertThrows(UnsupportedOperationException.class,
                contract::reopeningKeepsEverything);
        contract.closeStore();

        assertTrue(failure.getMessage().contains("isDurable() returns true")
                && failure.getMessage().contains("override reopen(EventStore)"), failure.getMessage());
    }

    /** Offsets in a map, keeping OffsetStore's default find. */
    private static final class MapOffsets implements OffsetStore {
        private final Map<String, Long> positions = new HashMap<>();

        @Override
        public synchronized long load(String name) {
            OffsetStore.requireValid(name, 0);
            return positions.getOrDefault(name, 0L);
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
    }

    @Test
    void anOffsetStoreKeepingFindsDefaultIsToldToOverrideIt() throws Exception {
        OffsetStoreContract contract = new OffsetStoreContract() {
            @Override
            protected OffsetStore newOffsetStore() {
                return new MapOffsets();
            }
        };
        contract.openOffsets();

        AssertionFailedError failure = assertThrows(AssertionFailedError.class, contract::findTellsAStoredZeroFromNothingStored);

        assertTrue(failure.getMessage().contains("keeps OffsetStore's default find")
                && failure.getMessage().contains("override find"), failure.getMessage());
    }

    /** Snapshots in a map, checking stream ids for null and blank only. */
    private static final class MapSnapshots implements SnapshotStore {
        private final Map<String, Snapshot> latest = new HashMap<>();

        @Override
        public synchronized Optional<Snapshot> load(String streamId) {
            return Optional.ofNullable(latest.get(requireNotBlank(streamId)));
        }

        @Override
        public synchronized void save(Snapshot snapshot) {
            if (snapshot == null) {
                throw new IllegalArgumentException("snapshot must not be null");
            }
            latest.merge(snapshot.streamId(), snapshot, (held, given) -> given.version() >= held.version() ? given : held);
        }

        @Override
        public synchronized void delete(String streamId) {
            latest.remove(requireNotBlank(streamId));
        }

        private static String requireNotBlank(String streamId) {
            if (streamId == null || streamId.isBlank()) {
                throw new IllegalArgumentException("streamId must not be null or blank, was " + streamId);
            }
            return streamId;
        }
    }

    @Test
    void aSnapshotStoreMissingACheckIsToldTheCallAndTheHelper() throws Exception {
        SnapshotStoreContract contract = new SnapshotStoreContract() {
            @Override
            protected SnapshotStore newSnapshotStore() {
                return new MapSnapshots();
            }
        };
        contract.openSnapshots();

        AssertionFailedError failure = assertThrows(AssertionFailedError.class, contract::badArgumentsAreRefused);

        assertTrue(failure.getMessage().contains("snapshots.load(\"Account-\\uD800\") must be refused")
                && failure.getMessage().contains(StreamName.class.getSimpleName() + ".requireStreamId"), failure.getMessage());
    }
}
