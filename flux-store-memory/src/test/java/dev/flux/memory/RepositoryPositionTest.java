package dev.flux.memory;

import dev.flux.Aggregate;
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

    interface ReadStream {
        List<RecordedEvent> read(String streamId, long fromVersion, int maxCount);
    }

    /** What {@link #faulty}'s reads answer once set, and the stream version it tells then. */
    private volatile ReadStream answer;
    private volatile long answeredVersion;
    private final Repository<Account> faulty = Repository.of(Account.class, new ForwardingEventStore(store) {
        @Override
        public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
            return answer == null ? super.readStream(streamId, fromVersion, maxCount)
                    : answer.read(streamId, fromVersion, maxCount);
        }

        @Override
        public long streamVersion(String streamId) {
            return answer == null ? super.streamVersion(streamId) : answeredVersion;
        }
    });

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

    /** Account 1 saved at version 1 through {@link #faulty}, whose reads answer {@code reads} from then on. */
    private Account savedThenRead(ReadStream reads, long streamVersion) {
        faulty.update("1", a -> a.credit(1));
        Account saved = faulty.update("1", a -> a.credit(2));
        answeredVersion = streamVersion;
        answer = reads;
        return saved;
    }

    @Test
    void aReadBehindTheSaveIsAnErrorNamingALaggingReplica() {
        Account saved = savedThenRead((streamId, from, max) -> List.of(), 1);

        FluxException refused = assertThrows(FluxException.class, () -> faulty.positionOf(saved));

        assertTrue(refused.getMessage().startsWith("Cannot tell the position of Account-1@1: ")
                && refused.getMessage().contains("holds Account-1 up to version 1, but its read of version 1 found nothing")
                && refused.getMessage().contains("a replica behind the writes"), refused.getMessage());
    }

    @Test
    void anEventTheStoreNoLongerHoldsIsAnErrorNamingTheReset() {
        Account saved = savedThenRead((streamId, from, max) -> List.of(), 0);
        FluxException shorter = assertThrows(FluxException.class, () -> faulty.positionOf(saved));
        answeredVersion = -1;
        FluxException gone = assertThrows(FluxException.class, () -> faulty.positionOf(saved));

        assertTrue(shorter.getMessage().startsWith("Cannot tell the position of Account-1@1: ")
                && shorter.getMessage().contains("holds Account-1 only up to version 0: the stream was reset"),
                shorter.getMessage());
        assertTrue(gone.getMessage().contains("holds no event of Account-1: the stream was reset"), gone.getMessage());
    }

    @Test
    void aReaderThatAnswersAnotherEventIsAnErrorNotThatEventsPosition() {
        accounts.update("2", a -> a.credit(3));
        accounts.update("2", a -> a.credit(4));
        Account saved = savedThenRead((streamId, from, max) -> store.readStream(streamId, 0, max), 1);
        FluxException earlier = assertThrows(FluxException.class, () -> faulty.positionOf(saved));
        answer = (streamId, from, max) -> store.readStream("Account-2", from, max);
        FluxException other = assertThrows(FluxException.class, () -> faulty.positionOf(saved));

        assertTrue(earlier.getMessage().startsWith("Cannot tell the position of Account-1@1: ")
                && earlier.getMessage().contains(" returned Credited Account-1@0 (id ")
                && earlier.getMessage().endsWith("fix the reader"), earlier.getMessage());
        assertTrue(other.getMessage().contains(" returned Credited Account-2@1 (id ")
                && other.getMessage().endsWith("fix the reader"), other.getMessage());
    }
}
