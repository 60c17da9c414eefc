package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.EventStore;
import dev.flux.Repository;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The README's quickstart, verbatim, so the README stays true. */
class QuickstartTest {

    record AccountCredited(long amount) {}

    public static class Account extends Aggregate {
        private long balance;

        public void credit(long amount) {
            if (amount <= 0) throw new IllegalArgumentException("amount must be positive");
            update(new AccountCredited(amount));
        }

        public long balance() { return balance; }

        private void handleAccountCredited(AccountCredited e) { balance += e.amount(); }
    }

    @Test
    void theReadmeQuickstartWorks() {
        try (EventStore store = new InMemoryEventStore()) {
            Repository<Account> accounts = Repository.of(Account.class, store);
            Account acc = accounts.load("42");       // replays stream "Account-42"; version -1 if new
            acc.credit(100);
            acc.credit(150);
            acc.save();                              // ConcurrencyConflictException if someone saved first
            accounts.update("42", a -> a.credit(5)); // load, act, save; retried on conflict

            assertEquals(255, accounts.load("42").balance());
            assertEquals(2, accounts.load("42").version());
        }
    }
}
