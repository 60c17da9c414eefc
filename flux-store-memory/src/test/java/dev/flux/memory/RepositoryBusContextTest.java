package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.bus.EventContext;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A repository built with {@code publishTo(bus)} hands each saved event's listeners the stream and version it
 * was stored at, so a listener of an event that does not name its aggregate tells which one it belongs to.
 */
class RepositoryBusContextTest {

    record Credited(long amount) {}

    static final class Account extends Aggregate {
        void credit(long amount) {
            update(new Credited(amount));
        }

        private void handleCredited(Credited e) {
        }
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final Bus bus = new Bus();
    private final Repository<Account> accounts = Repository.builder(Account.class, store).publishTo(bus).build();
    private final List<EventContext> contexts = new ArrayList<>();

    RepositoryBusContextTest() {
        bus.subscribeWithContext(Credited.class, (e, context) -> contexts.add(context));
    }

    @Test
    void eachEventOfSavesOfOneAggregateComesWithTheStreamAndVersionReadStreamReturns() {
        Account account = accounts.load("42");
        account.credit(1);
        account.credit(2);
        account.save();
        account.credit(3);
        account.credit(4);
        account.credit(5);

        account.save();

        List<RecordedEvent> stream = store.readStream("Account-42", 0, 10);
        assertEquals(5, stream.size());
        assertEquals(stream.stream().map(r -> new EventContext(r.eventId(), r.metadata(), r.streamId(), r.version())).toList(),
                contexts);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L), contexts.stream().map(EventContext::version).toList());
    }

    @Test
    void listenersTellTheSavesOfTwoAggregatesApart() {
        accounts.update("42", a -> a.credit(1));
        accounts.update("7", a -> a.credit(2));

        accounts.update("42", a -> a.credit(3));

        assertEquals(List.of("Account-42@0", "Account-7@0", "Account-42@1"),
                contexts.stream().map(c -> c.streamId() + "@" + c.version()).toList());
        assertEquals(List.of("42", "7", "42"), contexts.stream().map(EventContext::aggregateId).toList());
    }

    @Test
    void anAggregateOfACategoryOfItsOwnIsPublishedWithThatCategorysStream() {
        Repository<Account> ledgers = Repository.builder(Account.class, store).category("Ledger").publishTo(bus).build();

        ledgers.update("9", a -> a.credit(1));

        RecordedEvent stored = store.readStream("Ledger-9", 0, 1).get(0);
        assertEquals(List.of(new EventContext(stored.eventId(), stored.metadata(), "Ledger-9", 0)), contexts);
    }
}
