package dev.flux.example.account;

/** Money came in. */
public record AccountCredited(long amount) {
}
