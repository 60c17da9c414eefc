package dev.flux;

/**
 * The root of every exception flux throws. Unchecked: most callers cannot recover from a storage
 * failure and should let it propagate; the subclasses mark the cases a caller reacts to differently
 * ({@link ConcurrencyConflictException}: reload and retry; {@link MissingHandlerException}: fix the
 * aggregate). Messages name the stream, version, type, file or URL involved, and the cause is kept.
 */
public class FluxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public FluxException(String message) {
        super(message);
    }

    public FluxException(String message, Throwable cause) {
        super(message, cause);
    }
}
