package dev.flux;

/**
 * The version a writer expects a stream to be at when it appends, for optimistic concurrency.
 * An expected version is either an exact stream version (0-based: the version of the stream's last
 * event) or one of the constants here.
 */
public final class ExpectedVersion {
    /** The stream must have no events yet. Equal to -1, the version of a new aggregate. */
    public static final long NO_STREAM = -1L;
    /** No check at all: append whatever version the stream is at. */
    public static final long ANY = -2L;

    private ExpectedVersion() {
    }

    /**
     * Whether a stream at {@code actualVersion} satisfies {@code expectedVersion}.
     *
     * @param expectedVersion an exact version, {@link #NO_STREAM} or {@link #ANY}
     * @param actualVersion   the stream's version, {@link #NO_STREAM} when it has no events
     */
    public static boolean matches(long expectedVersion, long actualVersion) {
        return expectedVersion == ANY || expectedVersion == actualVersion;
    }

    /**
     * Checks an expected version argument.
     *
     * @throws IllegalArgumentException when it is below {@link #ANY}
     */
    public static long requireValid(long expectedVersion) {
        if (expectedVersion < ANY) {
            throw new IllegalArgumentException("expectedVersion must be a version >= 0, NO_STREAM (-1) or ANY (-2), was "
                    + expectedVersion);
        }
        return expectedVersion;
    }

    /**
     * Checks a stream's version against the expectation.
     *
     * @throws ConcurrencyConflictException when they do not match
     * @throws IllegalArgumentException     when the stream id is null or blank, the expected version is
     *                                      below {@link #ANY}, or the actual version below {@link #NO_STREAM}
     */
    public static void check(String streamId, long expectedVersion, long actualVersion) {
        StreamName.requirePresent(streamId);
        requireValid(expectedVersion);
        if (actualVersion < NO_STREAM) {
            throw new IllegalArgumentException("actualVersion of stream '" + streamId
                    + "' must be a version >= 0 or NO_STREAM (-1), was " + actualVersion);
        }
        if (!matches(expectedVersion, actualVersion)) {
            throw new ConcurrencyConflictException(streamId, expectedVersion, actualVersion);
        }
    }

    static String describe(long version) {
        if (version == NO_STREAM) {
            return "no stream (version -1)";
        }
        if (version == ANY) {
            return "any version";
        }
        return "version " + version;
    }
}
