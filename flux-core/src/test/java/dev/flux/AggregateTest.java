package dev.flux;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AggregateTest {

    record Opened(String owner) {}

    record Credited(long amount) {}

    record Debited(long amount) {}

    record Closed() {}

    static class Unhandled {}

    static class BaseAccount extends Aggregate {
        String owner;

        void open(String name) {
            update(new Opened(name));
        }

        @SuppressWarnings("unused")
        private void handleOpened(Opened e) {
            owner = e.owner();
        }

        protected void handleCredited(Credited e) {
            throw new AssertionError("the subclass's handler overrides this one");
        }
    }

    static class Account extends BaseAccount {
        long balance;
        int creditsHandled;

        void credit(long amount) {
            update(new Credited(amount), Map.of(Metadata.CORRELATION_ID, "c-1"));
        }

        @Override
        protected void handleCredited(Credited e) {
            balance += e.amount();
            creditsHandled++;
        }

        @SuppressWarnings("unused")
        void handleDebited(Debited e) {
            balance -= e.amount();
        }
    }

    static class Deposit {
        final long amount;

        Deposit(long amount) {
            this.amount = amount;
        }
    }

    static final class CashDeposit extends Deposit {
        CashDeposit(long amount) {
            super(amount);
        }
    }

    static final class ChequeDeposit extends Deposit {
        ChequeDeposit(long amount) {
            super(amount);
        }
    }

    static class Till extends Aggregate {
        long cash;
        long total;

        @SuppressWarnings("unused")
        private void handleDeposit(Deposit e) {
            total += e.amount;
        }

        @SuppressWarnings("unused")
        private void handleCashDeposit(Deposit e) {   // named after the subclass, taking its superclass
            cash += e.amount;
            total += e.amount;
        }
    }

    @Test
    void anEventOfASubclassGoesToTheHandlerNamedAfterItEveryTime() {
        Till till = new Till();

        till.update(new Deposit(1));
        till.update(new CashDeposit(10));
        till.update(new CashDeposit(100));
        till.update(new Deposit(1000));

        assertEquals(110, till.cash);
        assertEquals(1111, till.total);
        MissingHandlerException missing = assertThrows(MissingHandlerException.class, () -> till.update(new ChequeDeposit(5)));
        assertTrue(missing.getMessage().contains("handleChequeDeposit"), missing.getMessage());
        assertEquals(4, till.uncommittedEvents().size(), "the refused event was neither applied nor buffered");
        assertEquals(1111, till.total);
    }

    @Test
    void manyUncommittedEventsKeepTheirOrderAndMetadataInALiveReadOnlyView() {
        Account account = new Account();
        List<Object> view = account.uncommittedEvents();
        List<Object> expected = new ArrayList<>();

        for (int i = 0; i < 40; i++) {
            Object event = i % 3 == 0 ? new Debited(i) : new Credited(i);
            if (i % 3 == 0) {
                account.update(event);
            } else {
                account.update(event, Map.of(Metadata.CORRELATION_ID, "c-" + i));
            }
            expected.add(event);
        }

        assertEquals(expected, view, "a view taken before the updates shows them all, in order");
        assertEquals(expected, account.uncommittedEvents());
        for (int i = 0; i < 40; i++) {
            assertEquals(i % 3 == 0 ? Map.of() : Map.of(Metadata.CORRELATION_ID, "c-" + i), account.uncommittedMetadata(i));
        }
        assertThrows(UnsupportedOperationException.class, () -> view.add(new Debited(1)));
        assertThrows(IndexOutOfBoundsException.class, () -> view.get(40));
        assertThrows(ConcurrentModificationException.class, () -> {
            for (Object event : view) {
                account.update(new Debited(1));     // a handler of the view's events updating again
            }
        });
        expected.add(new Debited(1));
        assertEquals(expected, view);
        account.markCommitted(40);
        assertEquals(List.of(), view);
        account.update(new Debited(5));
        assertEquals(List.of(new Debited(5)), view, "the buffer is reused after a save");
    }

    @Test
    void updateAppliesThroughPrivateInheritedAndOverridingHandlers() {
        Account account = new Account();

        account.open("ana");
        account.credit(100);
        account.update(new Debited(30));

        assertEquals("ana", account.owner);
        assertEquals(70, account.balance);
        assertEquals(1, account.creditsHandled, "the overriding handler ran once");
        assertEquals(List.of(new Opened("ana"), new Credited(100), new Debited(30)), account.uncommittedEvents());
    }

    @Test
    void updateDoesNotMoveTheVersionBeforeSave() {
        Account account = new Account();

        account.credit(5);

        assertEquals(ExpectedVersion.NO_STREAM, account.version());
        assertEquals(null, account.id());
    }

    @Test
    void aMissingHandlerFailsFastNamingTheMethodAndBuffersNothing() {
        Account account = new Account();

        MissingHandlerException missing = assertThrows(MissingHandlerException.class, () -> account.update(new Closed()));

        assertTrue(missing.getMessage().contains("handleClosed(Closed event)"), missing.getMessage());
        assertTrue(missing.getMessage().contains(Account.class.getName()), missing.getMessage());
        assertEquals(List.of(), account.uncommittedEvents());
        assertThrows(MissingHandlerException.class, () -> account.update(new Unhandled()));
    }

    @Test
    void uncommittedEventsAreReadOnly() {
        Account account = new Account();
        account.credit(1);

        assertThrows(UnsupportedOperationException.class, () -> account.uncommittedEvents().clear());
    }

    @Test
    void badUpdatesAreRefused() {
        Account account = new Account();

        assertThrows(IllegalArgumentException.class, () -> account.update(null));
        assertEquals(List.of(), account.uncommittedEvents());
    }

    @Test
    void saveWithoutARepositorySaysHowToGetOne() {
        Account account = new Account();
        account.credit(1);

        IllegalStateException error = assertThrows(IllegalStateException.class, account::save);

        assertTrue(error.getMessage().contains("repository.load"), error.getMessage());
    }

    @Test
    void aHandlerExceptionPropagatesAndNothingIsBuffered() {
        class Strict extends Aggregate {
            @SuppressWarnings("unused")
            private void handleCredited(Credited e) {
                throw new IllegalStateException("no credits today");
            }
        }
        Strict strict = new Strict();

        assertThrows(IllegalStateException.class, () -> strict.update(new Credited(1)));
        assertEquals(List.of(), strict.uncommittedEvents());
    }

    record Rewarded(long points) {}

    /** A handler that records a reward for each credit by calling update: what replay would do again. */
    static class Rewarding extends Aggregate {
        long balance;
        long points;
        boolean failAfterwards;

        @SuppressWarnings("unused")
        private void handleCredited(Credited e) {
            balance += e.amount();
            update(new Rewarded(e.amount() / 10), Map.of("reason", "credit"));
            if (failAfterwards) {
                throw new IllegalArgumentException("the handler's own failure");
            }
        }

        @SuppressWarnings("unused")
        private void handleRewarded(Rewarded e) {
            points += e.points();
        }
    }

    @Test
    void anUpdateFromAHandlerIsRefusedAndNeitherEventIsBuffered() {
        Rewarding account = new Rewarding();
        account.update(new Rewarded(1), Map.of("user", "ana"));

        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> account.update(new Credited(50)));

        assertTrue(refused.getMessage().startsWith("Rewarding null: update(Rewarded) was called while the handler of"
                + " Credited ran"), refused.getMessage());
        assertTrue(refused.getMessage().endsWith("Neither event is buffered"), refused.getMessage());
        assertEquals(List.of(new Rewarded(1)), account.uncommittedEvents(), "the event buffered before stays, alone");
        assertEquals(Map.of("user", "ana"), account.uncommittedMetadata(0));
        account.update(new Rewarded(3));
        assertEquals(List.of(new Rewarded(1), new Rewarded(3)), account.uncommittedEvents(), "update works again after it");
        assertEquals(Map.of(), account.uncommittedMetadata(1));
    }

    @Test
    void aHandlerThatThrowsAfterAnUpdateLeavesNothingOfEitherBuffered() {
        Rewarding account = new Rewarding();
        account.failAfterwards = true;

        assertThrows(IllegalArgumentException.class, () -> account.update(new Credited(50), Map.of("user", "ana")));

        assertEquals(List.of(), account.uncommittedEvents());
        account.update(new Rewarded(3));
        assertEquals(List.of(new Rewarded(3)), account.uncommittedEvents());
        assertEquals(Map.of(), account.uncommittedMetadata(0), "no metadata of the dropped events left behind");
    }

    @Test
    void theHandlersEventClassesAreKnownPerClass() {
        assertEquals(java.util.Set.of(Opened.class, Credited.class, Debited.class), Handlers.of(Account.class).eventClasses());
    }
}
