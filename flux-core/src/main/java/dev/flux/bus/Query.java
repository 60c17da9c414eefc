package dev.flux.bus;

/**
 * A message that asks for an answer of type {@code R}: a command whose handler returns a result.
 * Implement it on a record and {@link Bus#ask} it.
 *
 * @param <R> the type of the answer
 */
public interface Query<R> {
}
