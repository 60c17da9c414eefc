package dev.flux.xodus;

import java.time.Duration;

/**
 * How a {@link XodusEventStore}, {@link XodusOffsetStore} or {@link XodusSnapshotStore} opens its
 * directory. Immutable; build one with {@link #builder()}, or take {@link #defaults()}.
 *
 * <pre>{@code
 * XodusOptions options = XodusOptions.builder()
 *         .cacheSize(256L << 20)            // 256 MiB of Xodus log cache
 *         .lockTimeout(Duration.ofSeconds(5))
 *         .build();
 * try (XodusEventStore store = new XodusEventStore(Path.of("data/events"), options)) { ... }
 * }</pre>
 *
 * <table>
 *   <caption>Options</caption>
 *   <tr><th>option</th><th>default</th><th>what it does</th></tr>
 *   <tr><td>{@link Builder#durableWrites durableWrites}</td><td>{@code true}</td>
 *       <td>every commit is forced to disk ({@code fdatasync}) before the callers in it return and before
 *       readers see it; off, commits reach the disk within Xodus's sync period (10 s), readers see them at
 *       once, and a machine crash can lose the last ones, never half of one</td></tr>
 *   <tr><td>{@link Builder#cacheSize cacheSize}</td><td>a quarter of the maximum heap, at least 8 MiB</td>
 *       <td>bytes of Xodus log cache for this store; reads that miss it go to the files</td></tr>
 *   <tr><td>{@link Builder#lockTimeout lockTimeout}</td><td>zero</td>
 *       <td>how long opening waits for another process (or store) to release the directory before failing</td></tr>
 *   <tr><td>{@link Builder#maxBatchEvents maxBatchEvents}</td><td>{@value #DEFAULT_MAX_BATCH_EVENTS}</td>
 *       <td>the most events the writer thread puts into one group-commit transaction; a larger single
 *       append still commits whole, alone</td></tr>
 *   <tr><td>{@link Builder#gcMinUtilization gcMinUtilization}</td><td>{@value #DEFAULT_GC_MIN_UTILIZATION}</td>
 *       <td>the percentage of live data below which Xodus's background cleaner copies a log file's live
 *       entries forward and deletes the file: higher keeps the directory smaller and writes more</td></tr>
 * </table>
 */
public final class XodusOptions {
    /** The default of {@link Builder#maxBatchEvents}. */
    public static final int DEFAULT_MAX_BATCH_EVENTS = 4_096;
    /** The default of {@link Builder#gcMinUtilization}: Xodus's own. */
    public static final int DEFAULT_GC_MIN_UTILIZATION = 50;

    /** Xodus takes the lock timeout in milliseconds, as a long. */
    private static final Duration MAX_LOCK_TIMEOUT = Duration.ofMillis(Long.MAX_VALUE);
    private static final XodusOptions DEFAULTS = new Builder().build();

    private final boolean durableWrites;
    private final long cacheSize;
    private final Duration lockTimeout;
    private final int maxBatchEvents;
    private final int gcMinUtilization;

    private XodusOptions(Builder builder) {
        this.durableWrites = builder.durableWrites;
        this.cacheSize = builder.cacheSize > 0 ? builder.cacheSize : Math.max(8L << 20, Runtime.getRuntime().maxMemory() / 4);
        this.lockTimeout = builder.lockTimeout;
        this.maxBatchEvents = builder.maxBatchEvents;
        this.gcMinUtilization = builder.gcMinUtilization;
    }

    /** Durable writes, a quarter of the maximum heap (at least 8 MiB) as cache, fail at once on a locked directory. */
    public static XodusOptions defaults() {
        return DEFAULTS;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        Builder builder = new Builder();
        builder.durableWrites = durableWrites;
        builder.cacheSize = cacheSize;
        builder.lockTimeout = lockTimeout;
        builder.maxBatchEvents = maxBatchEvents;
        builder.gcMinUtilization = gcMinUtilization;
        return builder;
    }

    /** Whether a commit is on disk before the callers in it return. */
    public boolean durableWrites() {
        return durableWrites;
    }

    /** Bytes of Xodus log cache. */
    public long cacheSize() {
        return cacheSize;
    }

    /** How long opening waits for a locked directory. */
    public Duration lockTimeout() {
        return lockTimeout;
    }

    /** The most events in one group-commit transaction. */
    public int maxBatchEvents() {
        return maxBatchEvents;
    }

    /** The percentage of live data below which Xodus's cleaner rewrites a log file. */
    public int gcMinUtilization() {
        return gcMinUtilization;
    }

    @Override
    public String toString() {
        return "XodusOptions[durableWrites=" + durableWrites + ", cacheSize=" + cacheSize + ", lockTimeout=" + lockTimeout
                + ", maxBatchEvents=" + maxBatchEvents + ", gcMinUtilization=" + gcMinUtilization + "]";
    }

    /** Builds {@link XodusOptions}. Not thread-safe; each setter checks its argument at once. */
    public static final class Builder {
        private boolean durableWrites = true;
        private long cacheSize;
        private Duration lockTimeout = Duration.ZERO;
        private int maxBatchEvents = DEFAULT_MAX_BATCH_EVENTS;
        private int gcMinUtilization = DEFAULT_GC_MIN_UTILIZATION;

        private Builder() {
        }

        /**
         * Whether every commit is forced to disk before its callers return (default {@code true}). Turn it
         * off only for data a machine crash may lose the last seconds of (a process crash alone loses nothing
         * that was acknowledged, since the operating system still holds it).
         */
        public Builder durableWrites(boolean durableWrites) {
            this.durableWrites = durableWrites;
            return this;
        }

        /**
         * Bytes of Xodus log cache (default: a quarter of the maximum heap, at least 8 MiB).
         *
         * @throws IllegalArgumentException when below 1 MiB, or not below the maximum heap (Xodus's bound)
         */
        public Builder cacheSize(long bytes) {
            if (bytes < (1L << 20)) {
                throw new IllegalArgumentException("cacheSize must be at least 1 MiB (1048576 bytes), was " + bytes);
            }
            long maxHeap = Runtime.getRuntime().maxMemory();
            if (bytes >= maxHeap) {
                throw new IllegalArgumentException("cacheSize must be below the maximum heap (" + maxHeap + " bytes; see -Xmx),"
                        + " was " + bytes);
            }
            this.cacheSize = bytes;
            return this;
        }

        /**
         * How long opening waits for the directory's lock, held by another process or another open store
         * (default zero: fail at once with a {@link dev.flux.FluxException} naming the directory). An
         * interrupt ends the wait: opening then fails with a {@code FluxException} saying it was interrupted,
         * and the thread's interrupt flag stays set.
         *
         * @throws IllegalArgumentException when null, negative, or longer than {@link Long#MAX_VALUE} milliseconds
         */
        public Builder lockTimeout(Duration timeout) {
            if (timeout == null || timeout.isNegative()) {
                throw new IllegalArgumentException("lockTimeout must be zero or positive, was " + timeout);
            }
            if (timeout.compareTo(MAX_LOCK_TIMEOUT) > 0) {
                throw new IllegalArgumentException("lockTimeout must be at most " + MAX_LOCK_TIMEOUT + " (Long.MAX_VALUE"
                        + " milliseconds), was " + timeout);
            }
            this.lockTimeout = timeout;
            return this;
        }

        /**
         * The most events the writer thread groups into one transaction (default
         * {@value XodusOptions#DEFAULT_MAX_BATCH_EVENTS}). Smaller bounds the memory of one commit;
         * larger lets more concurrent appends share one sync.
         *
         * @throws IllegalArgumentException when below 1
         */
        public Builder maxBatchEvents(int maxBatchEvents) {
            if (maxBatchEvents < 1) {
                throw new IllegalArgumentException("maxBatchEvents must be at least 1, was " + maxBatchEvents);
            }
            this.maxBatchEvents = maxBatchEvents;
            return this;
        }

        /**
         * The percentage of live data below which Xodus's background cleaner copies a log file's live
         * entries to the end of the log and deletes the file (default
         * {@value XodusOptions#DEFAULT_GC_MIN_UTILIZATION}). Every commit leaves the tree pages it replaced
         * behind as garbage, so a store that is written to keeps its cleaner busy: higher keeps the directory
         * smaller and writes more, lower the opposite. The cleaner syncs what it moved before it deletes a
         * file, durable writes or not.
         *
         * @throws IllegalArgumentException when not between 1 and 90 (Xodus's bounds)
         */
        public Builder gcMinUtilization(int percent) {
            if (percent < 1 || percent > 90) {
                throw new IllegalArgumentException("gcMinUtilization must be a percentage from 1 to 90, was " + percent);
            }
            this.gcMinUtilization = percent;
            return this;
        }

        /** The options. */
        public XodusOptions build() {
            return new XodusOptions(this);
        }
    }
}
