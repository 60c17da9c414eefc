package dev.flux.example.account;

/** An account was opened for {@code owner}. */
public record AccountOpened(String owner) {
}
