package dev.flux.example.account;

import dev.flux.Aggregate;

/**
 * The command side's aggregate: an account that is opened, credited and debited, and never goes below
 * zero. Its state is rebuilt from its events through the {@code handle...} methods.
 */
public class Account extends Aggregate {
    private String owner;
    private long balance;

    /** Opens the account for {@code owner}. */
    public void open(String owner) {
        if (isOpen()) {
            throw new IllegalStateException("account " + id() + " is already open");
        }
        if (owner == null || owner.isBlank()) {
            throw new IllegalArgumentException("owner must not be blank");
        }
        update(new AccountOpened(owner));
    }

    /**
     * Adds {@code amount}.
     *
     * @throws ArithmeticException when the balance would pass {@link Long#MAX_VALUE}
     */
    public void credit(long amount) {
        requireOpen();
        requirePositive(amount);
        if (amount > Long.MAX_VALUE - balance) {
            throw new ArithmeticException("account " + id() + " holds " + balance + ", cannot hold " + amount + " more");
        }
        update(new AccountCredited(amount));
    }

    /**
     * Takes {@code amount} out.
     *
     * @throws InsufficientFundsException when the balance is smaller
     */
    public void debit(long amount) {
        requireOpen();
        requirePositive(amount);
        if (amount > balance) {
            throw new InsufficientFundsException(id(), balance, amount);
        }
        update(new AccountDebited(amount));
    }

    public boolean isOpen() {
        return owner != null;
    }

    public String owner() {
        return owner;
    }

    public long balance() {
        return balance;
    }

    private void requireOpen() {
        if (!isOpen()) {
            throw new IllegalStateException("account " + id() + " is not open");
        }
    }

    private static void requirePositive(long amount) {
        if (amount <= 0) {
            throw new IllegalArgumentException("amount must be positive, was " + amount);
        }
    }

    private void handleAccountOpened(AccountOpened e) {
        owner = e.owner();
    }

    private void handleAccountCredited(AccountCredited e) {
        balance += e.amount();
    }

    private void handleAccountDebited(AccountDebited e) {
        balance -= e.amount();
    }
}
