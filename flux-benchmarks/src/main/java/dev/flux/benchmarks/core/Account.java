package dev.flux.benchmarks.core;

import dev.flux.Aggregate;

/**
 * The aggregate every core benchmark uses. Its handler is package-private so that the baselines can
 * call it directly, the way hand-written code would.
 */
public class Account extends Aggregate {
    private long balance;
    private long deposits;
    private String lastReference;

    /** The one event type: about 100 bytes of JSON. */
    public record Deposited(String accountId, long amount, String currency, String reference) { }

    /** The {@code n}-th deposit of a benchmark: small variations so the JSON is not all identical. */
    static Deposited deposit(int n) {
        return new Deposited("account-" + (n % 100), 100 + n % 997, "EUR", "ref-" + n);
    }

    void handleDeposited(Deposited e) {
        balance += e.amount();
        deposits++;
        lastReference = e.reference();
    }

    long balance() {
        return balance;
    }

    long deposits() {
        return deposits;
    }

    String lastReference() {
        return lastReference;
    }
}
