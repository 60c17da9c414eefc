package dev.flux.example.account;

/** A debit asked for more than the balance. */
public final class InsufficientFundsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InsufficientFundsException(String accountId, long balance, long amount) {
        super("account " + accountId + " holds " + balance + ", cannot debit " + amount);
    }
}
