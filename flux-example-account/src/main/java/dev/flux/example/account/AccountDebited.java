package dev.flux.example.account;

/** Money went out. */
public record AccountDebited(long amount) {
}
