package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.EventStore;
import dev.flux.FluxException;
import dev.flux.ForwardingEventStore;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code Repository.positionOf(aggregate)}: where an aggregate's last save is in the global log, to wait for. */
class RepositoryPositionTest {

    record Credited(long amount) {}

    public static class Account extends Aggregate {
        private long balance;

        void credit(long amount) {
            update(new Credited(amount));
        }

        private void handleCredited(Credited e) {
            balance += e.amount();
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final Repository<Account> accounts = Repository.of(Account.class, store);

    @AfterEach
    void close() {
        store.close();
    }

    private long storedPosition(String streamId, long version) {
        return store.readStream(streamId, version, 1).get(0).position();
    }

    @Test
    void itIsThePositionOfTheLastCommittedEventAmongOtherStreamsEvents() {
        Account one = accounts.load("1");
        assertEquals(0, accounts.positionOf(one), "no events: every subscription has passed it");
        one.credit(1);
        one.credit(2);
        one.save();
        accounts.update("2", a -> a.credit(3));
        Account other = accounts.update("2", a -> a.credit(4));

        assertEquals(storedPosition("Account-1", 1), accounts.positionOf(one));
        assertEquals(2, accounts.positionOf(one));
        assertEquals(storedPosition("Account-2", 1), accounts.positionOf(other));
        assertEquals(4, accounts.positionOf(other));

        Account loaded = accounts.load("1");
        loaded.credit(5);
        assertEquals(2, accounts.positionOf(loaded), "the last committed event's, not an uncommitted one's");
        assertEquals(2, accounts.positionOf(accounts.load("1", 1)));
        assertEquals(1, accounts.positionOf(accounts.load("1", 0)));
    }

    @Test
    void aReadModelThatPassedItHasSeenTheSave() throws Exception {
        Map<String, Long> balances = new ConcurrentHashMap<>();
        try (Subscription model = Subscription.builder(EventSource.category(store, "Account"))
                .pollInterval(Duration.ofMinutes(1))
                .onRecorded(Credited.class, (e, recorded) -> balances.merge(recorded.streamId(), e.amount(), Long::sum))
                .start()) {
            for (int i = 1; i <= 20; i++) {
                long amount = i;
                Account saved = accounts.update(Integer.toString(i % 3), a -> a.credit(amount));

                assertTrue(model.awaitPosition(accounts.positionOf(saved), Duration.ofSeconds(20)), "save " + i);
                assertEquals(saved.balance, balances.get(accounts.streamId(saved.id())), "save " + i);
            }
        }
    }

    @Test
    void anAggregateItCannotAnswerForIsRefusedNamingWhy() {
        assertEquals("aggregate must not be null",
                assertThrows(IllegalArgumentException.class, () -> accounts.positionOf(null)).getMessage());
        IllegalArgumentException made = assertThrows(IllegalArgumentException.class, () -> accounts.positionOf(new Account()));
        assertTrue(made.getMessage().endsWith("get it with repository.load(id) before asking its position"), made.getMessage());

        Repository<Account> ledgers = Repository.builder(Account.class, store).category("Ledger").build();
        ledgers.update("1", a -> a.credit(1));
        IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class,
                () -> accounts.positionOf(ledgers.load("1")));
        assertTrue(foreign.getMessage().contains("Ledger-1") && foreign.getMessage().contains("Account-1")
                && foreign.getMessage().endsWith("Ask through the repository that loaded it"), foreign.getMessage());
    }

    @Test
    void anEventTheStoreNoLongerHoldsIsAnErrorNotAPosition() {
        accounts.update("1", a -> a.credit(1));
        EventStore forgetful = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return fromVersion == 0 ? super.readStream(streamId, fromVersion, maxCount) : List.of();
            }
        };
        Repository<Account> reset = Repository.of(Account.class, forgetful);
        Account stale = reset.load("1");
        stale.credit(2);
        stale.save();       // at version 1, which the store now answers no reads of

        FluxException refused = assertThrows(FluxException.class, () -> reset.positionOf(stale));

        assertTrue(refused.getMessage().startsWith("Cannot tell the position of Account-1@1: ")
                && refused.getMessage().contains("holds no event at that version"), refused.getMessage());
    }
}
