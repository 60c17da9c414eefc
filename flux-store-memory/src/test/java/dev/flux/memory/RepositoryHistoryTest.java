package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.ConcurrencyConflictException;
import dev.flux.EventStore;
import dev.flux.ForwardingEventStore;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code Repository.load(id, version)}: an aggregate as it was at a version of its stream. */
class RepositoryHistoryTest {

    record Credited(long amount) {}

    public static class Account extends Aggregate {
        private long balance;
        private final List<Long> credits = new ArrayList<>();

        void credit(long amount) {
            update(new Credited(amount));
        }

        private void handleCredited(Credited e) {
            balance += e.amount();
            credits.add(e.amount());
        }
    }

    /** The memory store, counting the events its stream reads return, and keeping how many each asked for. */
    static final class CountingStore extends ForwardingEventStore {
        int eventsRead;
        final List<Integer> asked = new ArrayList<>();

        CountingStore(EventStore delegate) {
            super(delegate);
        }

        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            asked.add(maxCount);
            List<RecordedEvent> page = super.readStream(streamId, fromVersion, maxCount);
            eventsRead += page.size();
            return page;
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final Repository<Account> accounts = Repository.of(Account.class, store);

    @AfterEach
    void close() {
        store.close();
    }

    /** Saves credits of 1, 2, 3 ... {@code count} to Account-{@code id}, {@code perSave} a save. */
    private void credits(String id, int count, int perSave) {
        Account account = accounts.load(id);
        for (int i = 1; i <= count; i++) {
            account.credit(i);
            if (i % perSave == 0 || i == count) {
                account.save();
            }
        }
    }

    @Test
    void eachVersionGivesTheStateAfterThatVersionsEvent() {
        credits("1", 5, 2);

        for (long version = 0; version <= 4; version++) {
            Account then = accounts.load("1", version);
            long n = version + 1;
            assertEquals(version, then.version());
            assertEquals(n * (n + 1) / 2, then.balance, "credits 1.." + n);
            assertTrue(then.uncommittedEvents().isEmpty());
        }
        assertEquals(15, accounts.load("1", 4).balance, "the latest version, as load(id) gives it");
        assertEquals(15, accounts.load("1").balance);
    }

    @Test
    void theEventsAfterTheVersionAreNotRead() {
        credits("1", 2_500, 500);
        CountingStore counting = new CountingStore(store);
        Repository<Account> counted = Repository.of(Account.class, counting);

        Account then = counted.load("1", 1_200);

        assertEquals(1_200, then.version());
        assertEquals(1_201 * 1_202 / 2, then.balance);
        assertEquals(1_201, counting.eventsRead, "versions 0 to 1,200");
        assertEquals(List.of(1_000, 201), counting.asked, "a page, then what is left up to the version");
        counting.eventsRead = 0;
        assertEquals(2_499, counted.load("1").version());
        assertEquals(2_500, counting.eventsRead, "load(id) reads to the end");
    }

    @Test
    void aVersionTheStreamHasNotReachedIsRefusedNamingItsLastVersion() {
        credits("1", 3, 3);

        IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class, () -> accounts.load("1", 3));
        assertEquals("Cannot load Account-1 at version 3: its last version is 2", beyond.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> accounts.load("2", 0));
        assertEquals("Cannot load Account-2 at version 0: the stream has no events", none.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> accounts.load("1", -1));
        assertTrue(negative.getMessage().contains("version must be >= 0"), negative.getMessage());
        assertThrows(IllegalArgumentException.class, () -> accounts.load(" ", 0));
    }

    @Test
    void anOldStateIsNeverSavedOverANewerOne() {
        credits("1", 3, 3);
        Account then = accounts.load("1", 1);
        then.credit(100);

        ConcurrencyConflictException conflict = assertThrows(ConcurrencyConflictException.class, then::save);

        assertEquals(1, conflict.expectedVersion());
        assertEquals(2, conflict.actualVersion());
        assertEquals(2, store.streamVersion("Account-1"), "nothing written");
        Account latest = accounts.load("1", 2);
        latest.credit(4);
        latest.save();
        assertEquals(3, latest.version(), "loaded at the stream's latest version, it saves as load(id) would");
        assertEquals(10, accounts.load("1").balance);
    }

    @Test
    void aReaderAnsweringMoreThanAskedForStillStopsAtTheVersion() {
        credits("1", 10, 10);
        EventStore generous = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return super.readStream(streamId, fromVersion, 1_000);
            }
        };

        Account then = Repository.of(Account.class, generous).load("1", 3);

        assertEquals(3, then.version());
        assertEquals(List.of(1L, 2L, 3L, 4L), then.credits);
    }
}
