package dev.flux.test;

import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

class OneEventPerReadStoreTest {

    /** A store that knows its last position without reading its log, as stores with an index do. */
    private static final class IndexedStore implements EventStore {
        int readAllCalls;

        @Override
        public long append(String streamId, long expectedVersion, List<EventData> events) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            return List.of();
        }

        @Override
        public long streamVersion(String streamId) {
            return ExpectedVersion.NO_STREAM;
        }

        @Override
        public List<RecordedEvent> readAll(long afterPosition, int maxCount) {
            readAllCalls++;
            return List.of();
        }

        @Override
        public long lastPosition() {
            return 7;
        }

        @Override
        public Optional<RecordedEvent> readEvent(UUID eventId) {
            return Optional.empty();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void lastPositionIsTheWrappedStoresOwnAnswer() {
        IndexedStore indexed = new IndexedStore();

        long last = new OneEventPerReadStore(indexed).lastPosition();

        assertEquals(7, last, "the wrapped store's lastPosition, not the default's search of the log");
        assertEquals(0, indexed.readAllCalls);
    }
}
