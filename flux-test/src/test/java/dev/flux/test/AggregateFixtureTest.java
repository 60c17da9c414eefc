package dev.flux.test;

import dev.flux.Aggregate;
import dev.flux.RecordedEvent;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AggregateFixtureTest {

    record Opened(String owner) {}

    record Debited(long amount) {}

    static final class InsufficientFunds extends RuntimeException {
        InsufficientFunds(long balance) {
            super("balance is only " + balance);
        }
    }

    /** A plain event class without equals: compared by its JSON. */
    static final class Credited {
        private long amount;

        @SuppressWarnings("unused")
        private Credited() {
        }

        Credited(long amount) {
            this.amount = amount;
        }
    }

    /** An event whose own equals sees a field JSON leaves out: it does not survive serialization. */
    static final class Noted {
        public long amount;
        public transient String note;

        @SuppressWarnings("unused")
        private Noted() {
        }

        Noted(long amount, String note) {
            this.amount = amount;
            this.note = note;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Noted other && other.amount == amount && java.util.Objects.equals(other.note, note);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(amount);
        }

        @Override
        public String toString() {
            return "Noted(" + amount + ", " + note + ")";
        }
    }

    record Closed(String accountId) {}

    static class Account extends Aggregate {
        long balance;

        void open(String owner) {
            update(new Opened(owner));
        }

        void debit(long amount) {
            if (amount > balance) {
                throw new InsufficientFunds(balance);
            }
            update(new Debited(amount));
        }

        void close() {
            update(new Closed(id()));
        }

        @SuppressWarnings("unused")
        private void handleOpened(Opened e) {
        }

        @SuppressWarnings("unused")
        private void handleNoted(Noted e) {
        }

        @SuppressWarnings("unused")
        private void handleClosed(Closed e) {
        }

        @SuppressWarnings("unused")
        private void handleCredited(Credited e) {
            balance += e.amount;
        }

        @SuppressWarnings("unused")
        private void handleDebited(Debited e) {
            balance -= e.amount();
        }
    }

    @Test
    void givenEventsAreReplayedAndTheCommandsEventsChecked() {
        AggregateFixture.of(Account.class)
                .given(new Opened("ana"), new Credited(100))
                .when(account -> account.debit(30))
                .expectEvents(new Debited(30))
                .expectState(account -> {
                    assertEquals(70, account.balance);
                    assertEquals(2, account.version());
                });
    }

    @Test
    void plainEventClassesCompareByTheirJson() {
        AggregateFixture.of(Account.class)
                .when(account -> account.update(new Credited(5)))
                .expectEvents(new Credited(5));
    }

    @Test
    void theRecordedEventsShowTheMetadataTypesAndVersionsTheCommandSaved() {
        List<RecordedEvent> recorded = AggregateFixture.of(Account.class)
                .given(new Opened("ana"))
                .when(account -> {
                    account.update(new Credited(5), Map.of("correlation_id", "c-1"));
                    account.debit(3);
                })
                .expectEvents(new Credited(5), new Debited(3))
                .recordedEvents();

        assertEquals(List.of("Credited", "Debited"), recorded.stream().map(RecordedEvent::type).toList());
        assertEquals(List.of(1L, 2L), recorded.stream().map(RecordedEvent::version).toList());
        assertEquals(Map.of("correlation_id", "c-1"), recorded.get(0).metadata());
        assertEquals(Map.of(), recorded.get(1).metadata());
        AssertionError threw = assertThrows(AssertionError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.debit(30)).recordedEvents());
        assertTrue(threw.getMessage().contains("the command threw"), threw.getMessage());
    }

    @Test
    void anExpectedExceptionIsReturnedForFurtherChecks() {
        InsufficientFunds error = AggregateFixture.of(Account.class)
                .given(new Credited(10))
                .when(account -> account.debit(30))
                .expectException(InsufficientFunds.class);

        assertTrue(error.getMessage().contains("10"));
    }

    @Test
    void wrongExpectationsFailTheTest() {
        assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .given(new Credited(100))
                .when(account -> account.debit(30))
                .expectEvents(new Debited(31)));
        assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.open("ana"))
                .expectNoEvents());
        assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.debit(1))
                .expectEvents());
        assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.open("ana"))
                .expectException(InsufficientFunds.class));
    }

    @Test
    void aFailureShowsEventsWithoutToStringAsTheirJson() {
        AssertionFailedError wrongEvents = assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.update(new Credited(5)))
                .expectEvents(new Credited(6)));
        AssertionFailedError noException = assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.update(new Credited(5)))
                .expectException(InsufficientFunds.class));

        assertTrue(wrongEvents.getMessage().contains("expected: [Credited{\"amount\":6}]")
                && wrongEvents.getMessage().contains("actual: [Credited{\"amount\":5}]"), wrongEvents.getMessage());
        assertTrue(noException.getMessage().contains("applied [Credited{\"amount\":5}]"), noException.getMessage());
    }

    @Test
    void anotherExceptionThanExpectedFailsShowingWhatWasThrownAndWhere() {
        InsufficientFunds thrown = new InsufficientFunds(0);

        AssertionFailedError failure = assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> { throw thrown; })
                .expectException(IllegalStateException.class));

        assertTrue(failure.getMessage().contains(IllegalStateException.class.getName())
                && failure.getMessage().contains("balance is only 0"), failure.getMessage());
        assertSame(thrown, failure.getCause(), "the thrown exception, with its stack trace, is the failure's cause");
    }

    @Test
    void anAppliedEventThatDoesNotSurviveJsonFailsShowingItAsAppliedAndAsReadBack() {
        AssertionFailedError failure = assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .when(account -> account.update(new Noted(5, "kept only in memory")))
                .expectEvents(new Noted(5, "kept only in memory")));

        assertTrue(failure.getMessage().contains("as applied and as read back")
                && failure.getMessage().contains("Noted(5, kept only in memory)")
                && failure.getMessage().contains("Noted(5, null)"), failure.getMessage());
    }

    @Test
    void aGivenEventThatDoesNotSurviveJsonFailsShowingItAsWrittenAndAsReadBack() {
        AssertionFailedError failure = assertThrows(AssertionFailedError.class, () -> AggregateFixture.of(Account.class)
                .given(new Opened("ana"), new Noted(5, "kept only in memory"))
                .when(account -> account.open("bo")));

        assertTrue(failure.getMessage().contains("given events as written and as read back")
                && failure.getMessage().contains("Noted(5, kept only in memory)")
                && failure.getMessage().contains("Noted(5, null)"), failure.getMessage());
    }

    @Test
    void withIdSetsTheIdOfTheAggregateTheCommandRunsOn() {
        AggregateFixture.of(Account.class)
                .withId("42")
                .given(new Opened("ana"))
                .when(Account::close)
                .expectEvents(new Closed("42"))
                .expectState(account -> assertEquals("42", account.id()));
        AggregateFixture.of(Account.class)
                .when(Account::close)
                .expectEvents(new Closed("test"));
    }

    @Test
    void withIdRefusesANullOrBlankIdNamingIt() {
        IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
                () -> AggregateFixture.of(Account.class).withId(" "));
        assertThrows(IllegalArgumentException.class, () -> AggregateFixture.of(Account.class).withId(null));

        assertTrue(blank.getMessage().contains("id") && blank.getMessage().contains("' '"), blank.getMessage());
    }
}
