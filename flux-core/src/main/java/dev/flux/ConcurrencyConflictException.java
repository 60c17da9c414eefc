package dev.flux;

/**
 * Another writer appended to the stream after this writer read it: the append expected the stream
 * at {@link #expectedVersion()} but found it at {@link #actualVersion()}. Nothing of the rejected
 * append was written. The usual reaction is to reload the aggregate and run the command again,
 * which {@link Repository#update(String, java.util.function.Consumer)} does.
 */
public class ConcurrencyConflictException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final String streamId;
    private final long expectedVersion;
    private final long actualVersion;

    public ConcurrencyConflictException(String streamId, long expectedVersion, long actualVersion) {
        super("Concurrency conflict on stream '" + streamId + "': " + versions(expectedVersion, actualVersion)
                + "; nothing was written, reload and retry");
        this.streamId = streamId;
        this.expectedVersion = expectedVersion;
        this.actualVersion = actualVersion;
    }

    /**
     * The conflict {@code last} with another message, for a caller that ran into it and knows more (that it
     * retried, say); {@code last} is its cause.
     */
    ConcurrencyConflictException(String message, ConcurrencyConflictException last) {
        super(message, last);
        this.streamId = last.streamId;
        this.expectedVersion = last.expectedVersion;
        this.actualVersion = last.actualVersion;
    }

    /** "expected ... but the stream is at ...": the versions of this conflict, for messages about it. */
    String versions() {
        return versions(expectedVersion, actualVersion);
    }

    private static String versions(long expectedVersion, long actualVersion) {
        return "expected " + ExpectedVersion.describe(expectedVersion) + " but the stream is at "
                + ExpectedVersion.describe(actualVersion);
    }

    /** The stream the append was for. */
    public String streamId() {
        return streamId;
    }

    /** The version the writer expected: an exact version, {@link ExpectedVersion#NO_STREAM}, or another {@link ExpectedVersion} value. */
    public long expectedVersion() {
        return expectedVersion;
    }

    /** The version the stream was at when the append was refused; {@link ExpectedVersion#NO_STREAM} when it had no events. */
    public long actualVersion() {
        return actualVersion;
    }
}
